"""Grade a whole class: every submission autograded by nbgrader on its own, in parallel, each
kernel in a sandbox, every score decided outside the student's code.

``grade_class(submissions, out)`` takes nbgrader's layout
(``submissions/<student>/<assignment id>/<notebook>.ipynb``) or a folder of notebooks named by
student (``submissions/<student>.ipynb``, with ``assignment_id``), and writes under ``out``:

- ``course/``: an nbgrader course whose ``gradebook.db`` is the record of every grade, with
  ``autograded/`` and ``feedback/<student>/<assignment>/*.html``;
- ``scores.csv``: student, assignment, points per graded function, required, extra, total, status.

How (all of it in this process and its worker processes, none of it in a student's kernel):

1. ``submissions.collect`` finds the submissions and refuses links, special files and
   oversized files; ``submissions.read`` and ``submissions.sanitize`` turn each notebook into one
   whose graded cells are exactly the release's, noting what the student changed;
2. the reference answers of every test case are computed once per assignment
   (``trusted.expected``) into ``work/expected/``;
3. each submission gets its own scratch course ``work/<assignment>/<student>/`` (sources,
   gradebook, the sanitized notebook, its sandbox settings) and is graded there by a worker
   process, which runs nbgrader's autograde (with ``TrustedExecute``) and generate_feedback
   through nbgrader's API; the kernel runs under ``utils.course.sandbox``;
4. the grades of each scratch gradebook are copied into the class gradebook, and its autograded
   notebook and feedback copied as regular files, one submission at a time. A submission that
   fails in any way gets a status, and every other submission is graded as usual.
"""

from __future__ import annotations

import csv
import os
import re
import shutil
import stat
import tempfile
import warnings
from importlib import import_module
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
from nbgrader.api import Gradebook
from sqlalchemy.exc import SAWarning

from utils import data
from utils.course import release, sandbox, submissions
from utils.course.assignments import Assignment
from utils.course.execution import GRADING
from utils.course.grading import Score, data_note, read_scores
from utils.course.submissions import Submission
from utils.course.trusted import cases
from utils.course.trusted.expected import Reference

MAX_COPIED_BYTES = 64 * 2 ** 20  # largest autograded notebook or feedback file kept
_EXCEPTION_LINE = re.compile(r"^\s*[A-Za-z_.]*(Error|Exception): ")  # a traceback's last line


@dataclass(frozen=True)
class Limits:
    """Per-submission limits: seconds per cell and per notebook, memory and disk in MiB (all of
    the submission's processes together), and the number of its processes and threads."""

    cell_timeout: int = 120
    notebook_timeout: int = 900
    memory_mb: int = 6144
    disk_mb: int = 1024
    max_processes: int = 512


@dataclass
class Job:
    """What a worker needs to grade one submission (plain data, sent to another process)."""

    student: str
    assignment_id: str
    notebook: str
    work: str  # the submission's scratch course
    sandboxed: bool
    settings: str = ""  # the sandbox settings file (outside the kernel's view)
    notes: list[str] = field(default_factory=list)


def _scratch_course(course: Path, job_dir: Path, submission: Submission, nb, expected: Path,
                    limits: Limits, sandboxed: bool, runtimes: Path) -> Job:
    """The scratch course of one submission: the assignment's source and release, a copy of
    the class gradebook, the sanitized notebook, and a config with the limits and sandbox."""
    a = submission.assignment
    shutil.copytree(course / "source" / a.id, job_dir / "source" / a.id)
    shutil.copy(course / "gradebook.db", job_dir / "gradebook.db")
    folder = job_dir / "submitted" / submission.student / a.id
    folder.mkdir(parents=True)
    nbformat.write(nb, folder / a.notebook)
    config = (course / "nbgrader_config.py").read_text() + (
        "\n# Class grading: this submission's limits, sources and sandbox\n"
        "c.CourseDirectory.root = " + repr(str(job_dir)) + "\n"
        f"c.Execute.timeout = {limits.cell_timeout}\n"
        f"c.TrustedExecute.source_directory = {str(course / 'source')!r}\n"
        f"c.TrustedExecute.expected_cache = {str(expected)!r}\n")
    job = Job(submission.student, a.id, a.notebook, str(job_dir), sandboxed,
              notes=list(submission.notes))
    if sandboxed:
        runtime = Path(tempfile.mkdtemp(dir=runtimes))  # short: socket paths have 107 bytes
        settings = sandbox.Settings(
            name=submission.student, runtime=str(runtime), markers=str(job_dir / "markers"),
            readonly=[str(p) for p in data.data_folders()],
            env={**GRADING, "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
                 "LANG": "C.UTF-8", data.HOME_ENV: str(data.course_home())},
            memory_mb=limits.memory_mb, max_processes=limits.max_processes,
            disk_mb=limits.disk_mb, wall_s=limits.notebook_timeout)
        job.settings = str(settings.write(job_dir / "sandbox.json"))
        sandbox.kernelspec(job_dir / "jupyter", Path(job.settings))
        config += (f"c.Execute.kernel_name = {sandbox.KERNEL_NAME!r}\n"
                   "c.KernelManager.transport = 'ipc'\n"
                   f"c.KernelManager.ip = {str(runtime / 'kernel')!r}\n")
    (job_dir / "nbgrader_config.py").write_text(config)
    return job


def grade_one(job: Job) -> dict:
    """Autograde one submission and write its feedback (in a worker process).

    Returns {"ok": bool, "error": the last exception in nbgrader's log, "limits": [limit, ...]};
    the whole log is kept in the scratch course as nbgrader.log."""
    from nbgrader.apps import NbGraderAPI
    from nbgrader.coursedir import CourseDirectory
    from traitlets.config.loader import PyFileConfigLoader

    warnings.simplefilter("ignore", SAWarning)  # nbgrader's own autoflush notices
    os.environ.update(GRADING)
    os.environ["JUPYTER_PATH"] = str(Path(job.work) / "jupyter")
    config = PyFileConfigLoader("nbgrader_config.py", path=job.work).load_config()
    api = NbGraderAPI(coursedir=CourseDirectory(config=config), config=config)
    result = api.autograde(job.assignment_id, job.student, force=True, create=True)
    log = result.get("log", "") + result.get("error", "")
    if result.get("success"):
        log += api.generate_feedback(job.assignment_id, job.student, force=True).get("log", "")
    Path(job.work, "nbgrader.log").write_text(log)
    error = ([line.strip() for line in log.splitlines() if _EXCEPTION_LINE.match(line)]
             or [line for line in log.splitlines() if "ERROR" in line])
    hit = sandbox.limits_hit(sandbox.Settings.read(Path(job.settings))) if job.settings else []
    return {"ok": bool(result.get("success")), "error": (error or ["see its log"])[-1][:200],
            "limits": [h.limit for h in hit]}


def _status(job: Job, outcome: dict, score: Score | None, limits: Limits) -> str:
    """The status of a graded (or failed) submission, for scores.csv."""
    if "wall time" in outcome.get("limits", []):
        return f"timeout: the notebook ran over {limits.notebook_timeout} s"
    if not outcome.get("ok") or score is None or score.status != "graded":
        return f"nbgrader failed: {outcome.get('error', 'no result')}"
    notes = list(job.notes)
    hit = [h for h in dict.fromkeys(outcome.get("limits", []))]
    if hit:
        notes.append(f"limits hit: {', '.join(hit)}")
    autograded = Path(job.work) / "autograded" / job.student / job.assignment_id / job.notebook
    notes += cell_errors(autograded)
    missing = data_note(score.missing_data)
    if missing:
        notes.append(f"the grader's {missing}: fetch it and grade again")
    return "graded" + (f" ({'; '.join(notes)})" if notes else "")


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


def _copy_regular_files(source: Path, target: Path) -> None:
    """Copy the regular files directly in ``source`` (no links, no special files, none over
    MAX_COPIED_BYTES) into ``target``."""
    if not source.is_dir() or source.is_symlink():
        return
    target.mkdir(parents=True, exist_ok=True)
    for entry in source.iterdir():
        info = os.lstat(entry)
        if stat.S_ISREG(info.st_mode) and info.st_size <= MAX_COPIED_BYTES:
            shutil.copyfile(entry, target / entry.name, follow_symlinks=False)


def copy_grades(work: Path, course: Path, assignment: Assignment, student: str) -> None:
    """Copy one student's autograded scores from a scratch gradebook into the class gradebook,
    and their autograded notebook and feedback as regular files."""
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
        _copy_regular_files(work / kind / student / assignment.id,
                            course / kind / student / assignment.id)


def _precompute_expected(course: Path, needed: list[Assignment], expected: Path) -> None:
    """The reference answers of every test case of ``needed``, into ``expected/<id>/``."""
    for a in needed:
        reference = Reference(course / "source" / a.id / a.notebook, expected / a.id)
        for tests in cases.read(reference.source):
            graded = import_module(tests.module).CHECKS[tests.function]
            for case in tests.cases:
                reference.answer(graded, case.params, graded.inputs(**case.params))


def _run_jobs(jobs: list[Job], workers: int) -> dict[str, dict]:
    """{student/assignment: outcome} of every job, graded by ``workers`` processes. A worker
    that dies costs its jobs one retry; a job that was running in two broken pools gets an
    outcome saying so."""
    outcomes: dict[str, dict] = {}
    tries: dict[str, int] = {}
    left = list(jobs)
    while left:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            futures = {pool.submit(grade_one, job): job for job in left}
            broken = False
            for future, job in futures.items():
                key = f"{job.student}/{job.assignment_id}"
                try:
                    outcomes[key] = future.result()
                except BrokenProcessPool:
                    broken = True
                except Exception as error:  # noqa: BLE001 (a failure of this one job)
                    outcomes[key] = {"ok": False, "error": f"{type(error).__name__}: "
                                                          f"{str(error)[:160]}"}
        left = []
        for job in jobs:
            key = f"{job.student}/{job.assignment_id}"
            if key not in outcomes and broken:
                tries[key] = tries.get(key, 0) + 1
                if tries[key] >= 2:
                    outcomes[key] = {"ok": False, "error": "the grading worker died twice"}
                else:
                    left.append(job)
    return outcomes


def _well_formed(found: list[Submission]) -> dict:
    """{(student, assignment id): sanitized notebook} of the gradable submissions; the others
    get a status saying why they cannot be graded, the rest notes on what was changed."""
    notebooks = {}
    for submission in found:
        if submission.status:
            continue
        try:
            nb = submissions.read(submission.path)
        except ValueError as error:
            submission.status = str(error)
            continue
        release_nb = nbformat.read(submission.assignment.release_notebook, as_version=4)
        clean, notes = submissions.sanitize(nb, release_nb)
        if clean is None:
            submission.status = f"not a submission of {submission.assignment.id}: {notes[0]}"
        else:
            notebooks[submission.student, submission.assignment.id] = clean
            submission.notes = tuple(notes)
    return notebooks


def grade_class(submissions_folder: Path, out: Path, assignment_id: str | None = None,
                workers: int | None = None, limits: Limits = Limits(),
                sandboxed: bool = True) -> list[tuple[Submission, Score | None]]:
    """Grade every submission; write ``out/course`` and ``out/scores.csv``; return the rows."""
    if sandboxed and (missing := sandbox.check()):
        raise RuntimeError("The student code cannot be sandboxed on this machine: "
                           + "; ".join(missing) + ". Grade on a machine that has these, or "
                           "pass --no-sandbox to run it unsandboxed (only for trusted code).")
    out, submissions_folder = Path(out).resolve(), Path(submissions_folder).resolve()
    found = submissions.collect(submissions_folder, assignment_id)
    course = out / "course"
    for folder in (course, out / "work"):
        if folder.exists():
            shutil.rmtree(folder)
    notebooks = _well_formed(found)
    gradable = [s for s in found if not s.status]
    needed = list({s.assignment.id: s.assignment for s in gradable}.values())
    release.new_course(course, needed)
    for a in needed:  # the kernels only read the data: fetch it first (missing files are
        data.check_available(data.entries_for(a.id), progress=False)  # then reported by the
        # notebook itself, and marked in the status; one failed download per dataset)
    expected = out / "work" / "expected"
    _precompute_expected(course, needed, expected)
    with tempfile.TemporaryDirectory(prefix="cnn-grading-") as runtimes:
        jobs = [_scratch_course(course, out / "work" / s.assignment.id / s.student, s,
                                notebooks[s.student, s.assignment.id], expected, limits,
                                sandboxed, Path(runtimes)) for s in gradable]
        outcomes = _run_jobs(jobs, workers or os.cpu_count() or 1)
    scores = {}
    for submission, job in zip(gradable, jobs):
        outcome = outcomes.get(f"{job.student}/{job.assignment_id}", {})
        work = Path(job.work)
        score = None
        if outcome.get("ok"):
            score = read_scores(work, submission.assignment, [job.student])[0]
        submission.status = _status(job, outcome, score, limits)
        if submission.status.startswith("graded"):
            copy_grades(work, course, submission.assignment, job.student)
            scores[job.student, job.assignment_id] = score
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

