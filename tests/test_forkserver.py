"""The fork server (course/grading/forkserver.py): kernels that start with TensorFlow imported
are sandboxed exactly as the others, inherit nothing of the grader, and end with their client."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from course import assignments
from course.grading import sandbox
from course.grading.forkserver import ForkServer, _served_here
from course.grading.limits import Limits
from course.grading.worker import kernel_environment

MISSING = sandbox.check()
pytestmark = pytest.mark.skipif(bool(MISSING), reason="; ".join(MISSING))

REPORT = """
import json, os, sys
fds = {}
for fd in os.listdir("/proc/self/fd"):
    try:
        fds[fd] = os.readlink(f"/proc/self/fd/{fd}")
    except OSError:
        pass
status = dict(line.split(":\\t", 1) for line in open("/proc/self/status").read().splitlines()
              if ":\\t" in line)
print(json.dumps({
    "preloaded": "tensorflow" in sys.modules,
    "grader": sorted(m for m in sys.modules if m == "course" or m.startswith("course.")),
    "uid": os.getuid(), "no_new_privs": status["NoNewPrivs"].strip(),
    "home": os.environ["HOME"], "cwd": os.getcwd(), "sees_server": os.path.exists(SERVER),
    "fds": fds, "random": __import__("numpy").random.rand(),
}))
"""


@pytest.fixture(scope="module")
def server():
    """A fork server with the environment of a grading kernel of a TensorFlow assignment."""
    fork_server = ForkServer(kernel_environment(Limits()), ("tensorflow", "keras"))
    yield fork_server
    fork_server.stop()


class Kernel:
    """A sandboxed kernel started through ``socket`` (or directly when it is None)."""

    def __init__(self, folder: Path, socket: Path | None, memory_mb: int = 3072,
                 disk_mb: int = 512, readonly: tuple[str, ...] = ()):
        from jupyter_client import KernelManager
        from jupyter_client.kernelspec import KernelSpecManager

        self.folders = {n: folder / n for n in ("cwd", "runtime", "markers")}
        for path in self.folders.values():
            path.mkdir(parents=True)
        self.settings = sandbox.Settings(
            name="student", runtime=str(self.folders["runtime"]),
            markers=str(self.folders["markers"]), memory_mb=memory_mb, disk_mb=disk_mb,
            readonly=list(readonly), env=kernel_environment(Limits()))
        self.settings.write(folder / "settings.json")
        sandbox.kernelspec(folder / "jupyter", folder / "settings.json", socket)
        self.manager = KernelManager(
            kernel_name=sandbox.KERNEL_NAME, transport="ipc",
            ip=str(self.folders["runtime"] / "k"),
            kernel_spec_manager=KernelSpecManager(kernel_dirs=[str(folder / "jupyter/kernels")]))
        self.manager.start_kernel(cwd=str(self.folders["cwd"]))
        self.client = self.manager.client()
        self.client.start_channels()
        self.client.wait_for_ready(timeout=120)

    def run(self, code: str, timeout: float = 60) -> tuple[str, dict]:
        """(stdout, the execute reply's content)."""
        shown = []
        reply = self.client.execute_interactive(
            code, timeout=timeout, output_hook=lambda m: shown.append(m["content"].get("text", "")))
        return "".join(shown), reply["content"]

    def report(self, server_socket: Path) -> dict:
        import json

        text, reply = self.run(f"SERVER = {str(server_socket)!r}\n" + REPORT)
        assert reply["status"] == "ok", reply
        return json.loads(text.strip().splitlines()[-1])

    def close(self) -> None:
        self.client.stop_channels()
        self.manager.shutdown_kernel(now=True)


def _socket_inodes(pid: int) -> set[str]:
    inodes = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if target.startswith("socket:"):
            inodes.add(target)
    return inodes


def _children(pid: int) -> list[int]:
    return [int(c) for task in os.listdir(f"/proc/{pid}/task")
            for c in open(f"/proc/{pid}/task/{task}/children").read().split()]


def test_a_kernel_from_the_fork_server_is_sandboxed_and_inherits_nothing(server, tmp_path):
    kernel = Kernel(tmp_path / "a", server.socket)
    other = Kernel(tmp_path / "b", server.socket)
    try:
        supervisors = _children(server.process.pid)
        assert len(supervisors) == 2, "each kernel has a supervisor forked by the server"
        grader_sockets = _socket_inodes(server.process.pid).union(
            *(_socket_inodes(pid) for pid in supervisors))
        seen = kernel.report(server.socket)
        assert seen["preloaded"], "the kernel did not start from the server's memory"
        assert seen["grader"] == []
        assert seen["uid"] == sandbox.SANDBOX_UID and seen["no_new_privs"] == "1"
        assert seen["home"] == seen["cwd"] == str(kernel.folders["cwd"])
        assert seen["sees_server"] is False
        leaked = grader_sockets & set(seen["fds"].values())
        assert not leaked, f"the kernel holds the grader's sockets: {leaked}"
        assert seen["random"] != other.report(server.socket)["random"], \
            "two kernels drew the same numbers: numpy's generator was not seeded again"
    finally:
        kernel.close()
        other.close()


LEAK_CHECK = """
import gc, json, os, sys
name = "CNN_COURSE_" + "TEST_CANARY"
# every container reachable from the frames of every thread (dicts of strings alone are not
# tracked by the garbage collector) and every object the collector tracks
todo = gc.get_objects()
for frame in sys._current_frames().values():
    while frame is not None:
        todo.append(frame.f_locals)
        frame = frame.f_back
seen, holders = set(), 0
while todo and len(seen) < 2_000_000:
    item = todo.pop()
    if id(item) in seen or not isinstance(item, (dict, list, tuple, set, frozenset)):
        continue
    seen.add(id(item))
    if isinstance(item, dict):
        holders += name in item
        todo.extend(item.values())
    else:
        todo.extend(item)
print(json.dumps([holders, name in os.environ]))
"""


def test_the_workers_environment_stays_out_of_the_kernels_memory(server, tmp_path,
                                                                   monkeypatch):
    import json

    monkeypatch.setenv("CNN_COURSE_TEST_CANARY", "a secret of the instructor's shell")
    kernel = Kernel(tmp_path / "k", server.socket)  # its client inherits this environment
    try:
        text, reply = kernel.run(LEAK_CHECK)
        assert reply["status"] == "ok", reply
        assert json.loads(text.strip().splitlines()[-1]) == [0, False]
        assert kernel.report(server.socket)["preloaded"]
    finally:
        kernel.close()


def test_interrupt_reaches_the_kernel_and_a_killed_client_ends_the_sandbox(server, tmp_path):
    kernel = Kernel(tmp_path / "k", server.socket)
    try:
        [supervisor] = _children(server.process.pid)
        sleeping = kernel.client.execute("import time; time.sleep(60)")
        time.sleep(1)
        kernel.manager.interrupt_kernel()
        reply = kernel.client.get_shell_msg(timeout=10)
        while reply["parent_header"].get("msg_id") != sleeping:
            reply = kernel.client.get_shell_msg(timeout=10)
        assert reply["content"].get("ename") == "KeyboardInterrupt", reply["content"]
    finally:
        kernel.client.stop_channels()
        kernel.manager.shutdown_kernel(now=True)  # SIGKILL to the client, nothing else
    deadline = time.monotonic() + 10
    while supervisor in _children(server.process.pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert supervisor not in _children(server.process.pid), "the sandbox outlived its client"


def test_the_limits_hold_in_a_kernel_from_the_fork_server(server, tmp_path):
    kernel = Kernel(tmp_path / "m", server.socket, memory_mb=1024, disk_mb=64)
    try:
        assert kernel.report(server.socket)["preloaded"]
        # six processes of 250 MiB: each under its address-space limit, together over the
        # cgroup's 1 GiB + 64 MiB
        kernel.client.execute("import os, time\nfor _ in range(6):\n    if os.fork() == 0:\n"
                              "        block = b'x' * (250 * 2 ** 20); time.sleep(60)\n"
                              "time.sleep(60)")
        deadline = time.monotonic() + 30
        while kernel.manager.is_alive() and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not kernel.manager.is_alive()
    finally:
        kernel.close()
    assert "memory" in [hit.limit for hit in sandbox.limits_hit(kernel.settings)]
    assert sandbox.cpu_seconds(kernel.settings) > 0


def test_without_a_server_the_kernel_starts_the_usual_way(tmp_path):
    kernel = Kernel(tmp_path / "k", tmp_path / "no-server")
    try:
        seen = kernel.report(tmp_path / "no-server")
        assert seen["preloaded"] is False and seen["uid"] == sandbox.SANDBOX_UID
    finally:
        kernel.close()


def test_only_a_kernel_of_the_servers_environment_runs_in_its_memory(tmp_path):
    env = kernel_environment(Limits())
    server_env = {**env, "HOME": "/server"}
    settings = sandbox.Settings(name="s", runtime=str(tmp_path), markers=str(tmp_path), env=env)
    request = {"command": [sys.executable, "-m", "ipykernel_launcher", "-f", "c.json"],
               "cwd": str(tmp_path), "environ": {"NBGRADER_EXECUTION": "autograde"}}
    assert _served_here(settings, request, server_env)
    assert not _served_here(settings, {**request, "command": ["python", "-c", "1"]}, server_env)
    threads = sandbox.Settings(**{**settings.__dict__,
                                  "env": kernel_environment(Limits(threads=2))})
    assert not _served_here(threads, request, server_env)
    assert not _served_here(settings, request, {**server_env, "PYTHONHASHSEED": "0"})


@pytest.mark.parametrize("through_server", [True, False])
def test_a_launcher_whose_kernel_manager_died_before_it_started_starts_nothing(
        server, tmp_path, through_server):
    """A grading worker killed while its kernel's launcher starts (before the launcher armed its
    death signal) would leave the launcher to init, and the kernel it started running forever:
    the launcher ends at once when its parent is no longer the kernel manager named in its
    kernelspec (``--parent``)."""
    import subprocess

    folders = {n: tmp_path / n for n in ("cwd", "runtime", "markers")}
    for path in folders.values():
        path.mkdir()
    settings = sandbox.Settings(name="s", runtime=str(folders["runtime"]),
                                markers=str(folders["markers"]), env=kernel_environment(Limits()))
    settings.write(tmp_path / "settings.json")
    dead = subprocess.Popen([sys.executable, "-c", ""])
    dead.wait()  # a kernel manager that has died: its pid is no one's parent
    launcher = (["-m", "course.grading.forkserver", "connect", "--socket", str(server.socket)]
                if through_server else ["-m", "course.grading.sandbox"])
    command = [sys.executable, *launcher, "--settings", str(tmp_path / "settings.json"),
               "--parent", str(dead.pid), "--", sys.executable, "-c", "raise SystemExit(3)"]
    orphan = subprocess.run(command, capture_output=True, timeout=120, cwd=folders["cwd"])
    assert orphan.returncode == 128 + 9, orphan  # ended before it ran the command
    command[command.index("--parent") + 1] = str(os.getpid())
    started = subprocess.run(command, capture_output=True, timeout=120, cwd=folders["cwd"])
    assert started.returncode == 3, started  # the same command, from its kernel manager: it ran


def test_the_servers_import_only_the_libraries_an_assignment_uses():
    """A numpy assignment's kernels (and its reference children) do not wait for TensorFlow to
    be imported; a TensorFlow assignment's find it imported. The libraries are read from the
    imports cell and the course's helpers it imports, without importing anything (in a fresh
    interpreter: this one has imported TensorFlow already)."""
    code = ("import json, sys, nbformat\n"
            "from course.grading.forkserver import LIBRARIES, libraries_used\n"
            "cells = nbformat.read(sys.argv[1], as_version=4).cells\n"
            "used = libraries_used(next(c.source for c in cells if c.cell_type == 'code'))\n"
            "print(json.dumps([used, [n for n in LIBRARIES if n in sys.modules]]))\n")
    used = {}
    for a in (assignments.get("C4W1A1_conv_step_by_step"),
              assignments.get("C4W3A1_car_detection")):
        used[a.id], imported = json.loads(subprocess.run(
            [sys.executable, "-c", code, str(a.source_notebook)], capture_output=True,
            text=True, check=True).stdout)
        assert imported == [], f"finding {a.id}'s libraries imported {imported}"
    assert "matplotlib.pyplot" in used["C4W1A1_conv_step_by_step"]
    assert "tensorflow" not in used["C4W1A1_conv_step_by_step"]
    assert {"tensorflow", "keras", "matplotlib.pyplot"} <= set(used["C4W3A1_car_detection"])


def test_a_shared_server_is_used_while_it_lives_and_never_stopped_by_its_users(tmp_path):
    """The fork server grade-class starts for its local cluster's workers: a worker sees it
    through its description (socket, environment, libraries), uses it while it lives, lets
    go of it without stopping it, and starts its own once it died (``serving``)."""
    from course.grading.forkserver import SharedForkServer, serving

    env = kernel_environment(Limits())
    own = ForkServer(env)
    try:
        shared = SharedForkServer(own.description())
        assert (shared.socket, shared.env, shared.libraries) == (own.socket, env, ())
        assert shared.alive()
        assert serving(shared, env, ()) is shared
        shared.stop()
        assert own.alive(), "a user of a shared server stopped it"
        shared = SharedForkServer(own.description())
        own.process.kill()
        own.process.wait()
        assert not shared.alive()
        replacement = serving(shared, env, ())
        try:
            assert isinstance(replacement, ForkServer) and replacement.alive()
        finally:
            replacement.stop()
    finally:
        own.stop()


def _request(path: Path, message: bytes, fds: list[int]) -> bytes:
    """What the server at ``path`` answers first to ``message`` sent with ``fds``."""
    import socket

    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as client:
        client.settimeout(30)
        client.connect(str(path))
        socket.send_fds(client, [message], fds)
        return client.makefile("rb").readline()


def test_the_server_forks_reference_children_and_refuses_anything_else(server):
    """A reference child's request comes without file descriptors and gets a child named
    ``CHILD_NAME`` that dies with its connection; a request that is neither a kernel's nor a
    reference child's, or that carries the wrong file descriptors, starts nothing, and the
    server serves on."""
    import socket

    from course.grading.forkserver import REFERENCE
    from course.trusted.reference_process import CHILD_NAME

    for message, fds in ((json.dumps(REFERENCE).encode(), [0, 1, 2]),
                         (json.dumps({"settings": "x"}).encode(), [0, 1, 2]),
                         (b"not json", []), (json.dumps({"reference": False}).encode(), []),
                         (b"[" * 60_000, [])):  # nested too deeply for json
        assert _request(server.socket, message, fds) == b"", message
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as client:
        client.settimeout(30)
        client.connect(str(server.socket))
        client.sendall(json.dumps(REFERENCE).encode())
        child = int(client.makefile("rb").readline())
        assert child in _children(server.process.pid)
        deadline = time.monotonic() + 10
        while Path(f"/proc/{child}/comm").read_text().strip() != CHILD_NAME:
            assert time.monotonic() < deadline, "the child did not name itself"
            time.sleep(0.05)
    deadline = time.monotonic() + 10
    while child in _children(server.process.pid):  # its connection closed: it has ended
        assert time.monotonic() < deadline, "the reference child outlived its connection"
        time.sleep(0.05)


def test_a_server_folder_left_by_a_killed_starter_is_removed_later():
    """A fork server dies with the process that started it, and a killed one cannot remove
    its folder: the next server started removes the folders whose starter has ended, and only
    those."""
    import tempfile

    from course.grading.forkserver import FOLDER_PREFIX

    ended = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                           capture_output=True, text=True, check=True)
    stale = Path(tempfile.mkdtemp(prefix=f"{FOLDER_PREFIX}{int(ended.stdout)}-"))
    (stale / "server.log").write_text("a server killed with its worker")
    living = Path(tempfile.mkdtemp(prefix=f"{FOLDER_PREFIX}{os.getpid()}-"))
    server = ForkServer(kernel_environment(Limits()))
    try:
        assert not stale.exists(), "the folder of a server whose starter ended was left"
        assert living.exists() and server.folder.exists()
    finally:
        server.stop()
        living.rmdir()


MEMORY_SCAN = """
import json
needles = [bytes.fromhex(MARKER_HEX), bytes.fromhex(CONTROL_HEX)]  # each is here once itself
found = [0, 0]
with open("/proc/self/maps") as maps, open("/proc/self/mem", "rb", 0) as mem:
    for line in maps:
        fields = line.split()
        if not fields[1].startswith("rw") or (len(fields) > 5 and not fields[5].startswith("[")):
            continue  # the writable anonymous memory and the heap: what a fork copies
        start, end = (int(x, 16) for x in fields[0].split("-"))
        try:
            mem.seek(start)
            chunk = mem.read(end - start)
            found = [n + chunk.count(needle) for n, needle in zip(found, needles)]
        except (OSError, ValueError, OverflowError):
            pass
print(json.dumps(found))
"""


def test_a_kernel_finds_nothing_of_the_requests_served_before_it(server, tmp_path):
    """The server reads no request itself (its fork does): a kernel forked from it finds in
    its memory no trace of an earlier request, such as the folder of the classmate graded
    before it."""
    import socket

    marker, control = ("autograded/classmate-" + os.urandom(8).hex() for _ in range(2))
    request = json.dumps({"settings": "x", "connection_file": None, "command": ["x"],
                          "cwd": f"/nowhere/{marker}", "environ": {}}).encode()
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as client:
        client.connect(str(server.socket))
        socket.send_fds(client, [request], [0, 1, 2])
        client.settimeout(30)
        client.makefile("rb").readline()  # the request was read (and failed: no such folder)
    kernel = Kernel(tmp_path / "k", server.socket)
    try:
        text, reply = kernel.run(f"MARKER_HEX = {marker.encode().hex()!r}\n"
                                 f"CONTROL_HEX = {control.encode().hex()!r}\n" + MEMORY_SCAN,
                                 timeout=120)
        assert reply["status"] == "ok", reply
        found, never_sent = json.loads(text.strip().splitlines()[-1])
        assert found == never_sent, \
            "a kernel found an earlier request in the memory it was forked from"
    finally:
        kernel.close()


@pytest.mark.skipif(not os.environ.get("CNN_COURSE_MIRROR"), reason="CNN_COURSE_MIRROR is not set")
def test_the_kernels_of_a_signs_server_find_the_photographs_decoded(tmp_path):
    """Assignment 2's server decodes the SIGNS training photographs once (``warm_up``); its
    kernels load the same training set without decoding, and each load is the caller's own
    copy."""
    from course.grading.forkserver import libraries_used
    from course.grading.worker import _imports_cell
    from utils import data, signs

    source = assignments.get("C4W1A2_signs_cnn").source_notebook.read_text()
    assert "utils.signs" in libraries_used(_imports_cell(source))
    X_train = signs.load_signs_dataset(verbose=False)[0]  # fetched here from the mirror first
    signs_server = ForkServer(kernel_environment(Limits()), ("utils.signs",))
    kernel = Kernel(tmp_path, signs_server.socket,
                    readonly=tuple(str(p) for p in data.data_folders()))
    try:
        text, reply = kernel.run(
            "import hashlib, sys\n"
            "from utils import signs\n"
            "decoded = signs._photographs.cache_info().currsize\n"
            "X = signs.load_signs_dataset(verbose=False)[0]\n"
            "X[:] = 0\n"
            "again = signs.load_signs_dataset(verbose=False)[0]\n"
            "print(decoded, signs._photographs.cache_info().misses, "
            "hashlib.sha256(again.tobytes()).hexdigest())\n")
        assert reply["status"] == "ok", reply
        decoded, misses, digest = text.split()
        assert (decoded, misses) == ("1", "1")  # decoded by the server, before the fork
        assert digest == __import__("hashlib").sha256(X_train.tobytes()).hexdigest()
    finally:
        kernel.close()
        signs_server.stop()
