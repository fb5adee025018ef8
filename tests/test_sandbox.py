"""The grading sandbox, from the attacker's side: hostile Python run inside real namespaces.

Each test runs a snippet with ``python -m course.grading.sandbox --settings S -- python -c CODE``
and checks both that the attack was really attempted (the snippet reports what it did, and the
same access works outside the sandbox) and that it was contained.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from course.grading import sandbox

REPO = Path(__file__).resolve().parents[1]
GRADER = REPO / "course"  # the instructor's package: not in the sandbox at all
SITE_PACKAGES = next((Path(sys.prefix) / "lib").glob("python3*/site-packages"))
MISSING = sandbox.check()
pytestmark = pytest.mark.skipif(bool(MISSING), reason="; ".join(MISSING))

# ctypes wrappers the snippets use to attack the mounts
MOUNT_CALLS = """
import ctypes, os
libc = ctypes.CDLL(None, use_errno=True)
def call(function, *args):
    result = function(*args)
    return 0 if result == 0 else ctypes.get_errno()
def umount(path):
    return call(libc.umount2, path.encode(), 2)
def remount_rw(path):  # MS_REMOUNT | MS_BIND, without MS_RDONLY
    return call(libc.mount, None, path.encode(), None, ctypes.c_ulong(32 | 4096), None)
"""


@dataclass
class Run:
    """What a sandboxed snippet did: exit code, output, limits hit and seconds it took."""

    code: int
    stdout: str
    stderr: str
    hits: list[str]
    seconds: float

    @property
    def report(self):
        """The JSON the snippet printed on its last line of stdout."""
        return json.loads(self.stdout.strip().splitlines()[-1])


@pytest.fixture
def box(tmp_path):
    """run(code, **settings) -> Run: the snippet in the sandbox, from an empty working folder."""
    folders = {name: tmp_path / name for name in ("cwd", "runtime", "markers")}
    for folder in folders.values():
        folder.mkdir()
    settings_path = tmp_path / "settings.json"

    def run(code: str, env: dict | None = None, timeout: float = 60, **limits) -> Run:
        defaults = {"memory_mb": 1024, "max_processes": 64, "disk_mb": 32, "output_mb": 1,
                    "wall_s": 20}
        settings = sandbox.Settings(
            name="attacker", runtime=str(folders["runtime"]), markers=str(folders["markers"]),
            env={"PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin"},
            **{**defaults, **limits})
        settings.write(settings_path)
        command = [sys.executable, "-m", "course.grading.sandbox", "--settings",
                   str(settings_path), "--", sys.executable, "-c", code]
        start = time.monotonic()
        done = subprocess.run(command, cwd=folders["cwd"], env={**os.environ, **(env or {})},
                              capture_output=True, text=True, timeout=timeout, check=False)
        return Run(done.returncode, done.stdout, done.stderr,
                   [h.limit for h in sandbox.limits_hit(settings)], time.monotonic() - start)

    run.folders, run.settings_path = folders, settings_path
    return run


def test_a_harmless_snippet_runs_and_leaves_no_marker(box):
    run = box("import json, os; print(json.dumps([os.getuid(), os.getcwd(), os.listdir()]))")
    assert run.code == 0, run.stderr
    assert run.report == [sandbox.SANDBOX_UID, str(box.folders["cwd"]), []]
    assert run.hits == []


def test_mounts_cannot_be_unmounted_or_made_writable(box):
    targets = ["/", "/proc", "/usr", str(REPO / "utils"), str(SITE_PACKAGES),
               str(box.folders["cwd"])]
    code = MOUNT_CALLS + f"""
import json
targets = {targets!r}
direct = {{t: [umount(t), remount_rw(t)] for t in targets}}
# become root in a user and mount namespace of its own, where it may mount
unshared = call(libc.unshare, 0x10000000 | 0x20000)
open("/proc/self/setgroups", "w").write("deny")
open("/proc/self/uid_map", "w").write("0 {sandbox.SANDBOX_UID} 1")
own = call(libc.mount, b"none", b"/tmp", b"tmpfs", 0, None)
own_unmounted = umount("/tmp")
nested = {{t: [umount(t), remount_rw(t)] for t in targets}}
print(json.dumps([direct, unshared, own, own_unmounted, nested,
                  os.path.exists({str(GRADER)!r})]))
"""
    run = box(code)
    assert run.code == 0, run.stderr
    direct, unshared, own, own_unmounted, nested, grader_seen = run.report
    assert (unshared, own, own_unmounted) == (0, 0, 0), "no privilege to try the attack with"
    for target in targets:
        assert 0 not in direct[target], f"{target} unmounted or remounted: {direct[target]}"
        assert 0 not in nested[target], f"{target} unmounted or remounted: {nested[target]}"
    assert grader_seen is False


def test_the_repository_and_the_grader_files_are_not_visible(box, tmp_path):
    secret = tmp_path / "root-only"
    secret.write_text("secret")
    secret.chmod(0o600)
    paths = [REPO / ".git", REPO / "source_release" / "source", REPO / "tests",
             REPO / "README.md", GRADER / "grading" / "sandbox.py", GRADER / "trusted",
             secret, box.settings_path, box.folders["markers"], Path("/etc/shadow")]
    box.settings_path.write_text("{}")  # it exists outside when the snippet runs
    assert all(p.exists() for p in paths)
    code = f"""
import json, os
found = {{}}
for path in {[str(p) for p in paths]!r}:
    try:
        found[path] = os.listdir(path) if os.path.isdir(path) else open(path).read()[:20]
    except OSError as error:
        found[path] = error.errno
print(json.dumps(found))
"""
    run = box(code)
    assert run.code == 0, run.stderr
    assert run.report == {str(p): 2 for p in paths}  # ENOENT: not there at all


def test_read_only_folders_cannot_be_written(box):
    targets = ["/", "/usr/bin", "/etc", str(SITE_PACKAGES), str(REPO / "utils"),
               str(Path(sys.executable).parent)]
    writable = [str(box.folders["cwd"]), "/tmp", "/dev/shm", str(box.folders["runtime"])]
    code = f"""
import json, os
result = {{}}
for folder in {targets + writable!r}:
    try:
        with open(os.path.join(folder, "planted.py"), "w") as handle:
            handle.write("print('planted')")
        result[folder] = 0
    except OSError as error:
        result[folder] = error.errno
print(json.dumps(result))
"""
    run = box(code)
    assert run.code == 0, run.stderr
    for folder in targets:
        assert run.report[folder] in (13, 30), f"{folder}: {run.report[folder]}"  # EACCES, EROFS
        assert not Path(folder, "planted.py").exists()
    assert all(run.report[folder] == 0 for folder in writable), run.report
    assert not [p for f in ("cwd", "runtime") for p in box.folders[f].iterdir()], "wrote outside"


def test_the_environment_holds_only_the_settings(box):
    secrets = {"GRADER_SECRET": str(box.folders["markers"]), "NBGRADER_EXECUTION": "autograde"}
    run = box("import json, os; print(json.dumps(dict(os.environ)))", env=secrets)
    assert run.code == 0, run.stderr
    env = {k: v for k, v in run.report.items() if k != "LC_CTYPE"}  # set by Python itself
    assert env == {"PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin",
                   "HOME": str(box.folders["cwd"]), "MPLCONFIGDIR": "/tmp/matplotlib",
                   "NBGRADER_EXECUTION": "autograde"}


def test_only_its_own_processes_are_visible_and_signals_stay_inside(box):
    sleeper = subprocess.Popen(["sleep", "60"])
    try:
        targets = [sleeper.pid, os.getpid(), os.getppid()]
        code = f"""
import json, os, signal
visible = sorted(int(p) for p in os.listdir("/proc") if p.isdigit())
commands = [open(f"/proc/{{p}}/cmdline", "rb").read().split(b"\\0")[0].decode()
            for p in visible]
result = {{}}
for pid in {targets!r}:
    try:
        os.kill(pid, signal.SIGKILL)
        result[pid] = 0
    except OSError as error:
        result[pid] = error.errno
for pid in visible:  # everything it can see, but itself
    if pid != os.getpid():
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
print(json.dumps([visible, commands, result]))
"""
        run = box(code)
        assert run.code == 0, run.stderr
        visible, commands, result = run.report
        assert len(visible) == 2 and "sleep" not in " ".join(commands), commands
        assert all(error == 3 for error in result.values()), result  # ESRCH
        assert sleeper.poll() is None, "the process outside was killed"
    finally:
        sleeper.kill()
        sleeper.wait()


def test_a_fork_bomb_stops_at_max_processes_and_is_reported(box):
    code = """
import os, time
children = 0
try:
    while True:
        if os.fork() == 0:
            time.sleep(60)
            os._exit(0)
        children += 1
except OSError:
    print("forks refused after", children, flush=True)
time.sleep(60)
"""
    run = box(code, max_processes=32)
    assert "forks refused after" in run.stdout, run.stderr
    assert int(run.stdout.split()[-1]) < 32
    assert run.hits == ["processes"]  # not "wall time": killed before its sleep ended


def _cpu_controller() -> bool:
    cgroup = sandbox.Cgroup.create("cpu-probe", 2 ** 30, 64, cpus=1)
    try:
        return "cpu" in cgroup.folders
    finally:
        cgroup.remove()


def test_the_cgroup_caps_cpu_time_where_the_controller_is_there():
    cgroup = sandbox.Cgroup.create("cpu-probe", 2 ** 30, 64, cpus=1)
    try:
        if "cpu" not in cgroup.folders:
            pytest.skip("no cpu controller in a writable cgroup here")
        folder = cgroup.folders["cpu"]
        if cgroup.v2:
            assert (folder / "cpu.max").read_text().split() == ["100000", "100000"]
        else:
            assert (folder / "cpu.cfs_quota_us").read_text().strip() == "100000"
            assert (folder / "cpu.cfs_period_us").read_text().strip() == "100000"
    finally:
        cgroup.remove()


SPIN = """
import json, os, time
children = []
for _ in range(4):
    pid = os.fork()
    if pid == 0:
        end = time.monotonic() + 3
        while time.monotonic() < end:
            pass
        os._exit(0)
    children.append(pid)
for pid in children:
    os.waitpid(pid, 0)
times = os.times()
print(json.dumps(times.children_user + times.children_system))
"""


def test_busy_processes_get_one_cores_worth_of_cpu_together(box):
    """A submission whose processes all spin gets ``cpus`` cores' worth of CPU time, so it
    cannot starve the kernel another worker runs beside it: four processes spinning for 3 s
    take every core of the machine without the cap, one core's worth with it."""
    if not _cpu_controller():
        pytest.skip("no cpu controller in a writable cgroup here")
    uncapped = box(SPIN, cpus=0)
    assert uncapped.code == 0, uncapped.stderr
    if uncapped.report < 3 * 1.6:
        pytest.skip(f"uncapped, the processes got {uncapped.report / 3:.1f} cores: too few "
                    "free cores here to tell a cap")
    capped = box(SPIN, cpus=1)
    assert capped.code == 0, capped.stderr
    assert capped.report <= 3 * 1.25, f"{capped.report:.1f} s of CPU in 3 s: over one core"


def test_memory_is_capped_for_all_processes_together(box):
    code = """
import os, time
for rank in range(3):  # three processes, each with 1 GiB of its own, one after the other
    hoard = bytes([rank]) * 2 ** 30
    print("allocated 1 GiB", flush=True)
    if rank == 2 or os.fork() != 0:
        break
time.sleep(60)
"""
    run = box(code, memory_mb=2560, wall_s=120)  # 1 GiB takes seconds on a busy machine
    assert run.stdout.count("allocated 1 GiB") == 2  # the third is one too many: all wait
    assert run.hits == ["memory"]  # and then all are killed


@pytest.mark.parametrize("folder", ["cwd", "/tmp", "runtime"])
def test_disk_written_is_capped_and_reported(box, folder):
    path = str(box.folders[folder]) if folder in box.folders else folder
    code = f"""
import os, time
written = 0
try:
    with open(os.path.join({path!r}, "fill"), "wb") as handle:
        while written < 200:
            handle.write(b"x" * 2 ** 20)
            handle.flush()
            written += 1
except OSError as error:
    print("refused after", written, "MiB:", error.strerror, flush=True)
time.sleep(1)  # the supervisor's polls see the full disk: recorded, not killed
print("still running", flush=True)
"""
    run = box(code, disk_mb=32)
    assert run.hits == ["disk"], run.stdout + run.stderr
    assert run.code == 0 and "still running" in run.stdout, run
    assert int(run.stdout.split()[2]) <= 32  # the write failed (ENOSPC)
    assert not [p for f in ("cwd", "runtime") for p in box.folders[f].iterdir()], "wrote outside"


def test_output_is_capped_and_reported(box):
    code = """
import os, time
for _ in range(300):
    os.write(1, b"y" * 10000 + b"\\n")
time.sleep(60)
"""
    run = box(code, output_mb=1)
    assert len(run.stdout) <= 2 ** 20 + 2 ** 16
    assert run.stdout.count("y") >= 10 ** 6 - 10 ** 4  # it wrote up to the cap
    assert run.hits == ["output"]


def test_the_network_is_unreachable(box):
    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]
    socket.create_connection(("127.0.0.1", port), timeout=5).close()  # reachable from outside
    code = f"""
import json, socket
result = []
for address in [("127.0.0.1", {port}), ("198.51.100.7", 80)]:
    try:
        socket.create_connection(address, timeout=5).close()
        result.append(0)
    except OSError as error:
        result.append(error.errno)
print(json.dumps(result))
"""
    run = box(code)
    server.close()
    assert run.code == 0, run.stderr
    assert run.report == [101, 101]  # ENETUNREACH: no interface is up


def test_wall_time_is_enforced_and_reported(box):
    run = box("import time\nprint('started', flush=True)\ntime.sleep(60)", wall_s=1)
    assert "started" in run.stdout
    assert run.hits == ["wall time"]
    assert run.seconds < 30  # not the 60 s of its sleep


def test_a_restarted_sandbox_gets_what_is_left_of_the_wall_time(box):
    # A kernel started again under the same settings (after the last one was killed) must
    # not get a fresh budget: a notebook's time limit is its own, restarts included.
    first = box("import time\ntime.sleep(2)", wall_s=4)
    assert first.code == 0 and first.hits == [], first.stderr
    second = box("import time\nprint('started', flush=True)\ntime.sleep(60)", wall_s=4)
    assert second.hits == ["wall time"] and second.seconds < 30, second
    third = box("print('started', flush=True)", wall_s=4)
    assert "started" not in third.stdout and third.code != 0, third
    assert third.hits == ["wall time", "wall time"], third.hits


def test_interrupts_reach_the_command(box, tmp_path):
    # The handler writes with os.write: the signal can arrive while print("ready") is still
    # flushing, and a print from the handler would then fail as a reentrant call.
    code = """
import os, signal, sys, time
signal.signal(signal.SIGINT, lambda *_: (os.write(1, b"interrupted\\n"), sys.exit(3)))
print("ready", flush=True)
time.sleep(60)
"""
    sandbox.Settings(name="attacker", runtime=str(box.folders["runtime"]),
                     markers=str(box.folders["markers"]), memory_mb=1024,
                     wall_s=20).write(box.settings_path)
    process = subprocess.Popen([sys.executable, "-m", "course.grading.sandbox", "--settings",
                                str(box.settings_path), "--", sys.executable, "-c", code],
                               cwd=box.folders["cwd"], stdout=subprocess.PIPE, text=True)
    assert process.stdout.readline() == "ready\n"
    process.send_signal(signal.SIGINT)
    assert process.wait(timeout=10) == 3
    assert process.stdout.read() == "interrupted\n"


def test_markers_must_not_be_visible_inside(box):
    markers = box.folders["cwd"] / "markers"
    sandbox.Settings(name="attacker", runtime=str(box.folders["runtime"]),
                     markers=str(markers)).write(box.settings_path)
    done = subprocess.run([sys.executable, "-m", "course.grading.sandbox", "--settings",
                           str(box.settings_path), "--", "true"], cwd=box.folders["cwd"],
                          capture_output=True, text=True, check=False)
    assert done.returncode != 0
    assert f"{markers} would be visible inside the sandbox" in done.stderr


def test_the_course_libraries_work_inside(box):
    code = """
import json, os
import h5py, keras, matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import tensorflow as tf
import utils.data
model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
plt.plot(model(np.ones((1, 3))).numpy()[0])
plt.savefig("plot.png")
with h5py.File("/tmp/weights.h5", "w") as handle:
    handle["w"] = model.get_weights()[0]
print(json.dumps([tf.__version__, os.listdir()]))
"""
    run = box(code, env=None, memory_mb=4096, disk_mb=256, wall_s=120, timeout=180)
    assert run.code == 0, run.stderr
    assert "plot.png" in run.report[1]


def test_a_kernel_runs_through_the_kernelspec_and_can_be_interrupted(box, tmp_path):
    from jupyter_client import KernelManager
    from jupyter_client.kernelspec import KernelSpecManager

    sandbox.Settings(name="attacker", runtime=str(box.folders["runtime"]),
                     markers=str(box.folders["markers"]), memory_mb=2048,
                     env={"PATH": "/usr/bin:/bin"}).write(box.settings_path)
    sandbox.kernelspec(tmp_path / "jupyter", box.settings_path)
    manager = KernelManager(
        kernel_name=sandbox.KERNEL_NAME, transport="ipc", ip=str(box.folders["runtime"] / "k"),
        kernel_spec_manager=KernelSpecManager(kernel_dirs=[str(tmp_path / "jupyter/kernels")]))
    manager.start_kernel(cwd=str(box.folders["cwd"]))
    client = manager.client()
    client.start_channels()
    try:
        client.wait_for_ready(timeout=60)
        shown = []
        client.execute_interactive(
            f"import os; print(sorted(os.listdir({str(box.folders['runtime'])!r})))",
            timeout=30, output_hook=lambda m: shown.append(m["content"].get("text", "")))
        outside = sorted(p.name for p in box.folders["runtime"].iterdir())
        assert "".join(shown).strip() == str(outside)  # its own five sockets, nothing else
        assert len(outside) == 5
        assert all(p.is_symlink() for p in box.folders["runtime"].iterdir())
        client.execute("import time; time.sleep(30)")
        time.sleep(1)
        manager.interrupt_kernel()
        reply = client.get_shell_msg(timeout=10)
        assert reply["content"]["ename"] == "KeyboardInterrupt"
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)


def test_an_interpreter_reached_through_a_linked_folder_is_refused(tmp_path):
    # The kernel starts by the interpreter's name, and the sandbox shows real paths only.
    linked = tmp_path / "venv"
    linked.symlink_to(Path(sys.prefix))
    result = subprocess.run(
        [str(linked / "bin" / "python"), "-c",
         "from course.grading import sandbox; print(sandbox.check())"],
        capture_output=True, text=True, check=True, cwd=REPO)
    assert "is a link to" in result.stdout, result.stdout + result.stderr
