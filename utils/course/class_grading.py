"""Grade a whole class: every submission autograded by nbgrader, in parallel, each in a sandbox.

``grade_class(submissions, out)`` takes either nbgrader's layout
(``submissions/<student>/<assignment id>/<notebook>.ipynb``) or a folder of notebooks named by
student (``submissions/<student>.ipynb``, with ``assignment_id``), and writes under ``out``:

- ``course/``: an nbgrader course whose ``gradebook.db`` is the record of every grade, with
  ``autograded/`` and ``feedback/<student>/<assignment>/*.html``;
- ``scores.csv``: student, assignment, points per graded function, required, extra, total, status.

The submissions are dealt into one chunk per worker; the chunks are graded in parallel, each on
its own copy of the course (``work/<assignment>-<worker>/``) by ``nbgrader autograde`` and
``generate_feedback``. The kernel that runs the student's code is sandboxed
(``utils.course.sandbox``): no network, a memory cap, a per-cell and a per-notebook time
limit, and no sight of the class folder (other submissions, gradebooks) or of the source
notebooks, except its own working folder. The grades are then copied into the class gradebook
one submission at a time, so a failing submission costs no one else's grade.
"""

from __future__ import annotations

import csv
import functools
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import warnings
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import nbformat
from nbgrader.api import Gradebook
from sqlalchemy.exc import SAWarning

from utils.course import assignments, release, sandbox
from utils.course.assignments import COURSE_ROOT, Assignment
from utils.course.execution import grading_env
from utils.course.grading import Score, read_scores

STUDENT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


@dataclass
class Submission:
    """One student's notebook for one assignment, and what happened to it."""

    student: str
    assignment: Assignment | None
    path: Path | None
    status: str = ""  # empty while it is gradable; otherwise why it is not (or how it went)
    notes: tuple[str, ...] = ()  # things worth saying about a graded submission


@dataclass(frozen=True)
class Limits:
    """Per-submission limits: seconds per cell and per notebook, memory in MiB."""

    cell_timeout: int = 120
    notebook_timeout: int = 900
    memory_mb: int = 6144


def collect(folder: Path, assignment_id: str | None = None) -> list[Submission]:
    """The submissions in ``folder``, in either layout, each checked before grading."""
    folder = Path(folder)
    found = []
    for entry in sorted(folder.iterdir()):
        if entry.is_dir():
            for sub in sorted(p for p in entry.iterdir() if p.is_dir()):
                found.append(_nbgrader_layout(entry.name, sub))
        elif entry.suffix == ".ipynb":
            if assignment_id is None:
                raise ValueError(f"{folder} holds notebooks named by student: say which "
                                 "assignment they are (--assignment ID)")
            found.append(Submission(entry.stem, assignments.get(assignment_id), entry))
    if assignment_id:
        found = [s for s in found if s.assignment is None or s.assignment.id == assignment_id]
    for submission in found:
        if not submission.status:
            submission.status, submission.notes = check(submission)
    return found


def _nbgrader_layout(student: str, folder: Path) -> Submission:
    known = {a.id: a for a in assignments.available()}
    if folder.name not in known:
        return Submission(student, None, None, f"unknown assignment '{folder.name}'")
    assignment = known[folder.name]
    path = folder / assignment.notebook
    if not path.is_file():
        return Submission(student, assignment, None, f"no {assignment.notebook} in {folder.name}/")
    return Submission(student, assignment, path)


@functools.lru_cache
def _graded_cells(assignment: Assignment) -> dict:
    """{grade id: cell} of the answer and test cells of the release notebook (read once)."""
    release_nb = nbformat.read(assignment.release_notebook, as_version=4)
    return {c.metadata["nbgrader"]["grade_id"]: c for c in release_nb.cells
            if c.metadata.get("nbgrader", {}).get("grade")
            or c.metadata.get("nbgrader", {}).get("solution")}


def check(submission: Submission) -> tuple[str, tuple[str, ...]]:
    """(status, notes) from reading the notebook: empty status when it can be graded."""
    if not STUDENT_ID.match(submission.student):
        return f"invalid student id {submission.student!r}", ()
    try:
        nb = nbformat.read(submission.path, as_version=4)
    except Exception as error:  # noqa: BLE001 (any unreadable file: JSON, schema, encoding)
        return f"corrupt notebook: {type(error).__name__}: {str(error).splitlines()[0][:120]}", ()
    cells = {c.metadata.get("nbgrader", {}).get("grade_id"): c for c in nb.cells}
    graded = _graded_cells(submission.assignment)
    missing = [g for g in graded if g not in cells]
    if len(missing) == len(graded):
        return (f"not a submission of {submission.assignment.id}: none of its graded cells "
                "are there"), ()
    notes = []
    if missing:
        notes.append(f"deleted cells: {', '.join(missing)}")
    edited = [g for g, c in graded.items() if c.metadata["nbgrader"].get("grade")
              and not c.metadata["nbgrader"].get("solution") and g in cells
              and cells[g].source != c.source]
    if edited:
        notes.append(f"edited test cells (restored from the gradebook): {', '.join(edited)}")
    return "", tuple(notes)


def _run(command: list[str], cwd: Path, env: dict, timeout: float) -> tuple[int | None, str]:
    """Run a command in its own process group; kill the whole group after ``timeout`` seconds.
    Returns (exit code or None on timeout, the last lines of its output)."""
    process = subprocess.Popen(command, cwd=cwd, env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        output, _ = process.communicate(timeout=timeout)
        return process.returncode, output[-4000:]
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        output, _ = process.communicate()
        return None, (output or "")[-4000:]


def _scratch_course(course: Path, work: Path, runtime: Path, chunk: list[Submission],
                    limits: Limits, sandboxed: bool) -> Path:
    """A copy of the class course for a chunk of submissions of one assignment, with the
    limits and sandbox settings; the kernels' sockets go in ``runtime`` (a short path: Unix
    socket names are limited to 107 bytes)."""
    a = chunk[0].assignment
    if work.exists():
        shutil.rmtree(work)
    shutil.copytree(course / "source" / a.id, work / "source" / a.id)
    shutil.copy(course / "gradebook.db", work / "gradebook.db")
    for submission in chunk:
        folder = work / "submitted" / submission.student / a.id
        folder.mkdir(parents=True)
        shutil.copy(submission.path, folder / a.notebook)
    config = (course / "nbgrader_config.py").read_text() + (
        "\n# Class grading: limits and sandbox\n"
        f"c.Execute.timeout = {limits.cell_timeout}\n")
    if sandboxed:
        config += (f"c.Execute.kernel_name = {sandbox.KERNEL_NAME!r}\n"
                   "c.KernelManager.transport = 'ipc'\n"
                   f"c.KernelManager.ip = {str(runtime / 'kernel')!r}\n")
    (work / "nbgrader_config.py").write_text(config)
    return work


def grade_chunk(course: Path, out: Path, runtimes: Path, hidden: list[Path],
                chunk: list[Submission], name: str, limits: Limits,
                sandboxed: bool) -> list[tuple[Submission, Score | None, Path | None]]:
    """Autograde and write feedback for a chunk of submissions of one assignment, one after
    the other, in one nbgrader run on a scratch course ``out/work/<name>``.

    ``runtimes`` holds the socket folder of every chunk; a kernel sees only its own chunk's,
    and none of the ``hidden`` folders (all submissions, the class folder ``out``, the source
    notebooks) except its own working folder. Each kernel is killed after the per-notebook
    time; the nbgrader run as a whole after that time per submission, plus two minutes."""
    a = chunk[0].assignment
    runtime = Path(tempfile.mkdtemp(dir=runtimes))
    work = _scratch_course(course, out / "work" / name, runtime, chunk, limits, sandboxed)
    env = grading_env(**{"JUPYTER_PATH": str(out / "jupyter"),
                         sandbox.HIDE_ENV: os.pathsep.join(str(p) for p in [*hidden, runtimes]),
                         sandbox.KEEP_ENV: str(runtime),
                         sandbox.MEMORY_ENV: str(limits.memory_mb),
                         sandbox.WALL_ENV: str(limits.notebook_timeout)})
    nbgrader = [sys.executable, "-m", "nbgrader"]
    budget = limits.notebook_timeout * len(chunk) + 120
    code, log = _run([*nbgrader, "autograde", a.id, "--create", "--force"], work, env, budget)
    _run([*nbgrader, "generate_feedback", a.id, "--force"], work, env, budget)
    scores = read_scores(work, a, [s.student for s in chunk])
    results = []
    for submission, score in zip(chunk, scores):
        if (runtime / f"timeout-{submission.student}").exists() or (
                code is None and score.status != "graded"):
            submission.status = f"timeout: the notebook ran over {limits.notebook_timeout} s"
        elif score.status != "graded":
            errors = [line for line in log.splitlines()
                      if "ERROR" in line and submission.student in line]
            submission.status = f"nbgrader failed: {(errors or ['see its log'])[0].strip()[:160]}"
        else:
            notes = [*submission.notes,
                     *cell_errors(work / "autograded" / submission.student / a.id / a.notebook)]
            submission.status = "graded" + (f" ({'; '.join(notes)})" if notes else "")
            results.append((submission, score, work))
            continue
        results.append((submission, None, None))
    return results


def cell_errors(autograded: Path, shown: int = 3) -> list[str]:
    """'errors in cells: zero_pad (MemoryError), ...' for the graded cells that raised."""
    nb = nbformat.read(autograded, as_version=4)
    errors = [f"{c.metadata['nbgrader']['grade_id']} ({o.ename})" for c in nb.cells
              if c.metadata.get("nbgrader", {}).get("grade_id") for o in c.get("outputs", [])
              if o.output_type == "error"]
    if not errors:
        return []
    more = f", +{len(errors) - shown} more" if len(errors) > shown else ""
    return [f"errors in cells: {', '.join(errors[:shown])}{more}"]


def copy_grades(work: Path, course: Path, assignment: Assignment, student: str) -> None:
    """Copy one student's autograded scores from a scratch gradebook into the class gradebook."""
    with Gradebook(f"sqlite:///{work / 'gradebook.db'}") as scratch, \
            Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook, \
            warnings.catch_warnings():
        warnings.simplefilter("ignore", SAWarning)  # nbgrader's own autoflush notices
        source = scratch.find_submission(assignment.id, student)
        gradebook.update_or_create_student(student)
        gradebook.update_or_create_submission(assignment.id, student,
                                              timestamp=source.timestamp)
        for notebook in source.notebooks:
            for grade in notebook.grades:
                target = gradebook.find_grade(grade.name, notebook.name, assignment.id, student)
                target.auto_score = grade.auto_score
                target.manual_score = grade.manual_score
                target.extra_credit = grade.extra_credit
        gradebook.db.commit()
    for kind in ("autograded", "feedback"):
        source_folder = work / kind / student / assignment.id
        if source_folder.is_dir():
            shutil.copytree(source_folder, course / kind / student / assignment.id,
                            dirs_exist_ok=True)


def grade_class(submissions: Path, out: Path, assignment_id: str | None = None,
                workers: int | None = None, limits: Limits = Limits(),
                sandboxed: bool = True) -> list[tuple[Submission, Score | None]]:
    """Grade every submission; write ``out/course`` and ``out/scores.csv``; return the rows."""
    if sandboxed and not sandbox.available():
        raise RuntimeError("This machine does not allow unprivileged user namespaces, so the "
                           "student code cannot be sandboxed. Grade on a machine that does, or "
                           "pass --no-sandbox to run it unsandboxed (only for trusted code).")
    out, submissions = Path(out).resolve(), Path(submissions).resolve()
    hidden = [out, submissions, COURSE_ROOT]
    found = collect(submissions, assignment_id)
    gradable = [s for s in found if not s.status]
    needed = list({s.assignment.id: s.assignment for s in gradable}.values())
    course = out / "course"
    if course.exists():
        shutil.rmtree(course)
    release.new_course(course, needed)
    sandbox.kernelspec(out / "jupyter")
    workers = workers or os.cpu_count() or 1
    chunks = {}  # (assignment, worker) -> submissions, dealt round robin
    for i, submission in enumerate(gradable):
        chunks.setdefault((submission.assignment.id, i % workers), []).append(submission)
    with tempfile.TemporaryDirectory(prefix="cnn-grading-") as runtimes, \
            ThreadPoolExecutor(max_workers=workers) as pool:
        results = [r for rs in pool.map(
            lambda item: grade_chunk(course, out, Path(runtimes), hidden, item[1],
                                     f"{item[0][0]}-{item[0][1]}", limits, sandboxed),
            chunks.items()) for r in rs]
    scores = {}
    for submission, score, work in results:
        if score is not None:
            copy_grades(work, course, submission.assignment, submission.student)
            scores[submission.student, submission.assignment.id] = score
    rows = [(s, scores.get((s.student, s.assignment.id)) if s.assignment else None)
            for s in found]
    write_csv(rows, out / "scores.csv")
    return rows


def write_csv(rows: list[tuple[Submission, Score | None]], path: Path) -> None:
    """student, assignment, one column per graded cell (points), required, extra, total, status."""
    cells = list(dict.fromkeys(k for _, score in rows if score for k in score.cells))
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["student", "assignment", *cells, "required", "extra", "total",
                         "status"])
        for submission, score in rows:
            points = [score.cells[k][0] if score and k in score.cells else "" for k in cells]
            totals = ([score.required[0], score.extra[0], score.total[0]] if score
                      else ["", "", ""])
            writer.writerow([submission.student,
                             submission.assignment.id if submission.assignment else "",
                             *points, *totals, submission.status])


def summary(rows: list[tuple[Submission, Score | None]]) -> str:
    """One line per submission: student, assignment, total, status."""
    return "\n".join(
        f"{s.student:20s} {s.assignment.id if s.assignment else '-':32s} "
        f"{(f'{score.total[0]:g}/{score.total[1]:g}' if score else '-'):>9s}  {s.status}"
        for s, score in rows)
