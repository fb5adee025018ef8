"""Grading a class on Dask: the local cluster, an existing one, workers that die, re-runs.

A small class of assignment 1 (the reference solution twice, the blank release, one wrong
zero_pad) is graded once on the local cluster that ``grade_class`` starts by itself; its
scores.csv is what every other way of grading the same notebooks must give. The other clusters
are real ones on loopback: a ``dask scheduler`` process and two ``dask worker`` processes, each
in its own process group, all killed when the test ends. On them the command line
``python -m course grade-class --scheduler`` must give the local scores; a worker killed
in the middle of a task must cost no grade (the task is graded again on the other worker); a
submission whose task takes its worker down every time it is tried must be marked
``KilledWorker`` without any score while its classmates are graded as usual. Re-running on a
graded folder grades only what is new or changed.

When every worker is replaced at once (each killed, each started again by its nanny), the
assignment's bundle is made again and every grade is still given.
"""

import csv
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time

import nbformat
import psutil
import pytest
from distributed import Client

from course import assignments
from course.assignments import REPO_ROOT
from course.grading import classroom, nbgrader_course, sandbox, worker
from course.grading.classroom import grade_class
from utils import data

A1 = assignments.get("C4W1A1_conv_step_by_step")
WRONG_ZERO_PAD = "def zero_pad(X, pad):\n    return X"
# Totals of the kinds of notebook: the reference solution, the blank release, the reference
# with a zero_pad that returns its input (test_zero_pad is worth 10 points).
TOTALS = {"good": 100, "blank": 0, "wrong_zero_pad": 90}
# student: the kind of notebook submitted (its scores must be the local run's for that kind)
LOCAL_CLASS = {"good": "good", "blank": "blank", "wrong_zero_pad": "wrong_zero_pad",
               "good_too": "good"}
BIGGER_CLASS = {**LOCAL_CLASS, "blank_too": "blank", "wrong_too": "wrong_zero_pad"}
# the victim's task comes last (grade-class submits the class in the order of the names)
VICTIM_CLASS = {"blank": "blank", "good": "good", "good_too": "good", "victim": "good"}
CLI_TIMEOUT = 240  # seconds for one grade-class command
STARTUP_TIMEOUT = 60  # seconds for the scheduler and workers to be up


def _notebooks():
    """{kind: notebook} of the three kinds of submission."""
    source = nbformat.read(A1.source_notebook, as_version=4)
    release_nb = nbformat.read(A1.release_notebook, as_version=4)
    return {"good": nbgrader_course.solved_submission(source, release_nb),
            "blank": release_nb,
            "wrong_zero_pad": nbgrader_course.solved_submission(source, release_nb,
                                                        {"zero_pad": WRONG_ZERO_PAD})}


def _submit(submitted, students):
    """Write ``students`` ({student: kind}) into ``submitted`` in nbgrader's layout."""
    kinds = _notebooks()
    for student, kind in students.items():
        folder = submitted / student / A1.id
        folder.mkdir(parents=True, exist_ok=True)
        nbformat.write(kinds[kind], folder / A1.notebook)
    return submitted


def _table(out):
    """{student: row of scores.csv}."""
    with open(out / "scores.csv", newline="") as handle:
        return {row["student"]: row for row in csv.DictReader(handle)}


def _record(out):
    """{student: entry of grading.json}."""
    return {e["student"]: e for e in json.loads((out / "grading.json").read_text())["submissions"]}


def _comparable(row):
    """A scores.csv row without what differs from run to run (the time) nor the name."""
    return {k: v for k, v in row.items() if k not in ("seconds", "student")}


def _check_rows(table, students, local):
    """Every student of ``students`` ({student: kind}) has the local run's row of its kind."""
    assert sorted(table) == sorted(students), "scores.csv has other students than the class"
    for student, kind in students.items():
        expected = _comparable(local["table"][kind])
        assert _comparable(table[student]) == expected, (
            f"{student} (a {kind} notebook) did not get the local run's scores:\n"
            f"got      {_comparable(table[student])}\nexpected {expected}")


def _environment():
    """The environment of the command line and of the cluster's processes: this one, the
    course's settings (CNN_COURSE_*) included, with this checkout's code importable."""
    return {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(REPO_ROOT), *filter(None, [os.environ.get("PYTHONPATH")])])}


def _grade_class_command(submitted, out, *options):
    """``python -m course grade-class`` run to its end; (return code, stdout+stderr)."""
    done = subprocess.run(
        [sys.executable, "-m", "course", "grade-class", str(submitted), "--out", str(out),
         *options], cwd=REPO_ROOT, env=_environment(), capture_output=True, text=True,
        timeout=CLI_TIMEOUT, check=False)
    return done.returncode, done.stdout + done.stderr


def _summary_line(output):
    lines = [line for line in output.splitlines() if line.startswith("graded ")]
    assert lines, f"no summary line ('graded N submissions ...') in the output:\n{output}"
    return lines[-1]


@pytest.fixture(scope="module")
def local_run(tmp_path_factory):
    """LOCAL_CLASS graded by ``grade_class`` on its own local cluster of two workers."""
    if missing := sandbox.check():
        pytest.skip("the grading sandbox needs: " + "; ".join(missing))
    root = tmp_path_factory.mktemp("local")
    submitted = _submit(root / "submitted", LOCAL_CLASS)
    grade_class(submitted, root / "out", workers=2, progress=False)
    table = _table(root / "out")
    for student, kind in LOCAL_CLASS.items():  # what the rest of the suite establishes
        assert table[student]["total"] == f"{float(TOTALS[kind])}", (
            f"the local run gave {student} ({kind}) {table[student]['total']!r}, not "
            f"{TOTALS[kind]}: {table[student]['status']}")
        assert table[student]["status"].startswith("graded"), table[student]["status"]
    return {"submitted": submitted, "out": root / "out", "table": table}


class LoopbackCluster:
    """A ``dask scheduler`` and ``dask worker`` processes on 127.0.0.1, each in its own
    process group; ``kill_all()`` SIGKILLs all of them and whatever they started."""

    def __init__(self, folder, scheduler_env=None):
        self.folder = folder
        self.file = folder / "scheduler.json"
        self.processes = []  # subprocess.Popen, the scheduler first
        self.scheduler_env = scheduler_env or {}

    def _start(self, name, arguments, env):
        with open(self.folder / f"{name}.log", "w") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", *arguments], cwd=REPO_ROOT, env=env, stdout=log,
                stderr=subprocess.STDOUT, start_new_session=True)
        self.processes.append(process)
        return process

    def logs(self):
        return "\n".join(f"--- {p.name} ---\n{p.read_text()[-3000:]}"
                         for p in sorted(self.folder.glob("*.log")))

    def start(self, workers=2):
        self._start("scheduler", ["distributed.cli.dask_scheduler", "--host", "127.0.0.1",
                                  "--port", "0", "--no-dashboard", "--scheduler-file",
                                  str(self.file)], {**_environment(), **self.scheduler_env})
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while not self.file.exists():
            assert self.processes[0].poll() is None, f"the scheduler exited:\n{self.logs()}"
            assert time.monotonic() < deadline, f"no scheduler file:\n{self.logs()}"
            time.sleep(0.1)
        self.address = json.loads(self.file.read_text())["address"]
        self.workers = [self._start(f"worker{i}", [
            "distributed.cli.dask_worker", "--scheduler-file", str(self.file), "--host",
            "127.0.0.1", "--nthreads", "1", "--nworkers", "1", "--no-dashboard",
            "--local-directory", str(self.folder / f"worker{i}")], _environment())
            for i in range(workers)]
        with self.client() as client:
            client.wait_for_workers(workers, timeout=STARTUP_TIMEOUT)
        return self

    def client(self):
        return Client(scheduler_file=str(self.file), timeout="30s")

    def worker(self, address):
        """(``dask worker`` process, pid of its worker process) of the worker at ``address``
        (the process listening on its port); (None, None) when there is none."""
        port = int(address.rsplit(":", 1)[1])
        for process in self.workers:
            try:
                family = [psutil.Process(process.pid)]
                family += family[0].children(recursive=True)
            except psutil.NoSuchProcess:
                continue
            for member in family:
                try:
                    if any(c.status == psutil.CONN_LISTEN and c.laddr.port == port
                           for c in member.net_connections(kind="tcp")):
                        return process, member.pid
                except psutil.NoSuchProcess:
                    continue
        return None, None

    def kill(self, process):
        """SIGKILL ``process``'s process group and every process it started."""
        try:
            descendants = psutil.Process(process.pid).children(recursive=True)
        except psutil.NoSuchProcess:
            descendants = []
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        for child in descendants:  # kernels run in sessions of their own
            try:
                child.kill()
            except psutil.NoSuchProcess:
                pass
        process.wait()

    def kill_all(self):
        for process in reversed(self.processes):
            self.kill(process)


@pytest.fixture
def loopback_cluster(tmp_path):
    """A function that starts a LoopbackCluster (scheduler environment as keywords); every
    cluster it started is killed at the end of the test."""
    clusters = []

    def start(**scheduler_env):
        folder = tmp_path / f"cluster{len(clusters)}"
        folder.mkdir()
        clusters.append(LoopbackCluster(folder, scheduler_env))
        return clusters[-1].start()

    yield start
    for cluster in clusters:
        cluster.kill_all()


def _workers(cluster, client):
    """{worker address: pid of its process} of the workers the scheduler knows."""
    return {addr: cluster.worker(addr)[1] for addr in client.scheduler_info()["workers"]}


def _grading_tasks(client):
    """{worker address: [keys of the grading tasks the scheduler has given it]}."""
    return {addr: [str(k) for k in keys if str(k).startswith("grade-")]
            for addr, keys in client.processing().items()}


def _student_of(key):
    """The student of a task key 'grade-<assignment>-<student>-<8 hex digits>'."""
    return key[len(f"grade-{A1.id}-"):-len("-12345678")]


def _kernel_running(pid):
    """Whether the process ``pid`` has a sandboxed kernel running (it is mid-notebook): the
    sandbox's supervisor, or the fork server's client, is one of its children."""
    try:
        children = psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return False
    for child in children:
        try:
            command = " ".join(child.cmdline())
            if any(name in command for name in ("course.grading.sandbox",
                                                "course.grading.forkserver connect")):
                return True
        except psutil.Error:
            continue
    return False


def test_an_existing_cluster_gives_the_local_scores(local_run, loopback_cluster, tmp_path):
    cluster = loopback_cluster()
    code, output = _grade_class_command(local_run["submitted"], tmp_path / "out",
                                        "--scheduler", cluster.address)
    assert code == 0, f"grade-class --scheduler failed:\n{output}\n{cluster.logs()}"
    assert f"graded {len(LOCAL_CLASS)} submissions (0 kept from earlier runs)" in \
        _summary_line(output), output
    table = _table(tmp_path / "out")
    assert list(next(iter(table.values()))) == list(next(iter(local_run["table"].values()))), \
        "scores.csv has other columns than the local run's"
    _check_rows(table, {s: s for s in LOCAL_CLASS}, local_run)
    workers = {e["worker"] for e in _record(tmp_path / "out").values()}
    with cluster.client() as client:
        cluster_workers = {f"{socket.gethostname()}:{pid}"
                           for pid in _workers(cluster, client).values()}
    assert workers <= cluster_workers, (
        f"graded by {workers}, not by the cluster's workers {cluster_workers}")


def _grade_while(cluster, submitted, out, act):
    """Run grade-class on ``cluster`` and call ``act(client, {worker address: pid})`` every
    50 ms until it returns something true; (that result, the command's return code, output)."""
    command = subprocess.Popen(
        [sys.executable, "-m", "course", "grade-class", str(submitted), "--out",
         str(out), "--scheduler", cluster.address], cwd=REPO_ROOT, env=_environment(),
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    done = None
    try:
        with cluster.client() as client:
            pids = _workers(cluster, client)
            deadline = time.monotonic() + CLI_TIMEOUT
            while not done and command.poll() is None and time.monotonic() < deadline:
                done = act(client, pids)
                time.sleep(0.05)
        output, _ = command.communicate(timeout=CLI_TIMEOUT)
    finally:
        if command.poll() is None:
            command.kill()
            command.wait()
    assert command.returncode == 0, f"grade-class failed:\n{output}\n{cluster.logs()}"
    return done, output


def test_a_killed_worker_costs_no_grade(local_run, loopback_cluster, tmp_path):
    cluster = loopback_cluster()

    def kill_a_grading_worker(client, pids):  # its nanny too: that worker is gone for good
        for addr, keys in _grading_tasks(client).items():
            if keys and _kernel_running(pids[addr]):  # a notebook is being graded there
                cluster.kill(cluster.worker(addr)[0])
                return addr, keys, next(pid for a, pid in pids.items() if a != addr)
        return None

    killed, output = _grade_while(cluster, _submit(tmp_path / "submitted", BIGGER_CLASS),
                                  tmp_path / "out", kill_a_grading_worker)
    assert killed, "no grading task was ever seen running on a worker"
    assert f"graded {len(BIGGER_CLASS)} submissions (0 kept from earlier runs)" in \
        _summary_line(output), output
    _check_rows(_table(tmp_path / "out"), BIGGER_CLASS, local_run)
    _, keys, survivor = killed
    record = _record(tmp_path / "out")
    for student in map(_student_of, keys):
        assert record[student]["worker"] == f"{socket.gethostname()}:{survivor}", (
            f"{student}'s task, on the worker killed, was not graded again on the surviving "
            f"worker (pid {survivor}): {record[student]}")


def test_workers_replaced_together_cost_no_grade(local_run, loopback_cluster, tmp_path):
    cluster = loopback_cluster()

    def kill_every_worker_process(client, pids):  # the nannies start new ones
        tasks = _grading_tasks(client)
        if all(tasks.get(addr) and _kernel_running(pid) for addr, pid in pids.items()):
            for pid in pids.values():
                os.kill(pid, signal.SIGKILL)
            return tasks
        return None

    killed, output = _grade_while(cluster, _submit(tmp_path / "submitted", BIGGER_CLASS),
                                  tmp_path / "out", kill_every_worker_process)
    assert killed, "the two workers were never seen grading at the same time"
    _check_rows(_table(tmp_path / "out"), BIGGER_CLASS, local_run)


def test_a_submission_that_kills_every_worker_is_marked(local_run, loopback_cluster,
                                                        tmp_path):
    # A task is failed with KilledWorker when its workers died more than allowed-failures
    # times. A worker given one thread holds one task only at a worker-saturation of 1.0 (the
    # default, 1.1, queues a second one on it, which each kill would count against as well).
    # The victim kills its worker once its notebook runs; its task is the class's last.
    cluster = loopback_cluster(DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES="1",
                               DASK_DISTRIBUTED__SCHEDULER__WORKER_SATURATION="1.0")
    submitted = _submit(tmp_path / "submitted", VICTIM_CLASS)
    stop, kills, errors = threading.Event(), [], []

    def watch():  # kill the worker process (its nanny starts a new one) running the victim
        try:
            with cluster.client() as client:
                while not stop.is_set():
                    for addr, keys in _grading_tasks(client).items():
                        if any("-victim-" in key for key in keys):
                            pid = cluster.worker(addr)[1]
                            if pid and pid not in [p for _, p in kills] and \
                                    _kernel_running(pid):
                                os.kill(pid, signal.SIGKILL)
                                kills.append((addr, pid))
                    stop.wait(0.05)
        except Exception as error:  # noqa: BLE001 (reported by the test)
            errors.append(error)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        code, output = _grade_class_command(submitted, tmp_path / "out", "--scheduler",
                                            cluster.address)
    finally:
        stop.set()
        watcher.join(timeout=30)
    assert not errors, f"the watcher failed: {errors!r}"
    assert code == 0, f"grade-class failed:\n{output}\n{cluster.logs()}"
    assert len(kills) == 2, f"the victim's workers were killed {len(kills)} times, not 2 " \
        f"(allowed-failures 1, then KilledWorker): {kills}"
    table = _table(tmp_path / "out")
    victim = table.pop("victim", None)
    assert victim is not None, "the victim has no row in scores.csv"
    assert "KilledWorker" in victim["status"], victim["status"]
    assert (victim["required"], victim["extra"], victim["total"]) == ("", "", ""), (
        f"the victim got a score: {victim}")
    _check_rows(table, {s: k for s, k in VICTIM_CLASS.items() if s != "victim"}, local_run)


@pytest.fixture
def graded_copy(local_run, tmp_path):
    """A copy of the local run's submissions and output folder, to grade again."""
    shutil.copytree(local_run["submitted"], tmp_path / "submitted")
    shutil.copytree(local_run["out"], tmp_path / "out")
    return tmp_path / "submitted", tmp_path / "out"


def test_grading_again_keeps_everything(local_run, graded_copy, capsys):
    submitted, out = graded_copy
    grade_class(submitted, out, workers=1, progress=True)
    summary = _summary_line(capsys.readouterr().out)
    assert summary.startswith(f"graded 0 submissions ({len(LOCAL_CLASS)} kept from earlier "
                              "runs)"), summary
    assert (out / "grading.json").read_bytes() == \
        (local_run["out"] / "grading.json").read_bytes(), "grading.json changed"
    assert (out / "scores.csv").read_bytes() == (local_run["out"] / "scores.csv").read_bytes(), \
        "scores.csv changed"


def test_a_changed_notebook_alone_is_graded_again(local_run, graded_copy):
    submitted, out = graded_copy
    _submit(submitted, {"wrong_zero_pad": "good"})  # the student fixed zero_pad
    grade_class(submitted, out, workers=1, progress=False)
    table, record, before = _table(out), _record(out), _record(local_run["out"])
    _check_rows(table, {**LOCAL_CLASS, "wrong_zero_pad": "good"}, local_run)
    assert record["wrong_zero_pad"]["key"] != before["wrong_zero_pad"]["key"]
    for student in LOCAL_CLASS.keys() - {"wrong_zero_pad"}:
        assert record[student] == before[student], f"{student} was graded again"
        assert table[student] == local_run["table"][student], f"{student}'s row changed"


def test_a_late_submission_graded_alone_joins_the_class(local_run, graded_copy):
    submitted, out = graded_copy
    _submit(submitted, {"late": "good"})
    grade_class(submitted, out, workers=1, students=["late"], progress=False)
    table, record, before = _table(out), _record(out), _record(local_run["out"])
    _check_rows(table, {**LOCAL_CLASS, "late": "good"}, local_run)
    for student in LOCAL_CLASS:
        assert record[student] == before[student], f"{student} was graded again"
        assert table[student] == local_run["table"][student], f"{student}'s row changed"
    scores = {s.student: s for s in nbgrader_course.read_scores(out / "course", A1,
                                                        [*LOCAL_CLASS, "late"])}
    assert scores["late"].total[0] == TOTALS["good"], f"the gradebook has {scores['late']}"
    for student, kind in LOCAL_CLASS.items():
        assert scores[student].total[0] == TOTALS[kind], (
            f"the gradebook lost {student}'s grade: {scores[student]}")


def test_changed_sources_refuse_a_partial_run(graded_copy, monkeypatch):
    # The course's sources are not edited here (other tests check they never change): the
    # key they hash to changes instead, as it would after an edit.
    submitted, out = graded_copy
    record_before = (out / "grading.json").read_bytes()
    monkeypatch.setattr(classroom, "_sources_key", lambda a: "edited")
    with pytest.raises(classroom.StaleCourse, match="grade the whole class again"):
        grade_class(submitted, out, workers=1, students=["good"], progress=False)
    assert (out / "grading.json").read_bytes() == record_before, "the record was changed"


def test_local_workers_are_forked_with_the_graders_modules_and_share_a_fork_server():
    """A local cluster's worker processes are forked from multiprocessing's fork server, which
    has imported nbgrader and the modules of the class's imports cells once for all of them
    (``worker.preload``), not each worker in turn; they all use the one fork server that
    grade-class started for them, which ends with the cluster. A worker of another process's
    cluster (``dask worker``) imports them and starts its server itself (the loopback
    tests)."""
    from course.grading import engine, worker

    a = assignments.get("C4W1A1_conv_step_by_step")
    modules = worker.preload([a.source_notebook])
    assert {*worker.WORKER_MODULES, "utils.public_tests.conv_step_by_step"} <= set(modules)

    def parent_modules_and_server():
        parent = psutil.Process(os.getppid()).cmdline()
        server = worker._fork_server
        return (" ".join(parent), [m for m in modules if m in sys.modules],
                type(server).__name__, str(server.socket))

    with engine.cluster(workers=2, notebooks=[a.source_notebook]) as connect:
        seen = list(connect().run(parent_modules_and_server).values())
        servers = [p for p in psutil.Process().children()
                   if "course.grading.forkserver" in " ".join(p.cmdline())]
    assert len(seen) == 2
    for parent, imported, server, _socket in seen:
        assert "multiprocessing.forkserver" in parent
        assert {*worker.WORKER_MODULES, "utils.public_tests.conv_step_by_step"} <= set(imported)
        assert server == "SharedForkServer"
    assert len({socket_path for *_, socket_path in seen}) == 1
    assert len(servers) == 1
    psutil.wait_procs(servers, timeout=10)
    assert not any(p.is_running() and p.status() != psutil.STATUS_ZOMBIE for p in servers), \
        "the shared fork server outlived its cluster"


def _preloaded(notebooks: list, libraries_of=None) -> dict:
    """In a new process that imports what a local worker for ``notebooks`` is forked with
    (``worker.preload``): {"tensorflow": whether TensorFlow got imported, "libraries": the
    libraries of the fork server for ``libraries_of`` (a source notebook), if given}."""
    code = ("import contextlib, importlib, json, sys\n"
            "from pathlib import Path\n"
            "from course.grading import worker\n"
            "for name in worker.preload([Path(p) for p in sys.argv[2:]]):\n"
            "    with contextlib.suppress(ImportError):\n"
            "        importlib.import_module(name)\n"
            "print(json.dumps({'tensorflow': 'tensorflow' in sys.modules,\n"
            "                  'libraries': sys.argv[1]\n"
            "                  and worker._libraries(Path(sys.argv[1]).read_text())}))\n")
    return json.loads(subprocess.run(
        [sys.executable, "-c", code, str(libraries_of or ""), *map(str, notebooks)],
        capture_output=True, text=True, check=True,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}).stdout.strip().splitlines()[-1])


def test_a_worker_forked_with_the_class_imported_preloads_only_an_assignments_libraries():
    """A local worker is forked with the public test modules of every assignment of the class
    (``worker.preload``), and with TensorFlow when one of them compares answers with it. The
    fork server of a numpy assignment's kernels still imports only that assignment's
    libraries, as in a worker that has imported nothing
    (``test_the_servers_import_only_the_libraries_...``)."""
    numpy_only = assignments.get("C4W1A1_conv_step_by_step")
    notebooks = [numpy_only.source_notebook,
                 assignments.get("C4W2A1_resnets").source_notebook]
    found = _preloaded(notebooks, numpy_only.source_notebook)
    assert found["tensorflow"]  # what the local workers are forked with
    assert "matplotlib.pyplot" in found["libraries"]
    assert not {"tensorflow", "keras"} & set(found["libraries"]), found


@pytest.mark.parametrize("assignment", ["C4W1A2_signs_cnn", "C4W3A1_car_detection"])
def test_a_worker_that_compares_answers_with_numpy_does_not_import_tensorflow(assignment):
    """Assignments 2 and 4's kernels use TensorFlow; their answers are compared with numpy
    (assignment 2's model answers are evaluated with TensorFlow in the submission's reference
    process): their workers are forked without TensorFlow (the fork server imports it for the
    kernels and the reference processes)."""
    assert not _preloaded([assignments.get(assignment).source_notebook])["tensorflow"]


def test_grade_class_has_a_fork_compute_the_answers_only_where_that_saves_an_import():
    """A fork of the fork server computes an assignment's reference answers when its kernels
    import TensorFlow and its checks do not (``grade-class`` then never imports it); where the
    checks import it anyway (through Keras too), ``grade-class`` computes them itself, without
    waiting for the server's imports; and a numpy assignment never involves the server."""
    decisions = {a.id: worker.answers_in_fork_save_an_import(a.source_notebook.read_text())
                 for a in assignments.available()}
    assert decisions == {"C4W1A1_conv_step_by_step": False, "C4W1A2_signs_cnn": True,
                         "C4W2A1_resnets": False, "C4W3A1_car_detection": True,
                         "C4W4A1_face_recognition": False,
                         "C4W4A2_neural_style_transfer": False}


def test_a_later_local_clusters_workers_see_this_processs_environment_as_it_is(monkeypatch):
    """The workers of every local cluster are forked from the process that this process's first
    one started, with the environment of then: a later cluster's workers still see the
    environment as it is when that cluster starts, a variable changed, added or removed since
    (the course folder of a test, say) as a spawned worker would."""
    from course.grading import engine

    a = assignments.get("C4W1A1_conv_step_by_step")
    monkeypatch.setenv("CNN_COURSE_TEST_REMOVED", "set when the first cluster started")
    with engine.cluster(workers=1, notebooks=[a.source_notebook]) as connect:
        connect().run(os.getpid)  # a first cluster (or a later one: the same for this test)
    removed = [n for n in (data.MIRROR_ENV, "CNN_COURSE_TEST_REMOVED") if n in os.environ]
    for name in removed:
        monkeypatch.delenv(name)
    monkeypatch.setenv(data.HOME_ENV, "/nowhere/a course folder of this test")

    def seen():
        return os.environ.get(data.HOME_ENV), [n for n in removed if n in os.environ]

    with engine.cluster(workers=1, notebooks=[a.source_notebook]) as connect:
        [(home, still_there)] = connect().run(seen).values()
    assert home == "/nowhere/a course folder of this test"
    assert still_there == []
