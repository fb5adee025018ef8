"""Grade one submission on a worker: the task ``grade-class`` sends to every Dask worker.

A task receives plain data, a ``Bundle`` (the assignment's sources, an empty gradebook, the
reference answers of its test cases and the course's nbgrader config; the same for every
submission of the assignment) and a ``Request`` (one student's sanitized notebook and the
limits). It grades the notebook in a scratch nbgrader course of its own, under the worker's
temporary folder, and returns an ``Outcome``, again plain data: the grades nbgrader saved, the
autograded notebook and feedback files, nbgrader's log and the time it took. Nothing is written
where another task or the class course could see it, so a worker on another machine needs
only the course's code (the same version: checked) and its data, not a shared file system.

In the task, nbgrader's autograde (with ``TrustedExecute``) and generate_feedback run through
nbgrader's API in the worker's process; the student's code runs only in the kernel, which the
sandbox (``course.grading.sandbox``) starts in its own namespaces and cgroup.
"""

from __future__ import annotations

import functools
import hashlib
import os
import re
import resource
import shutil
import stat
import tempfile
import threading
import time
import warnings
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING

from course.grading.limits import Limits
from course.trusted import failure

if TYPE_CHECKING:
    from course.grading.sandbox import Limit

# How many threads numpy's BLAS, OpenMP and TensorFlow use (they would take every core each,
# and kernels graded side by side would fight over them).
THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
                    "TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS")
MAX_RETURNED_BYTES = 64 * 2 ** 20  # largest autograded notebook or feedback file returned
FAILURE_FILE = "grader-failure.json"  # in the scratch course (course.trusted.failure)
_EXCEPTION_LINE = re.compile(r"^\s*[A-Za-z_.]*(Error|Exception): ")  # a traceback's last line
_REPO = Path(__file__).resolve().parents[2]
_CODE = (_REPO / "utils", _REPO / "course")  # the helpers and the grader


@dataclass(frozen=True)
class Bundle:
    """What every task of one assignment needs, sent once to each worker."""

    assignment_id: str
    notebook: str  # the notebook's file name
    config: str  # the course's nbgrader_config.py
    gradebook: bytes  # a gradebook that knows the assignment and holds no student
    sources: dict[str, bytes]  # "<assignment id>/..." (under source/) -> content
    expected: dict[str, bytes]  # the reference answers' cache: "<assignment id>/<key>.json"
    code: str  # code_version() of the process that made the bundle

    @functools.cached_property  # every task of the assignment asks for it
    def key(self) -> str:
        """A hash of everything that decides the grades of this assignment's submissions."""
        digest = hashlib.sha256()
        for part in (self.assignment_id, self.notebook, self.config, self.code):
            digest.update(part.encode() + b"\0")
        hash_files(digest, self.sources)
        hash_files(digest, self.expected)
        return digest.hexdigest()


def hash_files(digest, files: dict[str, bytes]) -> None:
    """Add each file of ``files`` ({name: content}), its name and its content's hash, to
    ``digest`` (a hashlib object), in name order."""
    for name in sorted(files):
        digest.update(name.encode() + b"\0" + hashlib.sha256(files[name]).digest())


@dataclass(frozen=True)
class Request:
    """One submission to grade: the student, the sanitized notebook (JSON), the limits."""

    student: str
    notebook: bytes
    limits: Limits = Limits()
    sandboxed: bool = True
    fork_server: bool = True  # sandboxed kernels start from the worker's fork server



class Ending(str, Enum):
    """How one grading task ended; decides what the class record does with the submission."""

    GRADED = "graded"  # nbgrader ran to the end: the grades are the submission's
    NBGRADER_FAILED = "nbgrader failed"  # nbgrader stopped on this notebook: final
    GRADER_FAILED = "grader failed"  # the grader itself failed on it (trusted.failure): again
    WORKER_UNFIT = "worker unfit"  # another code version, or no sandbox: graded again
    TASK_FAILED = "task failed"  # the task raised (not the notebook): graded again
    WORKERS_DIED = "workers died"  # every worker that tried it died (KilledWorker): final

    @property
    def final(self) -> bool:
        """Whether the next run keeps this ending instead of grading the submission again."""
        return self in (Ending.GRADED, Ending.NBGRADER_FAILED, Ending.WORKERS_DIED)


@dataclass
class Outcome:
    """What grading one submission gave, as plain data.

    ``grades``: {grade id: (auto score, manual score, extra credit)} of the graded cells;
    ``files``: {"autograded/<name>" or "feedback/<name>": content}; ``left_out``: the files
    nbgrader wrote that are not returned (over ``MAX_RETURNED_BYTES``, or not regular files);
    ``limits``: the sandbox limits hit; ``seconds``: wall time of the task; ``cpu_seconds``:
    CPU time of the task and its kernels; ``worker``: the worker's host name and process."""

    ending: Ending
    error: str = ""  # why it did not end GRADED, in words (for the status)
    limits: list[Limit] = field(default_factory=list)
    grades: dict[str, tuple] = field(default_factory=dict)
    timestamp: str | None = None
    files: dict[str, bytes] = field(default_factory=dict)
    left_out: list[str] = field(default_factory=list)
    log: str = ""
    seconds: float | None = None  # None: the task never finished
    cpu_seconds: float | None = None
    worker: str = ""


@functools.lru_cache(maxsize=1)
def code_version() -> str:
    """A hash of the course's Python code (utils/ and course/, the grader): a worker whose
    checkout differs from the grading machine's would grade differently."""
    digest = hashlib.sha256()
    for path in sorted(p for package in _CODE for p in package.rglob("*.py")):
        digest.update(str(path.relative_to(_REPO)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


@functools.lru_cache(maxsize=1)
def _sandbox_missing() -> tuple[str, ...]:
    from course.grading import sandbox

    return tuple(sandbox.check())


_unpacking = threading.Lock()


def _unpacked(bundle: Bundle) -> Path:
    """This worker's copy of the bundle's sources and reference answers, made once in its
    local folder (which Dask removes with the worker)."""
    from distributed import get_worker

    root = Path(get_worker().local_directory) / "cnn-grading" / bundle.key[:16]
    with _unpacking:
        if not (root / "done").exists():
            for folder, files in (("source", bundle.sources), ("expected", bundle.expected)):
                for name, content in files.items():
                    path = root / folder / name
                    path.parent.mkdir(parents=True, exist_ok=True)
                    path.write_bytes(content)
            (root / "done").touch()
    return root


def kernel_environment(limits: Limits) -> dict[str, str]:
    """The whole environment of a sandboxed kernel (before the sandbox adds its own folders)."""
    from course.execution import GRADING
    from utils import data

    return {**GRADING, "PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8",
            data.HOME_ENV: str(data.course_home()),
            **dict.fromkeys(THREAD_VARIABLES, str(limits.threads))}


# The source notebooks of the class to be graded (separated by os.pathsep), when the worker is
# started for it (engine.cluster): it imports their modules and starts (or finds) its fork
# server while the class is prepared.
NOTEBOOKS_ENV = "CNN_COURSE_GRADING_NOTEBOOKS"
# The variables a local cluster's worker removes as it starts (JSON), which the process it was
# forked from has and grade-class no longer has (engine._worker_environment).
UNSET_ENV = "CNN_COURSE_UNSET_VARIABLES"
# The fork server that grade-class started for every worker of its local cluster
# (engine.cluster; ForkServer.description), when there is one.
SHARED_SERVER_ENV = "CNN_COURSE_FORK_SERVER"
_fork_server = None  # the fork server this worker uses (course.grading.forkserver)


def fork_server(env: dict[str, str], libraries: tuple[str, ...]) -> Path:
    """The socket of this worker's fork server for kernels of environment ``env`` that use
    ``libraries`` (``forkserver.libraries_used``): the local cluster's shared one
    (``SHARED_SERVER_ENV``) or one of this worker's, started the first time, and again when
    the one in use died, when another environment is asked for, or when it lacks one of the
    libraries (the new one imports those it had too). It forks this process's reference
    children as well (``trusted.reference_process``)."""
    global _fork_server
    from course.grading.forkserver import SharedForkServer, serving
    from course.trusted import reference_process

    if _fork_server is None and (shared := os.environ.get(SHARED_SERVER_ENV)):
        _fork_server = SharedForkServer(shared)
    _fork_server = serving(_fork_server, env, libraries)
    reference_process.use_server(_fork_server)
    return _fork_server.socket


def _scratch_course(bundle: Bundle, request: Request, root: Path, runtime: Path,
                    libraries: tuple[str, ...]) -> Path:
    """A scratch course for one submission in ``root``: sources, an empty gradebook, the
    notebook, a config with the limits and (when sandboxed) the kernel's sandbox, whose
    kernel uses ``libraries``."""
    from course.grading import sandbox
    from utils import data

    shared, a, limits = _unpacked(bundle), bundle.assignment_id, request.limits
    shutil.copytree(shared / "source" / a, root / "source" / a)
    (root / "gradebook.db").write_bytes(bundle.gradebook)
    folder = root / "submitted" / request.student / a
    folder.mkdir(parents=True)
    (folder / bundle.notebook).write_bytes(request.notebook)
    config = bundle.config + (
        "\n# Class grading: this submission's limits, sources and sandbox\n"
        f"c.CourseDirectory.root = {str(root)!r}\n"
        f"c.Execute.timeout = {limits.cell_timeout}\n"
        f"c.TrustedExecute.source_directory = {str(root / 'source')!r}\n"
        f"c.TrustedExecute.expected_cache = {str(shared / 'expected')!r}\n"
        f"c.TrustedExecute.failure_file = {str(root / FAILURE_FILE)!r}\n")
    if request.sandboxed:
        settings = sandbox.Settings(
            name=request.student, runtime=str(runtime), markers=str(root / "markers"),
            readonly=[str(p) for p in data.data_folders()], env=kernel_environment(limits),
            memory_mb=limits.memory_mb, max_processes=limits.max_processes,
            disk_mb=limits.disk_mb, output_mb=limits.output_mb, wall_s=limits.notebook_timeout,
            cpus=limits.cpus,
            output_file=str(root / "kernel.log"))
        settings.write(root / "sandbox.json")
        sandbox.kernelspec(root / "jupyter", root / "sandbox.json",
                           fork_server(settings.env, libraries) if request.fork_server
                           else None)
        config += (f"c.Execute.kernel_name = {sandbox.KERNEL_NAME!r}\n"
                   "c.TrustedExecute.terminate_kernel = True\n"
                   "c.KernelManager.transport = 'ipc'\n"
                   f"c.KernelManager.ip = {str(runtime / 'kernel')!r}\n")
    (root / "nbgrader_config.py").write_text(config)
    return root


def _run_nbgrader(root: Path, assignment_id: str, student: str) -> tuple[bool, str]:
    """nbgrader's autograde, then (when it succeeded) generate_feedback, through its API with
    the scratch course's config; returns (success, nbgrader's log)."""
    from sqlalchemy.exc import SAWarning

    from course.execution import GRADING, nbgrader_api

    warnings.simplefilter("ignore", SAWarning)  # nbgrader's own autoflush notices
    os.environ.update(GRADING)
    os.environ["JUPYTER_PATH"] = str(root / "jupyter")
    started = time.perf_counter()
    api = nbgrader_api(root)
    result = api.autograde(assignment_id, student, force=True, create=True)
    log = result.get("log", "") + result.get("error", "")
    autograded = time.perf_counter()
    if result.get("success"):
        log += api.generate_feedback(assignment_id, student, force=True).get("log", "")
    log += (f"\n[grading_worker] autograde {autograded - started:.2f} s, feedback "
            f"{time.perf_counter() - autograded:.2f} s\n")
    return bool(result.get("success")), log


def _last_error(log: str) -> str:
    """The last exception line of nbgrader's log (or its last ERROR line)."""
    lines = log.splitlines()
    errors = ([line.strip() for line in lines if _EXCEPTION_LINE.match(line)]
              or [line for line in lines if "ERROR" in line])
    return (errors or ["see its log"])[-1][:200]


def _grades(root: Path, assignment_id: str, student: str) -> tuple[dict, str | None]:
    """({grade id: (auto, manual, extra credit)}, submission timestamp) from the scratch
    gradebook."""
    from nbgrader.api import Gradebook, MissingEntry
    from sqlalchemy.exc import SAWarning

    with Gradebook(f"sqlite:///{root / 'gradebook.db'}") as gradebook, \
            warnings.catch_warnings():
        warnings.simplefilter("ignore", SAWarning)
        try:
            submission = gradebook.find_submission(assignment_id, student)
        except MissingEntry:
            return {}, None
        grades = {g.name: (g.auto_score, g.manual_score, g.extra_credit)
                  for notebook in submission.notebooks for g in notebook.grades}
        timestamp = submission.timestamp.isoformat() if submission.timestamp else None
    return grades, timestamp


def _regular_files(root: Path, assignment_id: str, student: str
                   ) -> tuple[dict[str, bytes], list[str]]:
    """({"autograded/<name>" | "feedback/<name>": content} of the regular files nbgrader wrote
    directly in the submission's autograded and feedback folders, none over
    MAX_RETURNED_BYTES; the others, each as "<kind>/<name> (why)")."""
    files, left_out = {}, []
    for kind in ("autograded", "feedback"):
        folder = root / kind / student / assignment_id
        if not folder.is_dir() or folder.is_symlink():
            continue
        for entry in folder.iterdir():
            info = os.lstat(entry)
            name = f"{kind}/{entry.name}"
            if not stat.S_ISREG(info.st_mode):
                left_out.append(f"{name} (not a regular file)")
            elif info.st_size > MAX_RETURNED_BYTES:
                left_out.append(f"{name} ({info.st_size / 2 ** 20:.0f} MiB, over the "
                                f"{MAX_RETURNED_BYTES // 2 ** 20} MiB returned)")
            else:
                files[name] = entry.read_bytes()
    return files, left_out


def _cpu_seconds() -> float:
    """CPU time of this thread and of this process's finished children (the kernels)."""
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.thread_time() + children.ru_utime + children.ru_stime


@functools.lru_cache(maxsize=None)  # the cluster's preload and fork server read it, then tasks
def _imports_cell(source: str) -> str:
    """The code of the imports cell (the first code cell) of ``source`` (a source notebook's
    text)."""
    import nbformat

    return next(c.source for c in nbformat.reads(source, as_version=4).cells
                if c.cell_type == "code")


@functools.lru_cache(maxsize=None)  # once per assignment, not once per submission
def _libraries(source: str) -> tuple[str, ...]:
    """The libraries the notebook ``source`` (a source notebook's text) uses, which the fork
    server imports before it forks (``forkserver.libraries_used``)."""
    from course.grading.forkserver import libraries_used

    return libraries_used(_imports_cell(source))


def local_fork_server(notebooks: list[Path]):
    """A fork server (``forkserver.ForkServer``), started now in this process, for the kernels
    and reference children of every worker of a local cluster that grades ``notebooks``
    (source notebooks) with the default limits: it imports while the workers start."""
    from course.grading.forkserver import ForkServer

    return ForkServer(kernel_environment(Limits()), tuple(dict.fromkeys(
        library for path in notebooks for library in _libraries(Path(path).read_text()))))


# What a worker process of a local cluster is forked with, imported (engine.cluster), besides
# the public test modules of the class's imports cells: what ``dask_setup`` and a task import.
WORKER_MODULES = ("distributed", "nbgrader.apps", "course.trusted.executor", __name__)
TEST_MODULES = "utils.public_tests."  # the package of the assignments' public test modules
TENSORFLOW = ("tensorflow", "keras")  # of forkserver.LIBRARIES (Keras imports TensorFlow)


def preload(notebooks: list[Path]) -> list[str]:
    """The modules a local cluster's worker processes are forked with, imported, to grade
    ``notebooks`` (source notebooks): ``WORKER_MODULES`` and the public test modules their
    imports cells import, which compare the answers (with what they import: TensorFlow for
    the assignments whose comparisons use it; the kernels' libraries are the fork server's)."""
    return list(dict.fromkeys([*WORKER_MODULES, *(
        name for path in notebooks
        for name in imported_modules_of_checks(Path(path).read_text()))]))


def answers_in_fork_save_an_import(source: str) -> bool:
    """Whether a fork of the fork server should compute the reference answers of the notebook
    ``source`` (a source notebook's text) for ``grade-class``: when its kernels import
    TensorFlow (seconds of CPU, which the server has spent already) and its checks, which
    ``grade-class`` imports to read the answers, do not. Otherwise ``grade-class`` computes
    them itself, sooner: it need not wait for the server's imports, and its numerical libraries
    keep its own threads (a fork's were set to one when the server imported them)."""
    from course.grading.forkserver import libraries_used

    checks = "".join(f"import {name}\n" for name in imported_modules_of_checks(source))
    return bool(set(TENSORFLOW) & set(_libraries(source))) and not (
        set(TENSORFLOW) & set(libraries_used(checks)))


def imported_modules_of_checks(source: str) -> list[str]:
    """The public test modules (``TEST_MODULES``) that the imports cell of the notebook
    ``source`` (a source notebook's text) imports."""
    from course.grading.forkserver import imported_modules

    return [name for name in imported_modules(_imports_cell(source))
            if name.startswith(TEST_MODULES)]


def _servers(source: str, limits: Limits) -> tuple[str, ...]:
    """Start this worker's fork server for the assignment of ``source`` (a source notebook's
    text) and kernels of ``limits``; return its libraries (``_libraries``). The server forks
    the reference children even where the kernels cannot be sandboxed or start without it."""
    libraries = _libraries(source)
    fork_server(kernel_environment(limits), libraries)
    return libraries


def dask_setup(worker=None) -> None:
    """Dask's preload hook (``dask worker --preload course.grading.worker``): import what
    a task needs while the worker starts, not in its first task (a local cluster's workers
    are forked with it imported: ``preload``), and start the fork server."""
    import contextlib
    import importlib
    import json

    for name in json.loads(os.environ.pop(UNSET_ENV, "[]")):
        os.environ.pop(name, None)
    code_version()
    for path in filter(None, os.environ.get(NOTEBOOKS_ENV, "").split(os.pathsep)):
        for name in preload([Path(path)]):
            with contextlib.suppress(ImportError):  # a name imported from a module
                importlib.import_module(name)
        _servers(Path(path).read_text(), Limits())


def grade(bundle: Bundle, request: Request) -> Outcome:
    """Grade one submission (the Dask task); never raises for a submission's own failures."""
    import socket

    from course.grading import sandbox

    started, cpu = time.perf_counter(), _cpu_seconds()
    outcome = Outcome(Ending.WORKER_UNFIT, worker=f"{socket.gethostname()}:{os.getpid()}")
    if bundle.code != code_version():
        outcome.error = (f"the worker {outcome.worker} runs another version of the course's "
                         "code: install the same commit on every worker")
    elif request.sandboxed and _sandbox_missing():
        outcome.error = (f"the worker {outcome.worker} cannot sandbox student code: "
                         + "; ".join(_sandbox_missing()))
    else:
        with tempfile.TemporaryDirectory(prefix="cnn-grade-") as scratch:
            # the socket folder's path must be short (107 bytes at most)
            root, runtime = Path(scratch) / "course", Path(scratch) / "r"
            runtime.mkdir()
            source = bundle.sources[f"{bundle.assignment_id}/{bundle.notebook}"].decode()
            _scratch_course(bundle, request, root, runtime, _servers(source, request.limits))
            a, student = bundle.assignment_id, request.student
            prepared = time.perf_counter()
            ok, outcome.log = _run_nbgrader(root, a, student)
            graded = time.perf_counter()
            outcome.ending = Ending.GRADED if ok else Ending.NBGRADER_FAILED
            outcome.error = "" if ok else _last_error(outcome.log)
            if failed := failure.read(root / FAILURE_FILE):
                outcome.ending = Ending.GRADER_FAILED
                outcome.error = (f"not graded: the grader failed on it ({failed}); it is "
                                 "graded again on the next run")
            kernel_log = root / "kernel.log"
            if kernel_log.is_file():  # what the kernel printed outside its cells
                outcome.log += "\n--- the kernel's own output ---\n" + kernel_log.read_text(
                    errors="replace")[-20000:]
            if request.sandboxed:
                settings = sandbox.Settings.read(root / "sandbox.json")
                outcome.limits = list(dict.fromkeys(h.limit for h in sandbox.limits_hit(settings)))
                cpu -= sandbox.cpu_seconds(settings)  # the fork server's kernels
            outcome.grades, outcome.timestamp = _grades(root, a, student)
            outcome.files, outcome.left_out = _regular_files(root, a, student)
            outcome.log += (f"[grading_worker] scratch course {prepared - started:.2f} s, "
                            f"results {time.perf_counter() - graded:.2f} s\n")
    outcome.seconds = time.perf_counter() - started
    outcome.cpu_seconds = _cpu_seconds() - cpu
    return outcome
