"""Run untrusted code (a student's grading kernel) in an allowlist sandbox with limits.

nbgrader starts kernels from a kernelspec whose argv begins with this module (``kernelspec``);
``python -m course.grading.sandbox --settings FILE -- COMMAND...`` runs any command the same way.
The process started is a *supervisor*; it stays outside the sandbox, as the grader's user, and

- creates a cgroup for the submission (cgroup v2 where a writable subtree with the memory and
  pids controllers exists, else cgroup v1 ``memory`` and ``pids``): all its processes together
  get ``memory_mb`` + ``disk_mb`` MiB of memory (its writable folders are tmpfs, charged to the
  same cgroup), ``max_processes`` tasks (processes and threads) and, where the cpu controller
  is there too, ``cpus`` cores' worth of CPU time (so that busy threads slow only their own
  submission);
- starts the command in new user, mount, PID, network, IPC and UTS namespaces, in a new root
  (``pivot_root``) that holds only: read-only, the system folders (/usr, /bin, /lib, ...), a few
  files of /etc, the Python installations, the course helpers ``<repo>/utils`` (not the grader,
  ``<repo>/course``), the ``readonly`` paths and the connection file; writable, the working
  folder (at its own path, starting empty), /tmp, /dev/shm and the ``runtime`` folder, all four
  on one tmpfs of ``disk_mb`` MiB; a minimal /dev and a /proc of its own PID namespace
  (/proc/sys and other host-wide files read-only). The repository, ``.git``, other submissions,
  gradebooks, the settings file and the ``markers`` folder are not in it. Then it enters a
  nested user and mount namespace, which locks every mount (no unmount, no remount), runs as an
  unprivileged user with no capabilities and ``no_new_privs``, and gets only the environment
  ``env``;
- passes interrupts (SIGINT) and SIGTERM on to the command, copies its stdout and stderr up to
  ``output_mb`` MiB, and, when the submission runs over ``wall_s`` seconds or hits a limit,
  kills all of its processes and appends a line to ``markers/<name>.jsonl`` naming the limit
  (``memory``, ``processes``, ``output``, ``wall time``): ``limits_hit`` reads it. A full
  disk is refused by the tmpfs itself (the write fails with ENOSPC, in the cell that made it)
  and only recorded (``disk``): the kernel lives on, so a grade does not depend on when the
  supervisor notices.

The kernel binds its ZeroMQ sockets (transport ``ipc``) in the runtime folder inside the
sandbox; the supervisor links each socket's path in the real runtime folder to the socket
through ``/proc/<pid>/root``, so the kernel never writes outside its tmpfs and nbgrader
connects as usual. ``check()`` lists the Linux features that are missing here.
"""

from __future__ import annotations

import contextlib
import ctypes
import dataclasses
import errno
import json
import os
import platform
import re
import resource
import select
import signal
import subprocess
import sys
import time
import traceback
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path

from course.grading.limits import Limits

KERNEL_NAME = "cnn-course-sandbox"
HELPERS = Path(__file__).resolve().parents[2] / "utils"  # the course's helpers, read-only inside
SANDBOX_UID = 1000  # the command's user and group id inside the sandbox

CLONE_NEWNS, CLONE_NEWUTS, CLONE_NEWIPC = 0x20000, 0x4000000, 0x8000000
CLONE_NEWUSER, CLONE_NEWPID, CLONE_NEWNET = 0x10000000, 0x20000000, 0x40000000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_REMOUNT = 1, 2, 4, 8, 32
MS_NOATIME, MS_NODIRATIME, MS_BIND, MS_REC, MS_PRIVATE = 1024, 2048, 4096, 16384, 1 << 18
MS_RELATIME, MS_STRICTATIME = 1 << 21, 1 << 24
MNT_DETACH = 2
PR_SET_PDEATHSIG, PR_SET_NO_NEW_PRIVS = 1, 38
SYS_PIVOT_ROOT = {"x86_64": 155, "aarch64": 41}

SYSTEM_DIRS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
ETC_FILES = ("ld.so.cache", "nsswitch.conf", "localtime", "alternatives", "fonts")
DEVICES = ("null", "zero", "full", "random", "urandom")
PROC_READONLY = ("sys", "sysrq-trigger", "irq", "bus", "fs")  # host-wide, writable by kuid 0
PROC_MASKED = ("kcore", "keys", "timer_list", "sched_debug", "kpagecount", "kpageflags",
               "kpagecgroup")  # host-wide information, readable by kuid 0: /dev/null instead
POLL_S = 0.05  # how often the supervisor checks the limits, in seconds

_libc = ctypes.CDLL(None, use_errno=True)


class SandboxError(RuntimeError):
    """The sandbox cannot be set up: the message says why."""


@dataclass
class Settings:
    """What one sandboxed run may see and use. Paths are absolute; sizes in MiB; times in s."""

    name: str  # the submission (student id): its markers are markers/<name>.jsonl
    runtime: str  # the kernel's socket folder (writable inside, on the sandbox's tmpfs)
    markers: str  # where the supervisor records limits hit; never visible inside
    readonly: list[str] = field(default_factory=list)  # extra read-only paths (data folders)
    env: dict[str, str] = field(default_factory=dict)  # the command's whole environment
    inherit: list[str] = field(  # plus these variables of the supervisor's, when set
        default_factory=lambda: ["NBGRADER_EXECUTION", "NBGRADER_VALIDATING"])
    memory_mb: int = Limits.memory_mb  # all processes together; also the address space of each
    max_processes: int = Limits.max_processes  # processes and threads together
    disk_mb: int = Limits.disk_mb  # working folder, /tmp, /dev/shm and runtime folder together
    output_mb: int = Limits.output_mb  # bytes written to stdout and stderr together
    output_file: str = ""  # where that output goes (never visible inside); "" for our own
    wall_s: float = Limits.notebook_timeout  # seconds from the first start to the kill
    cpus: int = Limits.cpus  # cores' worth of CPU time, all processes together

    def write(self, path: Path) -> Path:
        """Save as JSON at ``path``; return it."""
        Path(path).write_text(json.dumps(dataclasses.asdict(self), indent=1))
        return Path(path)

    @classmethod
    def read(cls, path: Path) -> Settings:
        """Load settings saved by ``write``."""
        return cls(**json.loads(Path(path).read_text()))


class Limit(str, Enum):
    """A limit the supervisor enforces by ending the whole submission (the disk: the tmpfs
    refuses the write, and the supervisor records it)."""

    MEMORY = "memory"
    PROCESSES = "processes"
    DISK = "disk"
    OUTPUT = "output"
    WALL_TIME = "wall time"  # the whole notebook's time


@dataclass(frozen=True)
class LimitHit:
    """A limit the supervisor enforced, a sentence saying so, and the command's working
    folder."""

    limit: Limit
    message: str
    cwd: str


def limits_hit(settings: Settings) -> list[LimitHit]:
    """The limits hit by the runs under ``settings``, oldest first (empty when none)."""
    path = Path(settings.markers) / f"{settings.name}.jsonl"
    if not path.exists():
        return []
    return [LimitHit(**{**hit, "limit": Limit(hit["limit"])})
            for hit in map(json.loads, path.read_text().splitlines()) if hit]


def kernelspec(folder: Path, settings_path: Path, fork_server: Path | None = None) -> Path:
    """Write the sandboxed Python kernelspec under ``folder``/kernels/ (put ``folder`` on
    JUPYTER_PATH), running kernels under the settings file ``settings_path``, for kernel
    managers of this process only; return the kernelspec's folder. ``fork_server``: the socket
    of a fork server that starts the kernels with their libraries already imported
    (``course.grading.forkserver``)."""
    spec = Path(folder) / "kernels" / KERNEL_NAME
    spec.mkdir(parents=True, exist_ok=True)
    launcher = ([sys.executable, "-m", "course.grading.forkserver", "connect",
                 "--socket", str(fork_server)] if fork_server
                else [sys.executable, "-m", "course.grading.sandbox"])
    # the kernel manager is this process: a launcher whose kernel manager died before it armed
    # its death signal ends at once (``die_with``)
    argv = [*launcher, "--settings", str(settings_path), "--connection-file", "{connection_file}",
            "--parent", str(os.getpid()),
            "--", sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    (spec / "kernel.json").write_text(json.dumps(
        {"argv": argv, "display_name": "Python 3 (grading sandbox)", "language": "python"}))
    return spec


# --- system calls ---------------------------------------------------------------------------

def _check(result: int, what: str) -> None:
    if result != 0:
        number = ctypes.get_errno()
        raise OSError(number, f"{what}: {os.strerror(number)}")


def _bytes(text: str | None) -> bytes | None:
    return None if text is None else text.encode()


def _mount(source: str | None, target: str, fstype: str | None, flags: int,
           data: str | None = None) -> None:
    _check(_libc.mount(_bytes(source), _bytes(target), _bytes(fstype), ctypes.c_ulong(flags),
                       _bytes(data)), f"mount {source or ''} on {target}")


def _unshare(flags: int) -> None:
    _check(_libc.unshare(flags), "unshare")


def _prctl(option: int, value: int) -> None:
    _check(_libc.prctl(option, ctypes.c_ulong(value), 0, 0, 0), f"prctl {option}")


def die_with(parent: int | None) -> None:
    """Have this process killed (SIGKILL) when its parent dies. ``parent``: the pid of the
    process that started this one; when it has died already, before the death signal was armed
    (this process then belongs to init or a subreaper, and nothing would ever end it), exit now."""
    _prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if parent is not None and os.getppid() != parent:
        os._exit(128 + signal.SIGKILL)


def _map_ids(inside: int, outside_uid: int, outside_gid: int) -> None:
    """After unshare(CLONE_NEWUSER): map one id inside to this process's ids outside."""
    try:
        Path("/proc/self/setgroups").write_text("deny")
    except PermissionError:  # already denied by a parent namespace, which is inherited
        pass
    Path("/proc/self/uid_map").write_text(f"{inside} {outside_uid} 1")
    Path("/proc/self/gid_map").write_text(f"{inside} {outside_gid} 1")


# --- cgroups --------------------------------------------------------------------------------

class Cgroup:
    """The submission's cgroup: one folder (v2) or one per controller (v1 memory, pids and,
    when there, cpu)."""

    ROOT = Path("/sys/fs/cgroup")
    CPU_PERIOD_US = 100_000  # the period of the CPU quota

    def __init__(self, folders: dict[str, Path], v2: bool):
        self.folders, self.v2 = folders, v2

    @classmethod
    def create(cls, name: str, memory_bytes: int, max_tasks: int, cpus: int = 0) -> Cgroup:
        """A new cgroup with the limits set (``cpus``: cores' worth of CPU time, where the cpu
        controller can be had; 0: none), beside the cgroups of earlier supervisors that died
        without removing theirs (removed now); SandboxError if no writable cgroup has the
        memory and pids controllers."""
        suffix = f"cnn-sandbox-{name}-{os.getpid()}"
        if (cls.ROOT / "cgroup.controllers").exists():
            parent, cpu = _v2_parent(cls.ROOT / _own_cgroup(""))
            cgroup = cls({c: parent / suffix for c in ("memory", "pids", "cpu")[:3 if cpu else 2]},
                         v2=True)
        else:
            cgroup = cls({c: cls.ROOT / c / _own_cgroup(c) / suffix
                          for c in ("memory", "pids")}, v2=False)
            with contextlib.suppress(SandboxError):
                cpu_folder = cls.ROOT / "cpu" / _own_cgroup("cpu")
                if os.access(cpu_folder, os.W_OK):
                    cgroup.folders["cpu"] = cpu_folder / suffix
        try:
            for folder in set(cgroup.folders.values()):
                _remove_stale(folder.parent)
                folder.mkdir(exist_ok=True)
        except OSError as error:
            raise SandboxError(f"cannot create a cgroup: {error}") from None
        cgroup._limit(memory_bytes, max_tasks, cpus)
        return cgroup

    def _limit(self, memory_bytes: int, max_tasks: int, cpus: int) -> None:
        if cpus and "cpu" in self.folders:
            quota = cpus * self.CPU_PERIOD_US
            if self.v2:
                (self.folders["cpu"] / "cpu.max").write_text(f"{quota} {self.CPU_PERIOD_US}")
            else:
                (self.folders["cpu"] / "cpu.cfs_period_us").write_text(str(self.CPU_PERIOD_US))
                (self.folders["cpu"] / "cpu.cfs_quota_us").write_text(str(quota))
        memory, pids = self.folders["memory"], self.folders["pids"]
        if self.v2:
            (memory / "memory.max").write_text(str(memory_bytes))
            if (memory / "memory.swap.max").exists():
                (memory / "memory.swap.max").write_text("0")
            (memory / "memory.oom.group").write_text("1")
        else:
            (memory / "memory.limit_in_bytes").write_text(str(memory_bytes))
            if (memory / "memory.memsw.limit_in_bytes").exists():
                (memory / "memory.memsw.limit_in_bytes").write_text(str(memory_bytes))
            # out of memory, its processes wait (under_oom) until the supervisor kills them all,
            # as memory.oom.group does on v2
            (memory / "memory.oom_control").write_text("1")
        (pids / "pids.max").write_text(str(max_tasks))

    def join(self) -> None:
        """Move the calling process into the cgroup."""
        for folder in set(self.folders.values()):
            (folder / "cgroup.procs").write_text("0")

    def _counter(self, controller: str, file: str, key: str) -> int:
        for line in (self.folders[controller] / file).read_text().splitlines():
            if line.split()[0] == key:
                return int(line.split()[1])
        return 0

    def out_of_memory(self) -> bool:
        """Whether the processes ran out of memory: the kernel found none to give them (v2: it
        killed one; v1: they wait), or their own memory (anonymous and tmpfs, which cannot be
        reclaimed) is within 1/32 of the limit, where the rest is page cache that the kernel
        would evict and read back again and again before it gives up."""
        memory = self.folders["memory"]
        if self.v2:
            events = self._counter("memory", "memory.events", "oom_kill")
            limit = int((memory / "memory.max").read_text())
            own = (self._counter("memory", "memory.stat", "anon")
                   + self._counter("memory", "memory.stat", "shmem"))
        else:
            events = (self._counter("memory", "memory.oom_control", "under_oom")
                      + self._counter("memory", "memory.oom_control", "oom_kill"))
            limit = int((memory / "memory.limit_in_bytes").read_text())
            own = (self._counter("memory", "memory.stat", "total_rss")
                   + self._counter("memory", "memory.stat", "total_shmem"))
        return events > 0 or own >= limit - limit // 32

    def fork_refusals(self) -> int:
        """Forks refused because the cgroup had ``max_tasks`` tasks."""
        return self._counter("pids", "pids.events", "max")

    def kill(self) -> None:
        """SIGKILL every process in the cgroup."""
        for folder in set(self.folders.values()):
            for pid in (folder / "cgroup.procs").read_text().split():
                try:
                    os.kill(int(pid), signal.SIGKILL)
                except ProcessLookupError:
                    pass

    def remove(self) -> None:
        """Kill what is left and remove the cgroup (its processes take a moment to go)."""
        for _ in range(100):
            self.kill()
            try:
                for folder in set(self.folders.values()):
                    if folder.exists():
                        folder.rmdir()
                return
            except OSError as error:
                if error.errno != errno.EBUSY:
                    raise
                time.sleep(0.02)


def _own_cgroup(controller: str) -> str:
    """This process's cgroup path (relative) in the hierarchy of ``controller`` ("" for v2)."""
    for line in Path("/proc/self/cgroup").read_text().splitlines():
        _, controllers, path = line.split(":", 2)
        if controller in controllers.split(","):
            return path.lstrip("/")
    raise SandboxError(f"this process is in no {controller or 'v2'} cgroup")


def _v2_parent(own: Path) -> tuple[Path, bool]:
    """Where to create submission cgroups on cgroup v2: this process's cgroup, or its parent
    (when this process runs in a leaf of a delegated cgroup), whichever gives its children
    the memory and pids controllers (enabling them if it may); and whether it gives them the
    cpu controller too (enabled if it may)."""
    for parent in (own, own.parent):
        control = parent / "cgroup.subtree_control"
        if not {"memory", "pids"} <= set(control.read_text().split()):
            try:
                control.write_text("+memory +pids")
            except OSError:
                continue
        if "cpu" not in control.read_text().split():
            with contextlib.suppress(OSError):
                control.write_text("+cpu")
        return parent, "cpu" in control.read_text().split()
    raise SandboxError(f"cgroup v2: neither {own} nor its parent can give its children the "
                       "memory and pids controllers")


def _remove_stale(parent: Path) -> None:
    """Remove the empty submission cgroups under ``parent`` whose supervisor is gone."""
    for folder in parent.glob("cnn-sandbox-*-*"):
        pid = folder.name.rsplit("-", 1)[1]
        if pid.isdigit() and not Path(f"/proc/{pid}").exists():
            try:
                folder.rmdir()
            except OSError:  # still has processes, or not ours
                pass


# --- availability ---------------------------------------------------------------------------

def check() -> list[str]:
    """The Linux features the sandbox needs that are missing here, one sentence each (and
    an interpreter the sandbox could not start)."""
    missing = []
    folder = os.path.dirname(os.path.abspath(sys.executable))
    if os.path.realpath(folder) != folder:  # the kernel starts by this name; only the real
        missing.append(f"the interpreter's folder {folder} is a link to "  # one is shown
                       f"{os.path.realpath(folder)}: run the grader from that folder or a "
                       "virtual environment of its own")
    if platform.machine() not in SYS_PIVOT_ROOT:
        missing.append(f"pivot_root: no system call number known for {platform.machine()}")
    else:
        probe = subprocess.run([sys.executable, "-m", "course.grading.sandbox", "--probe"],
                               check=False, capture_output=True, text=True, timeout=60)
        if probe.returncode != 0:
            missing.append((probe.stderr.strip().splitlines() or ["probe failed"])[-1])
    try:
        Cgroup.create("probe", 2 ** 30, 64).remove()
    except (SandboxError, OSError) as error:
        missing.append(f"no writable cgroup with the memory and pids controllers ({error})")
    return missing


def _probe() -> None:
    """Make the namespaces and pivot into a tmpfs root, in a child; exit 1 with a reason."""
    uid, gid = os.getuid(), os.getgid()
    try:
        _unshare(CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWIPC
                 | CLONE_NEWUTS)
        _map_ids(0, uid, gid)
    except OSError as error:
        sys.exit(f"no unprivileged user namespaces ({error})")
    pid = os.fork()
    if pid == 0:
        try:
            _mount(None, "/", None, MS_REC | MS_PRIVATE)
            _mount("tmpfs", "/tmp", "tmpfs", 0, "size=64k")
            os.mkdir("/tmp/old")
            os.chdir("/tmp")
            _check(_libc.syscall(SYS_PIVOT_ROOT[platform.machine()], b".", b"old"),
                   "pivot_root")
            os._exit(0)
        except OSError as error:
            print(f"no pivot_root or bind mounts in a user namespace ({error})",
                  file=sys.stderr, flush=True)
            os._exit(1)
    sys.exit(os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]))


# --- inside: the new root -------------------------------------------------------------------

def _statvfs_flags(path: str) -> int:
    """The mount flags of ``path`` that a remount in a user namespace must keep."""
    st = os.statvfs(path).f_flag
    flags = st & (MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_NOATIME | MS_NODIRATIME)
    if not st & os.ST_NOATIME:
        flags |= MS_RELATIME if st & os.ST_RELATIME else MS_STRICTATIME
    return flags


def _mount_points_under(path: str) -> list[str]:
    """The mount points at or under ``path`` in this mount namespace."""
    points = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        point = re.sub(r"\\([0-7]{3})", lambda m: chr(int(m[1], 8)), line.split()[4])
        if point == path or point.startswith(path.rstrip("/") + "/"):
            points.append(point)
    return points


def _bind(source: str, target: str, readonly: bool) -> None:
    """Bind ``source`` (a path or /proc/self/fd/N) on ``target``, read-only if asked (with
    every mount under it)."""
    _mount(source, target, None, MS_BIND | MS_REC)
    if readonly:
        for point in _mount_points_under(target):
            _mount(None, point, None,
                   MS_REMOUNT | MS_BIND | MS_RDONLY | _statvfs_flags(point))


def _make_point(path: str, directory: bool) -> None:
    """Create an empty folder or file to mount on, with its parents, if it is not there."""
    if os.path.lexists(path):
        return
    os.makedirs(os.path.dirname(path), exist_ok=True)
    if directory:
        os.mkdir(path)
    else:
        os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o644))


def _python_paths() -> list[str]:
    """The interpreter's installations (venv and base), as real paths."""
    paths = {os.path.realpath(p) for p in (sys.prefix, sys.base_prefix, sys.exec_prefix)}
    paths.add(os.path.dirname(os.path.dirname(os.path.realpath(sys.executable))))
    return sorted(paths)


def _visible(settings: Settings, cwd: str, files: list[str]) -> tuple[list[str], list[str]]:
    """(read-only paths, writable paths) of the new root, as real paths."""
    utils = str(HELPERS)
    readonly = [p for p in SYSTEM_DIRS if os.path.isdir(p) and not os.path.islink(p)]
    readonly += [*_python_paths(), utils, *(os.path.realpath(p) for p in settings.readonly),
                 *(os.path.realpath(f) for f in files)]
    return readonly, [cwd, os.path.realpath(settings.runtime)]


def _inside_or_at(path: str, folders: list[str]) -> bool:
    return any(path == f or path.startswith(f.rstrip("/") + "/") for f in folders)


def _build_root(settings: Settings, cwd: str, files: list[str]) -> None:
    """In the new user and mount namespaces: make the allowlist root and pivot into it."""
    readonly, writable = _visible(settings, cwd, files)
    for path in readonly:
        if not os.path.exists(path):
            raise SandboxError(f"read-only path {path} does not exist")
    # keep only the outermost read-only paths (a bind of a folder already shows its content)
    readonly = list(dict.fromkeys(readonly))
    readonly = [p for p in readonly if not _inside_or_at(
        os.path.dirname(p), [q for q in readonly if q != p])]
    handles = {p: os.open(p, os.O_PATH) for p in readonly}  # /tmp is covered next
    _mount(None, "/", None, MS_REC | MS_PRIVATE)
    root = "/tmp"
    _mount("sandbox-root", root, "tmpfs", MS_NOSUID | MS_NODEV, "size=1m,mode=0755")
    scratch = f"{root}/.scratch"
    os.mkdir(scratch)
    _mount("sandbox-disk", scratch, "tmpfs", MS_NOSUID | MS_NODEV,
           f"size={settings.disk_mb}m,nr_inodes={64 * settings.disk_mb},mode=0700")
    mounts = [(p, f"/proc/self/fd/{handles[p]}", True) for p in readonly]
    for index, path in enumerate([*writable, "/tmp", "/dev/shm"]):
        os.mkdir(f"{scratch}/{index}")
        mounts.append((path, f"{scratch}/{index}", False))
    for path, source, ro in sorted(mounts, key=lambda m: m[0].count("/")):
        _make_point(root + path, os.path.isdir(source))
        _bind(source, root + path, ro)
    for device in DEVICES:
        _make_point(f"{root}/dev/{device}", directory=False)
        _bind(f"/dev/{device}", f"{root}/dev/{device}", readonly=False)
    for name, target in (("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0"),
                         ("stdout", "/proc/self/fd/1"), ("stderr", "/proc/self/fd/2")):
        os.symlink(target, f"{root}/dev/{name}")
    for path in SYSTEM_DIRS:  # merged /usr: /bin -> usr/bin and so on
        if os.path.islink(path):
            os.symlink(os.readlink(path), root + path)
    _etc(root, cwd)
    for handle in handles.values():
        os.close(handle)
    _make_point(f"{root}/proc", directory=True)
    _mount("proc", f"{root}/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
    for name in PROC_READONLY:
        if os.path.exists(f"{root}/proc/{name}"):
            _bind(f"{root}/proc/{name}", f"{root}/proc/{name}", readonly=True)
    for name in PROC_MASKED:
        if os.path.exists(f"{root}/proc/{name}"):
            _bind("/dev/null", f"{root}/proc/{name}", readonly=True)
    _check(_libc.umount2(scratch.encode(), MNT_DETACH), "umount scratch")
    os.rmdir(scratch)
    os.chdir(root)
    _check(_libc.syscall(SYS_PIVOT_ROOT[platform.machine()], b".", b"."), "pivot_root")
    _check(_libc.umount2(b".", MNT_DETACH), "detach the old root")
    os.chdir("/")
    _mount(None, "/", None, MS_REMOUNT | MS_BIND | MS_RDONLY | _statvfs_flags("/"))


def _etc(root: str, home: str) -> None:
    """A few files of /etc (bound read-only or copied as links), and a passwd and group that
    name only the sandbox's user."""
    os.makedirs(f"{root}/etc", exist_ok=True)
    for name in ETC_FILES:
        path = f"/etc/{name}"
        if os.path.islink(path):
            os.symlink(os.readlink(path), f"{root}{path}")
        elif os.path.exists(path):
            _make_point(root + path, os.path.isdir(path))
            _bind(path, root + path, readonly=True)
    Path(f"{root}/etc/passwd").write_text(
        f"student:x:{SANDBOX_UID}:{SANDBOX_UID}:student:{home}:/bin/sh\n")
    Path(f"{root}/etc/group").write_text(f"student:x:{SANDBOX_UID}:\n")


PER_KERNEL_VARIABLES = ("HOME", "MPLCONFIGDIR")  # set by ``environment`` for each command


def environment(settings: Settings, cwd: str, outside: dict[str, str]) -> dict[str, str]:
    """The command's whole environment: ``settings.env``, the variables of ``settings.inherit``
    that are set in ``outside`` (the environment the sandbox was started from), and a home and
    a matplotlib folder of its own."""
    env = dict(settings.env)
    env.update({k: outside[k] for k in settings.inherit if k in outside})
    env.update(HOME=cwd, MPLCONFIGDIR="/tmp/matplotlib")
    return env


def _init(settings: Settings, cwd: str, files: list[str], command: list[str],
          env: dict[str, str], in_process: dict[str, str] | None) -> None:
    """PID 1 of the sandbox: build the root, lock it, start ``command``, pass signals on to it,
    reap orphans, and exit with its status (which ends every process in the namespace).
    ``in_process``: None, or this process already holds the command's libraries (a fork of
    the fork server), and the command runs in its fork instead of a new interpreter, with the
    environment variables those libraries set when they were imported (``in_process``)."""
    uid, gid = os.getuid(), os.getgid()
    _build_root(settings, cwd, files)
    _unshare(CLONE_NEWUSER | CLONE_NEWNS)  # locks the mounts; no privilege over them
    _map_ids(SANDBOX_UID, uid, gid)
    _prctl(PR_SET_NO_NEW_PRIVS, 1)
    memory = settings.memory_mb * 2 ** 20
    if in_process is not None:  # the address space the libraries already take comes on top
        memory += int(Path("/proc/self/statm").read_text().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    child = os.fork()
    if child == 0:
        try:
            for sig in (signal.SIGINT, signal.SIGTERM):
                signal.signal(sig, signal.SIG_DFL)
            os.chdir(cwd)
            if in_process is not None:
                _run_module_here(command, {**in_process, **env})
            os.execvpe(command[0], command, env)
        except OSError as error:
            print(f"sandbox: cannot run {command[0]}: {error}", file=sys.stderr, flush=True)
        os._exit(127)
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda number, _: _signal(child, number))
    while True:
        pid, status = os.wait()
        if pid == child:
            os._exit(os.waitstatus_to_exitcode(status) % 256)


def _run_module_here(command: list[str], env: dict[str, str]) -> None:
    """Run ``command``, ``python -m MODULE ARGS...``, in this process, as a new interpreter
    would: with ``env`` as its environment, its arguments, the working folder first on its path,
    a fresh seed for numpy's global generator, and none of the grader's modules. Exits with the
    module's status."""
    import atexit
    import runpy

    os.environ.clear()
    os.environ.update(env)
    for name in [n for n in sys.modules if n == "course" or n.startswith("course.")]:
        del sys.modules[name]
    module = command[2]
    sys.argv = [module, *command[3:]]
    sys.path[0] = os.getcwd()
    if "numpy" in sys.modules:
        sys.modules["numpy"].random.seed()
    code = 0
    try:
        runpy.run_module(module, run_name="__main__", alter_sys=True)
    except SystemExit as exit_:
        code = exit_.code if isinstance(exit_.code, int) else (exit_.code is not None)
    except BaseException:  # noqa: BLE001 (the module failed: say why, as python -m would)
        traceback.print_exc()
        code = 1
    atexit._run_exitfuncs()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def _process_fd(pid: int) -> int | None:
    """A file descriptor of the process ``pid`` that becomes readable when it ends (a pidfd),
    or None where the kernel has none."""
    try:
        return os.pidfd_open(pid)
    except (AttributeError, OSError):
        return None


def _signal(pid: int, number: int) -> None:
    """Pass signal ``number`` on to ``pid`` (0: not started yet) unless it is gone."""
    try:
        if pid:
            os.kill(pid, number)
    except ProcessLookupError:
        pass


def _namespaces(settings: Settings, cwd: str, files: list[str], command: list[str],
                env: dict[str, str], in_process: dict[str, str] | None, cgroup: Cgroup,
                report: int) -> None:
    """The supervisor's child: join the cgroup, make the namespaces, start PID 1, report its
    pid on ``report``, wait for it and exit with its status."""
    if in_process is not None:  # no exec will close the supervisor's other files: close them now
        os.closerange(3, report)
        os.closerange(report + 1, os.sysconf("SC_OPEN_MAX"))
    os.setsid()  # signals to the supervisor's process group do not reach the sandbox
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, signal.SIG_DFL)
    cgroup.join()
    uid, gid = os.getuid(), os.getgid()
    _unshare(CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWIPC
             | CLONE_NEWUTS)
    _map_ids(0, uid, gid)
    init = os.fork()
    if init == 0:
        try:
            os.close(report)  # only this process reports
            _prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
            _init(settings, cwd, files, command, env, in_process)
        except BaseException:  # noqa: BLE001 (any failure: say it and end the sandbox)
            traceback.print_exc()
        os._exit(126)
    os.write(report, str(init).encode())
    os.close(report)
    os._exit(os.waitstatus_to_exitcode(os.waitpid(init, 0)[1]) % 256)


# --- the supervisor -------------------------------------------------------------------------

def _socket_paths(connection_file: str | None, runtime: str) -> list[str]:
    """The ipc socket paths the kernel will bind, from its connection file; each must lie in
    the runtime folder."""
    if connection_file is None:
        return []
    info = json.loads(Path(connection_file).read_text())
    if info.get("transport") != "ipc":
        raise SandboxError("the sandbox has no network: start the kernel with transport 'ipc' "
                           "(c.KernelManager.transport = 'ipc')")
    ports = [info[k] for k in ("shell_port", "iopub_port", "stdin_port", "control_port",
                               "hb_port")]
    paths = [os.path.join(os.path.realpath(os.path.dirname(os.path.abspath(info["ip"]))),
                          f"{os.path.basename(info['ip'])}-{port}") for port in ports]
    for path in paths:
        if os.path.dirname(path) != runtime:
            raise SandboxError(f"the kernel's socket {path} is not in the runtime folder "
                               f"{runtime}")
    return paths


def _validate(settings: Settings, settings_path: str | None, cwd: str, files: list[str]) -> None:
    """Refuse settings that would show the markers or the settings file to the sandbox."""
    readonly, writable = _visible(settings, cwd, files)
    if not os.path.isdir(settings.runtime):
        raise SandboxError(f"runtime folder {settings.runtime} does not exist")
    hidden = [os.path.realpath(settings.markers)]
    if settings.output_file:
        hidden.append(os.path.realpath(settings.output_file))
    if settings_path:
        hidden.append(os.path.realpath(settings_path))
    for path in hidden:
        if _inside_or_at(path, readonly + writable):
            raise SandboxError(f"{path} would be visible inside the sandbox")


class _Supervisor:
    """Runs one sandbox: starts it, enforces the limits, records the hits."""

    def __init__(self, settings: Settings, cwd: str):
        self.settings, self.cwd = settings, cwd
        self.hit: tuple[Limit, str] | None = None
        self.init = 0  # the host pid of the sandbox's PID 1
        self.output = 0  # bytes of stdout and stderr so far
        self.disk_recorded = False  # whether the full disk is in the markers

    def kill(self, limit: Limit, message: str) -> None:
        """End every process of the submission because of ``limit``."""
        if self.hit is None:
            self.hit = (limit, message)
        if self.init:
            os.kill(self.init, signal.SIGKILL)
        self.cgroup.kill()

    def wall_budget(self) -> float:
        """Seconds left of the wall-time limit, which counts from the first start under these
        settings: a kernel started again (after the last one was killed) gets what is left."""
        s = self.settings
        path = Path(s.markers) / f"{s.name}.started"
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        except FileExistsError:
            first = path.read_text()
            return s.wall_s - (time.time() - float(first)) if first else s.wall_s
        os.write(fd, repr(time.time()).encode())
        os.close(fd)
        return s.wall_s

    def check_limits(self, started: float) -> None:
        s = self.settings
        if time.monotonic() - started > self.budget:
            self.kill(Limit.WALL_TIME, f"killed after {s.wall_s:g} s")
        elif self.cgroup.out_of_memory():
            self.kill(Limit.MEMORY, f"its processes together used more than {s.memory_mb} MiB")
        elif self.cgroup.fork_refusals():
            self.kill(Limit.PROCESSES, f"it tried to run more than {s.max_processes} processes "
                                   "and threads")
        elif self.output > s.output_mb * 2 ** 20:
            self.kill(Limit.OUTPUT, f"it wrote more than {s.output_mb} MiB to stdout and stderr")
        elif self.init and not self.disk_recorded and self._disk_full():
            # not killed: the tmpfs refused the write, in the cell that made it; a kill here
            # would end whichever cell runs when this poll comes, and the grade with it
            self.disk_recorded = True
            self._record(Limit.DISK, f"it filled its {s.disk_mb} MiB of writable space")

    def _disk_full(self) -> bool:
        try:
            stats = os.statvfs(f"/proc/{self.init}/root{self.cwd}")
        except OSError:  # gone
            return False
        if stats.f_blocks * stats.f_frsize != self.settings.disk_mb * 2 ** 20:
            return False  # not the sandbox's tmpfs yet
        return stats.f_bavail == 0 or stats.f_favail == 0

    def run(self, command: list[str], files: list[str], sockets: list[str],
            env: dict[str, str], in_process: dict[str, str] | None = None,
            watch: int | None = None) -> int:
        """Run the sandbox to its end; return its exit status. ``watch``: a connection whose
        closing ends the sandbox (the fork server's client, killed)."""
        s = self.settings
        self.budget = self.wall_budget()
        if self.budget <= 0:
            self._record(Limit.WALL_TIME, f"not started: its {s.wall_s:g} s were used up")
            return 128 + signal.SIGKILL
        self.cgroup = Cgroup.create(s.name, (s.memory_mb + s.disk_mb) * 2 ** 20,
                                    s.max_processes, s.cpus)
        report_r, report_w = os.pipe()
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        started = time.monotonic()
        supervisor = os.getpid()
        child = os.fork()
        if child == 0:
            try:
                die_with(supervisor)
                os.close(report_r)
                null = os.open("/dev/null", os.O_RDONLY)
                for fd, target in ((null, 0), (out_w, 1), (err_w, 2)):
                    os.dup2(fd, target)
                _namespaces(s, self.cwd, files, command, env, in_process, self.cgroup,
                            report_w)
            except BaseException:  # noqa: BLE001 (any failure: say it and end the child)
                traceback.print_exc()
            os._exit(126)
        for fd in (report_w, out_w, err_w):
            os.close(fd)
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda number, _: _signal(self.init, number))
        out, err = 1, 2
        try:
            self.init = int(os.read(report_r, 32) or 0)
            os.close(report_r)
            for path in sockets:
                if os.path.lexists(path):
                    os.unlink(path)
                os.symlink(f"/proc/{self.init}/root{path}", path)
            if s.output_file:
                out = err = os.open(s.output_file, os.O_WRONLY | os.O_CREAT | os.O_APPEND
                                    | os.O_NOFOLLOW, 0o600)
            status = self._copy_output(child, started, {out_r: out, err_r: err}, watch)
        finally:
            if s.output_file and out != 1:
                os.close(out)
            for path in sockets:
                if os.path.islink(path):
                    os.unlink(path)
            self.cgroup.remove()
        if self.hit:
            self._record(*self.hit)
        if watch is not None:  # not this process's parent's child: say what it cost
            usage = resource.getrusage(resource.RUSAGE_CHILDREN)
            with open(Path(s.markers) / f"{s.name}.cpu", "a") as handle:
                handle.write(f"{usage.ru_utime + usage.ru_stime}\n")
        return status

    def _copy_output(self, child: int, started: float, pipes: dict[int, int],
                     watch: int | None) -> int:
        """Copy the sandbox's stdout and stderr while checking the limits; return the exit
        status of the sandbox."""
        status = None
        ended = _process_fd(child)  # readable once the child has ended: no wait of POLL_S
        while status is None or pipes:
            waited = [*pipes, *([watch] if watch is not None else []),
                      *([ended] if status is None and ended is not None else [])]
            ready, _, _ = select.select(waited, [], [], POLL_S)
            if watch in ready and not os.read(watch, 1024):  # the client is gone
                watch = None
                if self.init:
                    os.kill(self.init, signal.SIGKILL)
                self.cgroup.kill()
            for fd in (fd for fd in ready if fd in pipes):
                data = os.read(fd, 65536)
                if not data:
                    del pipes[fd]
                    os.close(fd)
                    continue
                if self.output <= self.settings.output_mb * 2 ** 20:
                    os.write(pipes[fd], data)
                self.output += len(data)
            if status is None:
                pid, code = os.waitpid(child, os.WNOHANG)
                if pid:
                    status = os.waitstatus_to_exitcode(code)
                self.check_limits(started)
        if ended is not None:
            os.close(ended)
        return status

    def _record(self, limit: Limit, message: str) -> None:
        markers = Path(self.settings.markers)
        markers.mkdir(parents=True, exist_ok=True)
        with open(markers / f"{self.settings.name}.jsonl", "a") as handle:
            handle.write(json.dumps({"limit": limit, "message": message, "cwd": self.cwd})
                         + "\n")


def run(settings: Settings, command: list[str], connection_file: str | None = None,
        settings_path: str | None = None, outside: dict[str, str] | None = None,
        in_process: dict[str, str] | None = None, watch: int | None = None) -> int:
    """Run ``command`` in the sandbox from this process's working folder; return its exit
    status (negative: the signal that ended it). Raises SandboxError when it cannot.
    ``outside``: the environment it is started from (this process's by default); the fork
    server's ``in_process`` and ``watch``: see ``_init`` and ``_Supervisor.run``."""
    cwd = os.path.realpath(os.getcwd())
    settings = dataclasses.replace(settings, runtime=os.path.realpath(settings.runtime))
    files = [connection_file] if connection_file else []
    _validate(settings, settings_path, cwd, files)
    sockets = _socket_paths(connection_file, settings.runtime)
    env = environment(settings, cwd, dict(os.environ) if outside is None else outside)
    return _Supervisor(settings, cwd).run(command, files, sockets, env, in_process, watch)


def cpu_seconds(settings: Settings) -> float:
    """CPU seconds of the sandboxes run under ``settings`` by the fork server (whose processes
    are not children of the process that asked for them)."""
    path = Path(settings.markers) / f"{settings.name}.cpu"
    return sum(float(line) for line in path.read_text().split()) if path.exists() else 0.0


USAGE = "--settings FILE [--connection-file FILE] [--parent PID] -- COMMAND..."


def option(options: list[str], name: str) -> str | None:
    """The value after ``name`` in a launcher's ``options``, or None."""
    return options[options.index(name) + 1] if name in options[:-1] else None


def die_with_kernel_manager(options: list[str]) -> None:
    """A launcher's death signal: ``die_with`` the kernel manager its ``--parent`` names."""
    parent = option(options, "--parent")
    die_with(int(parent) if parent else None)


def main(args: list[str]) -> None:
    """``--probe`` | ``USAGE``"""
    if args == ["--probe"]:
        _probe()
    if "--" not in args or "--settings" not in args:
        sys.exit(f"usage: python -m course.grading.sandbox {USAGE}")
    options, command = args[:args.index("--")], args[args.index("--") + 1:]
    settings_path, connection_file = option(options, "--settings"), option(options,
                                                                           "--connection-file")
    # A grading worker that dies (killed, out of memory) takes its sandbox with it (the
    # sandbox's processes have the same death signal; its empty cgroup is removed later).
    die_with_kernel_manager(options)
    try:
        code = run(Settings.read(settings_path), command, connection_file, settings_path)
    except SandboxError as error:
        sys.exit(f"sandbox: {error}")
    sys.exit(code if code >= 0 else 128 - code)


if __name__ == "__main__":
    main(sys.argv[1:])
