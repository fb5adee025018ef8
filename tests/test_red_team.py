"""Attacks on the class grader by a student who has read all of its code.

Each attack is a submitted notebook of assignment 1, graded with the instructor's own command
(``grade_class``, sandbox and fork server on) in one class with two honest controls, the
reference solution and the blank release, whose scores must stay exact. Each test states what
the grader promises (README, "How a grade is decided" and "Grading a class") and fails when the
attack breaks the promise:

- a stand-in for a failed helper answers any call its caller makes, so a caller can ask it for
  the reference's answers to the helper's hidden cases and show them in its own verdict;
- a cell placed before the release's imports cell can make that cell fail, and the grader then
  calls the submission "not graded" (its environment's fault) instead of giving it its 0;
- a cell can raise a DataFileError naming a registered file of another assignment that the
  grader lacks, and the status then blames the grader's data and asks for a new grading;
- a grading harness replaced in the kernel can answer with a malformed result, and a cell can
  send an output message nbformat rejects: the grader then fails on the whole notebook
  ("nbgrader failed", no points, final) instead of giving the function or cell its due;
- the fork server dying while a kernel runs (out of memory, killed) costs the student the
  points of the cell that was running: an environment failure graded as the student's;
- a kernel forked from the fork server keeps its supervisor's pipe to the server open.

The attacks that the grader stops are graded in the same class and checked too (a verdict's
markup in the feedback, a formula in an exception's name).
"""

from __future__ import annotations

import copy
import csv
import json
import os
import signal
import threading
import time
from importlib import import_module
from pathlib import Path

import nbformat
import numpy as np
import pytest

from course import assignments
from course.grading import nbgrader_course, sandbox
from course.grading.classroom import FORMULA_STARTS, grade_class
from course.grading.limits import Limits
from course.trusted import cases, reference_process
from course.trusted.reference_answers import Reference
from utils import data, graded

MISSING = sandbox.check()
pytestmark = pytest.mark.skipif(bool(MISSING), reason="; ".join(MISSING))

A1 = assignments.get("C4W1A1_conv_step_by_step")
A2 = assignments.get("C4W1A2_signs_cnn")
LIMITS = Limits(cell_timeout=60, notebook_timeout=300)

# The reference solution's distribute_value is replaced by one that keeps every input it is
# called with (its own grading sends it the public and the hidden cases) and fails; while
# pool_backward is graded, distribute_value is the grader's stand-in, and pool_backward asks it
# for the answers to those inputs and shows them in its error message.
ORACLE_DISTRIBUTE_VALUE = """\
SEEN = []
def distribute_value(dz, shape):
    SEEN.append((dz, tuple(shape)))
    return np.zeros(shape)
"""
ORACLE_POOL_BACKWARD = """\
def pool_backward(dA, cache, mode="max"):
    answers = [(dz, shape, distribute_value(dz, shape)) for dz, shape in SEEN]
    raise ValueError("the grader's answers: " + "; ".join(
        f"distribute_value({dz}, {shape}) = {np.asarray(a).ravel()[0]:.6g}"
        for dz, shape, a in answers))
"""

# Before the release's imports cell: the imports cell (the release's own code) then fails.
BREAKS_THE_IMPORTS = "import sys\nsys.modules['utils.public_tests'] = None\n"

# A DataFileError about a registered file of another assignment (filled in by the fixture).
FAKE_DATA_ERROR = ("from utils.data import DataFileError\n"
                   "raise DataFileError(\"'{path}' (needed by this notebook) is not available\")\n")

# zero_pad's grading harness answers with an error whose name is not a pair of strings.
MALFORMED_RESULT = """
import utils.graded as _graded
_real_ask_grader, _real_run_cases = _graded.ask_grader, _graded.run_cases
def _run_cases(namespace):
    spec = _real_ask_grader({"cases": True})["cases"]
    if spec["function"] != "zero_pad":  # the real harness, given the cases it asked for
        _graded.ask_grader = lambda message: ({"cases": spec} if "cases" in message
                                              else _real_ask_grader(message))
        try:
            return _real_run_cases(namespace)
        finally:
            _graded.ask_grader = _real_ask_grader
    _real_ask_grader({"results": [{"error": 5}] * len(spec["cases"])})
_graded.run_cases = _run_cases
"""

# An error output whose ename is a number: nbformat's schema rejects it.
INVALID_OUTPUT = """
_kernel = get_ipython().kernel
_kernel.session.send(_kernel.iopub_socket, "error",
                     {"ename": 5, "evalue": "x", "traceback": []},
                     parent=_kernel.get_parent("shell"), ident=_kernel._topic("error"))
"""

# A verdict that quotes the student's error message, which holds a lone surrogate.
SURROGATE_IN_VERDICT = "def zero_pad(X, pad):\n    raise ValueError('bad \\ud800 text')\n"

# Assignment 2's initialize_parameters, which takes no argument, answered from the public
# answers every student receives (utils/public_tests/public_answers/): no GlorotUniform.
PUBLIC_ANSWER_LOOKUP = """\
from utils.graded import public_answer
def initialize_parameters():
    stored = public_answer(tests.CHECKS["initialize_parameters"], {})
    return {name: tf.Variable(np.asarray(value, np.float32))
            for name, value in stored["values"].items()}
"""

MARKUP_IN_VERDICT = ("def zero_pad(X, pad):\n"
                     "    raise ValueError('<img src=x onerror=\"window.pwned = 10\">'\n"
                     "                     '<script>window.pwned = 11</script>')\n")

FORMULA_IN_ENAME = ("\nraise type('x;=HYPERLINK(\"http://example.invalid\",\"y\")', "
                    "(Exception,), {})()\n")

# (student, assignment): (total, text the status must start with)
EXPECTED = {
    ("good", A1.id): (100, "graded"),
    ("blank", A1.id): (0, "graded (errors in cells: test_zero_pad (NotImplementedError)"),
    ("oracle", A1.id): (85, "graded (errors in cells: extra_distribute_value (AssertionError), "
                            # the stand-in refuses the hidden cases' arguments: pool_backward
                            # raises the stand-in's HelperError before its own ValueError
                            "extra_pool_backward (HelperError)"),
    ("breaks_the_imports", A1.id): (0, "graded"),
    ("fake_missing_data", A1.id): (0, "graded"),
    ("malformed_result", A1.id): (90, "graded (errors in cells: test_zero_pad (GradingError)"),
    ("invalid_output", A1.id): (100, "graded"),
    ("surrogate_in_verdict", A1.id): (90, "graded (errors in cells: test_zero_pad (ValueError)"),
    ("markup_in_verdict", A1.id): (90, "graded (errors in cells: test_zero_pad (ValueError)"),
    ("formula_in_ename", A1.id): (100, "graded (errors in cells: zero_pad ("),
    ("blank", A2.id): (0, "graded (errors in cells: test_initialize_parameters "
                          "(AssertionError)"),
    ("public_answer_lookup", A2.id): (0, "graded (errors in cells: test_initialize_parameters"),
}


def _missing_file_of_another_assignment() -> str | None:
    """A registered file that the grader lacks, of an assignment that is not in the class
    (whose data the class's grading would fetch)."""
    for entry in data.entries_for():
        if (not {A1.id, A2.id} & set(entry.assignments)
                and not (data.course_home() / entry.path).is_file()):
            return entry.path
    return None


def _submissions() -> dict[tuple[str, str], nbformat.NotebookNode]:
    """{(student, assignment id): notebook} of the class."""
    source = nbformat.read(A1.source_notebook, as_version=4)
    release_nb = nbformat.read(A1.release_notebook, as_version=4)
    answers = nbgrader_course.reference_answers(source)

    def solved(**changed):
        return nbgrader_course.solved_submission(source, release_nb, changed)

    def blank_with(index: int, code: str):
        nb = copy.deepcopy(release_nb)
        nb.cells.insert(index, nbformat.v4.new_code_cell(code))
        return nb

    imports = next(i for i, c in enumerate(release_nb.cells)
                   if c.metadata.get("nbgrader", {}).get("grade_id") == "imports")
    notebooks = {
        "good": solved(), "blank": release_nb,
        "oracle": solved(distribute_value=ORACLE_DISTRIBUTE_VALUE,
                         pool_backward=ORACLE_POOL_BACKWARD),
        "breaks_the_imports": blank_with(imports, BREAKS_THE_IMPORTS),
        "malformed_result": solved(zero_pad=answers["zero_pad"] + MALFORMED_RESULT),
        "invalid_output": solved(zero_pad=answers["zero_pad"] + INVALID_OUTPUT),
        "surrogate_in_verdict": solved(zero_pad=SURROGATE_IN_VERDICT),
        "markup_in_verdict": solved(zero_pad=MARKUP_IN_VERDICT),
        "formula_in_ename": solved(zero_pad=answers["zero_pad"] + FORMULA_IN_ENAME),
    }
    if path := _missing_file_of_another_assignment():
        notebooks["fake_missing_data"] = blank_with(imports + 1,
                                                    FAKE_DATA_ERROR.format(path=path))
    class_notebooks = {(student, A1.id): nb for student, nb in notebooks.items()}
    release_a2 = nbformat.read(A2.release_notebook, as_version=4)
    lookup = copy.deepcopy(release_a2)
    next(c for c in lookup.cells if c.metadata.get("nbgrader", {}).get("grade_id")
         == "initialize_parameters").source = PUBLIC_ANSWER_LOOKUP
    class_notebooks.update({("blank", A2.id): release_a2,
                            ("public_answer_lookup", A2.id): lookup})
    return class_notebooks


def grade_red_class(root: Path, notebooks: dict) -> dict:
    """Grade ``notebooks`` ({(student, assignment id): notebook}) as one class in ``root`` with
    ``grade_class`` (every message sent into a kernel recorded in ``root``/sent); what the tests
    read of it."""
    for (student, a_id), nb in notebooks.items():
        folder = root / "submitted" / student / a_id
        folder.mkdir(parents=True)
        nbformat.write(nb, folder / assignments.get(a_id).notebook)
    grade_class(root / "submitted", root / "out", limits=LIMITS, progress=False,
                record_folder=root / "sent")
    with open(root / "out" / "scores.csv") as handle:
        table = {(row["student"], row["assignment"]): row for row in csv.DictReader(handle)}
    record = json.loads((root / "out" / "grading.json").read_text())
    return {"root": root, "table": table, "submitted": set(notebooks),
            "final": {(e["student"], e["assignment"]): e["final"]
                      for e in record["submissions"]},
            "course": root / "out" / "course", "expected": root / "out" / "work" / "expected",
            "sent": root / "sent"}


@pytest.fixture(scope="module")
def red_class(tmp_path_factory) -> dict:
    return grade_red_class(tmp_path_factory.mktemp("red_team"), _submissions())


def row_of(red_class, student: str, a_id: str = A1.id) -> dict:
    """The scores.csv row of a submission (the test skips when the class has none)."""
    if (student, a_id) not in red_class["submitted"]:
        pytest.skip(f"no submission {student} of {a_id} in this class")
    return red_class["table"][student, a_id]


def check_score_and_status(red_class, key: tuple[str, str], expected: tuple) -> None:
    """Each submission scores what its honest code deserves, with a status saying how it was
    graded, and is not graded again on the next run (nothing here is the grader's fault)."""
    total, status = expected
    row = row_of(red_class, *key)
    assert row["status"].startswith(status), row["status"]
    assert row["total"] == f"{float(total)}", row
    assert red_class["final"][key], f"{key} would be graded again: {row['status']}"


@pytest.mark.parametrize("key", sorted(EXPECTED), ids="-".join)
def test_score_and_status(red_class, key):
    check_score_and_status(red_class, key, EXPECTED[key])


def _feedback(red_class, student: str) -> str:
    return (red_class["course"] / "feedback" / student / A1.id /
            f"{Path(A1.notebook).stem}.html").read_text()


def _hidden_answers(red_class, function: str) -> list:
    """This run's reference answers (decoded) to the hidden cases of ``function``: the answers
    the run computed (its hidden cases change with every run) that answer no public case."""
    source = nbformat.read(A1.source_notebook, as_version=4)
    reference = Reference(A1.source_notebook)
    public = {reference.key(import_module(t.module).CHECKS[t.function], c.params)
              for t in cases.read(source) for c in t.cases if not c.hidden}
    [tests] = [t for t in cases.read(source) if t.function == function]
    answers = [graded.decode(p.read_text())
               for p in red_class["expected"].glob(f"*/{A1.id}/*.json") if p.stem not in public]
    answers = [a for a in answers if isinstance(a, dict) and set(a) == {"a"}]  # its answers' form
    assert len(answers) == sum(c.hidden for c in tests.cases), "the hidden answers were not found"
    return answers


def test_a_stand_in_answers_no_hidden_case_of_its_helper(red_class):
    """"[The kernel] never receives ... the reference's answer to any case", and a feedback
    page never shows one: a failed helper's stand-in must not answer its own hidden cases when
    the caller asks for them (the hand-built ones are the same in every run)."""
    row_of(red_class, "oracle")
    answers = _hidden_answers(red_class, "distribute_value")
    arrays = {np.asarray(a["a"], np.float64).tobytes() for a in answers}
    replies = [json.loads(line) for line in
               (red_class["sent"] / f"{A1.id}-oracle.jsonl").read_text().splitlines()]
    received = {np.asarray(leaf, np.float64).tobytes()
                for r in replies if r["kind"] == "reply" and "value" in json.loads(r["text"])
                for leaf in [graded.decode(json.loads(r["text"])["value"])]}
    assert not arrays & received, "the grader sent the kernel its answer to a hidden case"
    shown = {f"{np.asarray(a['a']).ravel()[0]:.6g}" for a in answers} - {"0.25"}
    page = _feedback(red_class, "oracle")
    assert not [n for n in shown if f"= {n}" in page], (
        "the feedback shows the reference's answers to hidden cases: "
        + page[page.find("the grader's answers"):][:300])


def test_a_cell_before_the_imports_cannot_make_a_submission_not_graded(red_class):
    """A failed imports cell means the grader's environment failed, only when no code of the
    submission ran before it."""
    row = row_of(red_class, "breaks_the_imports")
    assert not row["status"].startswith("not graded"), row["status"]
    assert red_class["final"]["breaks_the_imports", A1.id]


def test_a_submission_cannot_blame_the_graders_data(red_class):
    """A DataFileError the submission raises itself, about a file its assignment does not
    use, is the submission's error, not missing data of the grader's."""
    row = row_of(red_class, "fake_missing_data")
    assert "data missing" not in row["status"], row["status"]
    assert red_class["final"]["fake_missing_data", A1.id]


def test_malformed_kernel_data_costs_the_function_not_the_notebook(red_class):
    for student in ("malformed_result", "invalid_output", "surrogate_in_verdict"):
        row = row_of(red_class, student)
        assert not row["status"].startswith("nbgrader failed"), (student, row["status"])


def test_the_public_answers_answer_no_graded_function(red_class):
    """"Nothing a student can import computes the answer to any other case": a function that
    takes no argument has one answer, and the public answers must not hold it."""
    row = row_of(red_class, "public_answer_lookup", A2.id)
    assert row["test_initialize_parameters"] == "0.0", row


def test_a_verdicts_markup_is_shown_as_text(red_class):
    page = _feedback(red_class, "markup_in_verdict")
    assert "zero_pad raised ValueError" in page
    assert "<img src=x" not in page and "<script>window.pwned" not in page


def test_an_exception_named_like_a_formula_is_no_formula(red_class):
    row = row_of(red_class, "formula_in_ename")
    assert "HYPERLINK" in row["status"]
    with open(red_class["root"] / "out" / "scores.csv", newline="") as handle:
        for sep in (",", ";"):
            handle.seek(0)
            cells = [c for row in csv.reader(handle, delimiter=sep) for c in row]
            parts = [p for c in cells for line in c.splitlines() for p in line.split(";")]
            assert not [p for p in parts if p.lstrip().startswith(FORMULA_STARTS)], parts


# --- the fork server ------------------------------------------------------------------------

# The victim is the reference solution whose zero_pad cell, once zero_pad is defined, says so
# in its working folder and waits: meanwhile the test kills the worker's fork server, as the
# machine's out-of-memory killer or an administrator would.
WAITS_IN_ZERO_PAD = "\nopen('waiting', 'w').close()\nimport time\ntime.sleep(30)\n"


def _descendants(pid: int) -> list[int]:
    """The processes below ``pid``, parents before their children."""
    found = []
    for task in os.listdir(f"/proc/{pid}/task"):
        try:
            children = open(f"/proc/{pid}/task/{task}/children").read().split()
        except OSError:
            continue
        for child in map(int, children):
            found += [child, *_descendants(child)]
    return found


def _cmdline(pid: int) -> str:
    try:
        return open(f"/proc/{pid}/cmdline", "rb").read().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def _comm(pid: int) -> str:
    try:
        return open(f"/proc/{pid}/comm").read().strip()
    except OSError:
        return ""


def _kill_when(target: str, ready, killed: list, stop: threading.Event,
               number: int = signal.SIGKILL, last: bool = False) -> None:
    """Send signal ``number`` (once) to the process below this one whose command line holds
    ``target``, or whose name is ``target`` (the first one, or with ``last`` the last one, a
    child of the others), when ``ready(processes below this one)`` is true."""
    while not stop.wait(0.1):
        try:
            pids = _descendants(os.getpid())
        except OSError:
            continue
        targets = [p for p in pids if target in _cmdline(p) or target == _comm(p)]
        if targets and ready(pids):
            os.kill(targets[-1 if last else 0], number)
            killed.append(targets[-1 if last else 0])
            return


def _graded_while_killing(tmp_path, nb, target: str, ready, number: int = signal.SIGKILL,
                          last: bool = False):
    """(row, final) of ``nb`` graded alone, with signal ``number`` sent to ``target`` (the
    first or ``last`` process of that name) once when ``ready``."""
    folder = tmp_path / "submitted" / "victim" / A1.id
    folder.mkdir(parents=True)
    nbformat.write(nb, folder / A1.notebook)
    killed, stop = [], threading.Event()
    killer = threading.Thread(target=_kill_when, args=(target, ready, killed, stop, number,
                                                       last))
    killer.start()
    try:
        [row] = grade_class(tmp_path / "submitted", tmp_path / "out", limits=LIMITS, workers=1,
                            progress=False)
    finally:
        stop.set()
        killer.join()
        for pid in killed:  # a stopped process goes on (the cluster has ended it by now)
            try:
                os.kill(pid, signal.SIGCONT)
            except ProcessLookupError:
                pass
    assert killed, f"no process {target} was found to signal"
    [entry] = json.loads((tmp_path / "out" / "grading.json").read_text())["submissions"]
    return row, entry["final"]


def _waiting(pids: list[int]) -> bool:
    """Whether a kernel among ``pids`` has said that it waits (and has waited 2 s since)."""
    if any(os.path.exists(f"/proc/{p}/cwd/waiting") for p in pids):
        time.sleep(2)
        return True
    return False


def test_the_fork_server_dying_costs_no_student_points(tmp_path):
    """Missing data and environment failures are "not graded" (graded again later), never 0:
    a fork server killed while it serves a kernel is the grading machine's failure."""
    source = nbformat.read(A1.source_notebook, as_version=4)
    release_nb = nbformat.read(A1.release_notebook, as_version=4)
    answers = nbgrader_course.reference_answers(source)
    victim = nbgrader_course.solved_submission(
        source, release_nb, {"zero_pad": answers["zero_pad"] + WAITS_IN_ZERO_PAD})
    row, final = _graded_while_killing(tmp_path, victim, "course.grading.forkserver serve",
                                       _waiting)
    assert (row.score is not None and row.score.total[0] == 100) or (
        row.status.startswith("not graded") and not final), (row.status,
                                                              row.score and row.score.total)


@pytest.mark.parametrize("which", ["server", "child"])
def test_the_graders_reference_process_dying_costs_no_student_points(tmp_path, which):
    """The same for the grader's reference processes, which answer a failed helper's
    stand-in: the worker's fork server, which forks them, or the child it forked to answer
    this submission, killed while conv_forward is graded with the grader's conv_single_step,
    must not cost conv_forward its points (only conv_single_step, which is wrong, loses its
    10)."""
    source = nbformat.read(A1.source_notebook, as_version=4)
    release_nb = nbformat.read(A1.release_notebook, as_version=4)
    answers = nbgrader_course.reference_answers(source)
    header, body = answers["conv_forward"].split(":\n", 1)
    waits = ("    conv_single_step(np.ones((2, 2, 1)), np.ones((2, 2, 1)), np.ones((1, 1, 1)))\n"
             "    import os, time\n"
             "    if not os.path.exists('slept'):  # once: the grader's child waits meanwhile\n"
             "        open('slept', 'w').close()\n"
             "        time.sleep(5)\n")
    victim = nbgrader_course.solved_submission(source, release_nb, {
        "conv_single_step": "def conv_single_step(a_slice_prev, W, b):\n    return 0.0\n",
        "conv_forward": f"{header}:\n{waits}{body}"})
    def answering(pids):  # a reference child is there
        return any(_comm(p) == reference_process.CHILD_NAME for p in pids)
    row, final = _graded_while_killing(
        tmp_path, victim, "course.grading.forkserver serve" if which == "server"
        else reference_process.CHILD_NAME, answering)
    assert (row.score is not None and row.score.total[0] == 90) or (
        row.status.startswith("not graded") and not final), (row.status,
                                                              row.score and row.score.total)


def _listening(pids: list[int]) -> bool:
    """Whether a fork server among ``pids`` has made its socket (it takes requests from then
    on, and answers them once it has imported its libraries)."""
    for pid in pids:
        words = _cmdline(pid).split()
        if "course.grading.forkserver" in words and os.path.exists(words[-1]):
            return True
    return False


def test_a_fork_server_that_hangs_costs_no_final_grade(tmp_path):
    """The same when the fork server hangs (stopped, deadlocked, or still importing on a busy
    machine) and the kernel does not start in time: the grader's failure, graded again on the
    next run, not a final "nbgrader failed"."""
    source = nbformat.read(A1.source_notebook, as_version=4)
    release_nb = nbformat.read(A1.release_notebook, as_version=4)
    good = nbgrader_course.solved_submission(source, release_nb)
    row, final = _graded_while_killing(tmp_path, good, "course.grading.forkserver serve",
                                       _listening, signal.SIGSTOP)
    assert (row.score is not None and row.score.total[0] == 100) or (
        row.status.startswith("not graded") and not final), (row.status, final)


def _pipes(pid: int) -> dict[str, set[int]]:
    """{pipe: the access modes (0 read, 1 write, 2 both) of ``pid``'s descriptors of it}."""
    found: dict[str, set[int]] = {}
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
            flags = open(f"/proc/{pid}/fdinfo/{fd}").read().split("flags:")[1].split()[0]
        except (OSError, IndexError):
            continue
        if target.startswith("pipe:"):
            found.setdefault(target, set()).add(int(flags, 8) & 3)
    return found


def test_a_forked_kernel_holds_no_pipe_of_its_supervisor(tmp_path):
    """"Every file descriptor but the standard streams is closed in the sandbox": a kernel of
    the fork server, which no exec cleans up, holds no end of a pipe that only the supervisor
    used (the pipe that reported the sandbox's pid)."""
    from test_forkserver import Kernel

    from course.grading.forkserver import ForkServer
    from course.grading.worker import kernel_environment

    server = ForkServer(kernel_environment(Limits()), ("tensorflow",))
    try:
        kernel = Kernel(tmp_path / "k", server.socket)
        try:
            text, reply = kernel.run("import sys; print('tensorflow' in sys.modules)")
            assert reply["status"] == "ok" and text.strip() == "True", text
            processes = _descendants(server.process.pid)  # supervisor, namespaces, init, kernel
            held = [_pipes(p) for p in processes]
            readers = {pipe for pipes in held for pipe, modes in pipes.items()
                       if modes & {0, 2}}
            dangling = {pipe for pipe, modes in held[-1].items() if pipe not in readers}
            assert not dangling, f"the kernel writes to pipes nobody reads: {dangling}"
        finally:
            kernel.close()
    finally:
        server.stop()
