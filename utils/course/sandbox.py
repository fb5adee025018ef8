"""Start a grading kernel as untrusted code: no network, capped memory, only its own folders.

nbgrader starts kernels from a kernelspec whose argv begins with this module
(``kernelspec``), so the student's code runs in a kernel that

- has no network: a new network namespace with no interface up (``unshare --net``); the kernel
  talks to nbgrader over Unix sockets (``KernelManager.transport = "ipc"``);
- cannot see the folders named in ``CNN_SANDBOX_HIDE`` (other submissions, gradebooks, the
  source notebooks with solutions and hidden tests): each is covered by an empty tmpfs in a
  new mount namespace, except the folders named in ``CNN_SANDBOX_KEEP`` (its own working folder
  and its connection files), which are mounted back;
- is capped at ``CNN_SANDBOX_MEMORY_MB`` of address space and 200 MB per written file;
- runs in its own PID namespace, so every process it starts dies with it, and is killed after
  ``CNN_SANDBOX_WALL_S`` seconds (the per-notebook limit): a file ``timeout-<student>`` in the
  first ``CNN_SANDBOX_KEEP`` folder then says so.

The namespaces are made with an unprivileged user namespace (``unshare --user
--map-root-user``); ``available()`` says whether this machine allows it. The process nbgrader
starts is a small supervisor: it passes interrupts on to the kernel and enforces the wall time.
"""

from __future__ import annotations

import ctypes
import json
import os
import resource
import signal
import subprocess
import sys
from pathlib import Path

HIDE_ENV, KEEP_ENV, MEMORY_ENV = "CNN_SANDBOX_HIDE", "CNN_SANDBOX_KEEP", "CNN_SANDBOX_MEMORY_MB"
WALL_ENV = "CNN_SANDBOX_WALL_S"
PR_SET_PDEATHSIG = 1
KERNEL_NAME = "cnn-course-sandbox"
MAX_FILE_BYTES = 200 * 2 ** 20
UNSHARE = ["unshare", "--user", "--map-root-user", "--net", "--mount", "--pid", "--fork",
           "--kill-child"]


def available() -> bool:
    """Whether this machine lets an unprivileged process make the namespaces."""
    try:
        return subprocess.run([*UNSHARE, "true"], capture_output=True, timeout=30).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def kernelspec(folder: Path) -> Path:
    """Write the sandboxed Python kernelspec under ``folder``/kernels/ (put ``folder`` on
    JUPYTER_PATH); return the kernelspec's folder."""
    spec = folder / "kernels" / KERNEL_NAME
    spec.mkdir(parents=True, exist_ok=True)
    argv = [sys.executable, "-m", "utils.course.sandbox", "--",
            sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    (spec / "kernel.json").write_text(json.dumps(
        {"argv": argv, "display_name": "Python 3 (grading sandbox)", "language": "python"}))
    return spec


def _paths(variable: str) -> list[str]:
    return [p for p in os.environ.get(variable, "").split(os.pathsep) if p]


def _mount(*args: str) -> None:
    subprocess.run(["mount", *args], check=True)


def _inside(argv: list[str]) -> None:
    """In the new namespaces: hide, keep, cap, then become the kernel."""
    keep = [os.path.realpath(p) for p in _paths(KEEP_ENV) + [os.getcwd()]]
    handles = [os.open(path, os.O_RDONLY | os.O_DIRECTORY) for path in keep]
    for path in _paths(HIDE_ENV):
        if os.path.isdir(path):
            _mount("-t", "tmpfs", "-o", "size=1m,mode=755", "tmpfs", os.path.realpath(path))
    for path, handle in zip(keep, handles):  # mount the kept folders back through open handles
        os.makedirs(path, exist_ok=True)
        # --no-canonicalize: mount must not resolve the handle's path to the (now hidden) name
        subprocess.run(["mount", "--no-canonicalize", "--bind",
                        f"/proc/self/fd/{handle}", path], check=True, pass_fds=(handle,))
        os.close(handle)
    memory_mb = int(os.environ.get(MEMORY_ENV, "0"))
    if memory_mb:
        limit = memory_mb * 2 ** 20
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    resource.setrlimit(resource.RLIMIT_FSIZE, (MAX_FILE_BYTES, MAX_FILE_BYTES))
    os.chdir(keep[-1])
    os.execvp(argv[0], argv)


def _die_with_parent() -> None:
    """In the child: be killed when the supervisor dies, and leave interrupts to the kernel."""
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # unshare ignores it; the kernel sets its own


def _supervise(argv: list[str]) -> int:
    """Run the sandboxed kernel; forward SIGINT/SIGTERM; kill it after the wall time."""
    child = subprocess.Popen([*UNSHARE, sys.executable, "-m", "utils.course.sandbox", "--inside",
                              "--", *argv], preexec_fn=_die_with_parent, start_new_session=True)
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda number, _: os.killpg(child.pid, number))
    wall = float(os.environ.get(WALL_ENV, "0")) or None
    try:
        return child.wait(timeout=wall)
    except subprocess.TimeoutExpired:
        keep = _paths(KEEP_ENV)
        if keep:
            student = Path(os.getcwd()).parent.name
            Path(keep[0], f"timeout-{student}").write_text(f"killed after {wall:g} s\n")
        os.killpg(child.pid, signal.SIGKILL)
        return child.wait()


def main(args: list[str]) -> None:
    argv = args[args.index("--") + 1:]
    if args[:1] == ["--inside"]:
        _inside(argv)
    sys.exit(_supervise(argv))


if __name__ == "__main__":
    main(sys.argv[1:])
