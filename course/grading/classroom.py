"""Grade a whole class: every submission autograded by nbgrader on its own, as one task on a
Dask cluster, each kernel in a sandbox, every score decided outside the student's code.

``grade_class(submissions, out)`` takes nbgrader's layout
(``submissions/<student>/<assignment id>/<notebook>.ipynb``) or a folder of notebooks named by
student (``submissions/<student>.ipynb``, with ``assignment_id``), and writes under ``out``:

- ``course/``: an nbgrader course whose ``gradebook.db`` is the record of every grade, with
  ``autograded/`` and ``feedback/<student>/<assignment>/*.html``;
- ``scores.csv``: student, assignment, points per graded function, required, extra, total,
  seconds (the submission's grading time) and status;
- ``logs/<assignment>/<student>.log``: nbgrader's log of each submission;
- ``grading.json`` (``class_record``): what the next run needs to grade only what changed.

How (all of it in this process and the Dask workers, none of it in a student's kernel):

1. ``submissions.collect`` finds the submissions and refuses links, special files and
   oversized files; ``submissions.read`` and ``submissions.sanitize`` turn each notebook into one
   whose graded cells are exactly the release's (the Chinese release's for a notebook of the
   Chinese edition), noting what the student changed;
2. the course is built (or kept from the last run when its sources are unchanged), and the
   reference answers of every test case computed once per assignment (``trusted.expected``);
3. each assignment's ``grading_worker.Bundle`` (sources, empty gradebook, reference answers;
   a second one with the Chinese sources when Chinese notebooks were submitted: same hidden
   cases, same answers, same grade ids) goes once to every worker, and each new or changed
   submission becomes one task (``dask_engine``) that grades it in a scratch course on its
   worker and returns data;
4. here, as each task finishes, its grades go into the class gradebook, its autograded
   notebook and feedback into the course as regular files, and its status into grading.json.
   A submission that fails in any way gets a status; every other one is graded as usual.
"""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import hashlib
import re
import secrets
import shutil
import tempfile
import time
import warnings
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import nbformat
from nbgrader.api import Gradebook, MissingEntry
from sqlalchemy.exc import SAWarning

from course import assignments
from course.assignments import COURSE_ROOT, Assignment
from course.authoring import release
from course.grading import engine, sandbox, submissions
from course.grading.limits import Limits
from course.grading.nbgrader_course import Score, data_note, read_scores
from course.grading.record import ClassRecord, Entry
from course.grading.submissions import Submission
from course.grading.worker import (Bundle, Ending, Outcome, Request,
                                   answers_in_fork_save_an_import, code_version, hash_files)
from course.translation import messages
from course.translation.notebooks import catalogue
from course.trusted import reference_process
from course.trusted.executor import IMPORTS_CELL
from course.trusted.reference_answers import Reference
from utils import data

__all__ = ["Limits", "Row", "grade_class", "summary", "write_csv"]


@dataclass
class Row:
    """One line of scores.csv."""

    student: str
    assignment: str  # "" when unknown
    score: Score | None
    status: str
    seconds: float | None = None
    cpu_seconds: float | None = None


class StaleCourse(RuntimeError):
    """The course's sources changed since the class was graded, and only some were asked for."""


def _files(folder: Path) -> dict[str, bytes]:
    """{path relative to ``folder``: content} of the files under ``folder``."""
    return {str(p.relative_to(folder)): p.read_bytes()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def _sources_key(a: Assignment) -> str:
    """A hash of what the course builds ``a`` from: its sources (``Assignment.sources``, not
    whatever else lies in their folder), nbgrader's config, the code."""
    digest = hashlib.sha256(code_version().encode())
    digest.update((COURSE_ROOT / "nbgrader_config.py").read_bytes())
    hash_files(digest, {str(p.relative_to(COURSE_ROOT)): p.read_bytes() for p in a.sources})
    return digest.hexdigest()


def _keep_course(out: Path, record: ClassRecord, keys: dict[str, str], partial: bool) -> bool:
    """Whether ``out/course`` (and the record's results) can be kept: no assignment's sources
    changed since it was built. Raises StaleCourse when they did and only some students were
    asked for (every submission must then be graded again)."""
    stale = [a for a, key in keys.items() if record.assignments.get(a, key) != key]
    if stale and partial:
        raise StaleCourse(f"the sources of {', '.join(stale)} changed since the class was "
                          "graded: grade the whole class again (without --student)")
    return not stale and (out / "course" / "gradebook.db").exists() and bool(record.assignments)


def _build_course(out: Path, record: ClassRecord, needed: list[Assignment],
                  keys: dict[str, str]) -> Path:
    """``out/course`` with every assignment of ``needed`` (the ones it lacks added)."""
    course = out / "course"
    new = [a for a in needed if a.id not in record.assignments]
    if new:
        release.new_course(course, new)
        record.assignments.update({a.id: keys[a.id] for a in new})
    return course


def _expected_answers(course: Path, a: Assignment, folder: Path,
                      secret: str) -> dict[str, bytes]:
    """{"<assignment id>/<case key>.json": reference answer} of every test case of ``a`` in
    the run ``secret`` (the hidden cases' seeds), and the fingerprints of each helper's hidden
    calls (``Reference.hidden_calls_text``, ``<key>.calls``), computed into ``folder`` (named
    by the sources' key, so never stale; the public cases' answers are kept for the next run,
    the hidden ones of earlier runs removed). A fork of the local cluster's fork server, which
    has imported the assignment's libraries for the kernels, computes them first when that
    saves this process an import of TensorFlow (``worker.answers_in_fork_save_an_import``;
    ``reference_process.answers_in_fork``): this process then reads them from the folder;
    whatever the fork did not compute is computed here."""
    source = course / "source" / a.id / a.notebook
    if answers_in_fork_save_an_import(source.read_text()):
        reference_process.answers_in_fork(source, folder / a.id, secret)
    answers = Reference(source, folder / a.id).every_answer(secret)
    for stale in set(_files(folder / a.id)) - set(answers):
        (folder / a.id / stale).unlink()
    return {f"{a.id}/{name}": text.encode() for name, text in answers.items()}


def _empty_gradebook(course: Path) -> bytes:
    """The class gradebook with its assignments and without any student."""
    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / "gradebook.db"
        shutil.copy(course / "gradebook.db", path)
        with Gradebook(f"sqlite:///{path}") as gradebook, warnings.catch_warnings():
            warnings.simplefilter("ignore", SAWarning)
            for student in gradebook.students:
                gradebook.remove_student(student.id)
        return path.read_bytes()


RUN_DEMONSTRATIONS = ("\n# grade-class --run-demonstrations: every cell runs, the "
                      "demonstrations too\nc.TrustedExecute.skip_demonstrations = False\n")


def _bundles(course: Path, out: Path, needed: list[Assignment], record: ClassRecord,
             run_demonstrations: bool, record_folder: Path | None,
             chinese: list[Assignment] = ()) -> tuple[dict[str, Bundle], dict[str, str]]:
    """({bundle name: what its grading tasks need}: one per assignment of ``needed``, and one
    more for the Chinese submissions of each assignment of ``chinese``; {assignment id: the
    status of its submissions} for the assignments whose reference answers need data files
    this machine lacks: they are not graded)."""
    if not needed:
        return {}, {}
    empty = _empty_gradebook(course)
    secret = secrets.token_hex(16)  # this run's hidden cases (trusted/cases.py)
    config = (course / "nbgrader_config.py").read_text() + (
        f"\n# grade-class: this run's hidden cases\nc.TrustedExecute.hidden_case_secret = "
        f"{secret!r}\n")
    if run_demonstrations:
        config += RUN_DEMONSTRATIONS
    if record_folder is not None:
        config += (f"\n# grade-class --record: what the grader sends into each kernel\n"
                   f"c.TrustedExecute.record_folder = {str(Path(record_folder).resolve())!r}\n")
    bundles, unavailable = {}, {}
    for a in needed:
        try:
            expected = _expected_answers(
                course, a, out / "work" / "expected" / record.assignments[a.id][:16], secret)
        except data.DataFileError as error:
            missing = {"": [data.dataset_of(p) for p in data.missing_files_named_in(str(error))]}
            unavailable[a.id] = (f"not graded: the grader's {data_note(missing) or 'data'} "
                                 f"({error}): fetch it and grade again")
            continue
        bundles[a.id] = Bundle(
            a.id, a.notebook, config, empty,
            {f"{a.id}/{name}": content
             for name, content in _files(course / "source" / a.id).items()},
            expected, code_version())
    for a in chinese:
        if a.id in bundles:
            bundles[a.id + submissions.CHINESE_BUNDLE] = _chinese_bundle(bundles[a.id], a)
    return bundles, unavailable


def _chinese_bundle(bundle: Bundle, a: Assignment) -> Bundle:
    """``bundle`` for the Chinese edition's submissions: the same hidden cases, reference
    answers and configuration, with the Chinese sources and a gradebook made from them (so
    that nbgrader restores the Chinese read-only cells and the feedback is Chinese)."""
    with tempfile.TemporaryDirectory() as scratch:
        course = release.new_course(Path(scratch), [a], chinese=True)
        return dataclasses.replace(
            bundle, gradebook=_empty_gradebook(course),
            sources={f"{a.id}/{name}": content
                     for name, content in _files(course / "source" / a.id).items()})


def _chinese_key(a: Assignment, sources_key: str) -> str:
    """The sources key of ``a``'s Chinese submissions: its sources, its catalogue and the
    messages' (the feedback's verdicts)."""
    return hashlib.sha256(sources_key.encode() + catalogue(a).read_bytes()
                          + messages.COMPILED.read_bytes()).hexdigest()


def _submission_key(notebook: bytes, sources_key: str, limits: Limits, sandboxed: bool,
                    run_demonstrations: bool) -> str:
    """A hash of what decides a submission's grades and feedback: its sanitized notebook, the
    assignment's sources and the course's code (``_sources_key``), the limits, the sandbox
    setting and whether the demonstrations run."""
    digest = hashlib.sha256(notebook)
    digest.update(f"{sources_key}\0{limits!r}\0{sandboxed}\0{run_demonstrations}".encode())
    return digest.hexdigest()


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
        release_nb, submission.chinese = submissions.release_of(nb, submission.assignment)
        clean, notes = submissions.sanitize(nb, release_nb)
        if clean is None:
            submission.status = f"not a submission of {submission.assignment.id}: {notes[0]}"
        else:
            notebooks[submission.student, submission.assignment.id] = clean
            submission.notes = tuple(notes)
    return notebooks


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


def imports_failed(autograded: Path) -> str | None:
    """'ModuleNotFoundError: ...' when the notebook's imports cell (read-only, restored from
    the release, the first to run) raised: the grader's environment failed, not the
    submission."""
    if not autograded.is_file():
        return None
    for cell in nbformat.read(autograded, as_version=4).cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == IMPORTS_CELL:
            for output in cell.get("outputs", []):
                if output.output_type == "error":
                    return f"{output.ename}: {str(output.evalue)[:200]}"
    return None


def _status(outcome: Outcome, notes: tuple[str, ...], score: Score | None,
            autograded: Path, limits: Limits) -> tuple[str, bool, bool]:
    """(status, final, graded) of a graded or failed submission (see
    ``class_record.Entry``)."""
    if sandbox.Limit.WALL_TIME in outcome.limits:
        return f"timeout: the notebook ran over {limits.notebook_timeout} s", True, False
    if outcome.ending in (Ending.TASK_FAILED, Ending.WORKERS_DIED, Ending.GRADER_FAILED):
        return outcome.error, outcome.ending.final, False
    if outcome.ending is not Ending.GRADED or score is None or score.status != "graded":
        return f"nbgrader failed: {outcome.error or 'no result'}", outcome.ending.final, False
    if failed := imports_failed(autograded):
        return (f"not graded: the grader's environment could not run the notebook's imports "
                f"({failed}); fix it and grade again"), False, False
    if missing := data_note(score.missing_data):
        return f"not graded: the grader's {missing}: fetch it and grade again", False, False
    notes = list(notes)
    if outcome.limits:
        notes.append(f"limits hit: {', '.join(outcome.limits)}")
    if outcome.left_out:
        notes.append(f"files not kept: {', '.join(outcome.left_out)}")
    if autograded.is_file():
        notes += cell_errors(autograded)
    return "graded" + (f" ({'; '.join(notes)})" if notes else ""), True, True


@contextlib.contextmanager
def _class_gradebook(course: Path):
    """The class gradebook, open for this run (without nbgrader's own autoflush notices)."""
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook, \
            warnings.catch_warnings():
        warnings.simplefilter("ignore", SAWarning)
        yield gradebook


def _forget(gradebook: Gradebook, course: Path, a: Assignment, student: str) -> None:
    """Remove a student's earlier grades, autograded notebook and feedback of ``a``."""
    try:
        gradebook.remove_submission(a.id, student)
    except MissingEntry:
        pass
    for kind in ("autograded", "feedback"):
        shutil.rmtree(course / kind / student / a.id, ignore_errors=True)


def _save_grades(gradebook: Gradebook, course: Path, a: Assignment, student: str,
                 outcome: Outcome) -> None:
    """Put a graded submission's points into the class gradebook and its autograded notebook
    and feedback (plain files, by name only) into the course."""
    timestamp = datetime.fromisoformat(outcome.timestamp) if outcome.timestamp else None
    gradebook.update_or_create_student(student)
    gradebook.update_or_create_submission(a.id, student, timestamp=timestamp)
    notebook = Path(a.notebook).stem
    for name, (auto, manual, extra) in outcome.grades.items():
        grade = gradebook.find_grade(name, notebook, a.id, student)
        grade.auto_score, grade.manual_score, grade.extra_credit = auto, manual, extra
    gradebook.db.commit()
    for name, content in outcome.files.items():
        kind, _, filename = name.partition("/")
        if kind in ("autograded", "feedback") and filename == Path(filename).name:
            folder = course / kind / student / a.id
            folder.mkdir(parents=True, exist_ok=True)
            (folder / filename).write_bytes(content)


def _record(gradebook: Gradebook, course: Path, out: Path, a: Assignment,
            submission: Submission, key: str, outcome: Outcome, limits: Limits) -> Entry:
    """Everything one finished task gave, into the course; its entry in the record."""
    student = submission.student
    _forget(gradebook, course, a, student)
    logs = out / "logs" / a.id
    logs.mkdir(parents=True, exist_ok=True)
    (logs / f"{student}.log").write_text(outcome.log)
    score = None
    if outcome.ending is Ending.GRADED and outcome.grades:
        _save_grades(gradebook, course, a, student, outcome)
        score = read_scores(course, a, [student])[0]
    autograded = course / "autograded" / student / a.id / a.notebook
    status, final, graded = _status(outcome, submission.notes, score, autograded, limits)
    if not graded:
        _forget(gradebook, course, a, student)
    return Entry(student, a.id, status, key, final, graded,
                 None if outcome.seconds is None else round(outcome.seconds, 2),
                 None if outcome.cpu_seconds is None else round(outcome.cpu_seconds, 2),
                 outcome.worker)


def grade_class(submissions_folder: Path, out: Path, assignment_id: str | None = None,
                workers: int | None = None, limits: Limits | None = None,
                sandboxed: bool = True, scheduler: str | None = None,
                students: list[str] | None = None, regrade: bool = False,
                progress: bool = True, run_demonstrations: bool = False,
                record_folder: Path | None = None, fork_server: bool = True) -> list[Row]:
    """Grade the new and changed submissions (all with ``regrade``; only ``students`` when
    given) on a Dask cluster (``scheduler``'s, or a local one of ``workers`` processes);
    write ``out/course``, ``out/scores.csv``, ``out/logs`` and ``out/grading.json``; return
    every row of the class, this run's and the earlier ones kept. The demonstration cells are
    not run (``course.grading.demo_cells``) unless ``run_demonstrations``: then the feedback
    shows their outputs, and grading costs what a whole run of each notebook costs. With
    ``record_folder``, every message the grader sends into a kernel is kept there (an audit,
    ``TrustedExecute.record_folder``; the folder must be on the workers' machines). Sandboxed
    kernels start from each worker's fork server (``course.grading.forkserver``) unless not
    ``fork_server``: the grades are the same, the libraries are imported once per worker."""
    if sandboxed and (missing := sandbox.check()):
        raise RuntimeError("The student code cannot be sandboxed on this machine: "
                           + "; ".join(missing) + ". Grade on a machine that has these, or "
                           "pass --no-sandbox to run it unsandboxed (only for trusted code).")
    started, limits = time.perf_counter(), limits or Limits()
    out, submissions_folder = Path(out).resolve(), Path(submissions_folder).resolve()
    found = submissions.collect(submissions_folder, assignment_id)
    if students:
        found = [s for s in found if s.student in students]
    record = ClassRecord(out)
    notebooks = _well_formed(found)
    gradable = [s for s in found if not s.status]
    needed = list({s.assignment.id: s.assignment for s in gradable}.values())
    keys = {a.id: _sources_key(a) for a in needed}
    if not _keep_course(out, record, keys, partial=bool(students)):
        for folder in (out / "course", out / "work", out / "logs"):
            if folder.exists():
                shutil.rmtree(folder)
        record.clear()
    requests, by_request = [], {}
    for s in gradable:
        notebook = nbformat.writes(notebooks[s.student, s.assignment.id]).encode()
        sources_key = keys[s.assignment.id]
        if s.chinese:
            sources_key = _chinese_key(s.assignment, sources_key)
        key = _submission_key(notebook, sources_key, limits, sandboxed, run_demonstrations)
        if regrade or not record.keeps(s.student, s.assignment.id, key):
            request = Request(s.student, notebook, limits, sandboxed, fork_server)
            requests.append((s.bundle, request))
            by_request[id(request)] = s, key
    # The cluster starts (its workers import nbgrader) while this process builds the course.
    with (engine.cluster(scheduler, workers, [
            a.source_notebook for a in {s.assignment.id: s.assignment for s, _ in
                                        by_request.values()}.values()]) if requests
          else contextlib.nullcontext()) as connect:
        course = _build_course(out, record, needed, keys)
        for a in needed:  # the kernels only read the data: fetch it first (missing files are
            data.check_available(data.entries_for(a.id), progress=False)  # reported by the
            # notebook itself, and marked in the status; one failed download per dataset)
        to_grade = {by_request[id(r)][0].assignment.id for _, r in requests}
        chinese = {s.assignment.id for s, _ in by_request.values() if s.chinese}
        bundles, unavailable = _bundles(course, out, [a for a in needed if a.id in to_grade],
                                        record, run_demonstrations, record_folder,
                                        [a for a in needed if a.id in chinese])
        with _class_gradebook(course) as gradebook:
            for bundle, request in list(requests):  # the grader's missing data: not graded
                submission, key = by_request[id(request)]
                a = submission.assignment
                if a.id in unavailable:
                    requests.remove((bundle, request))
                    _forget(gradebook, course, a, submission.student)
                    record.put(Entry(submission.student, a.id, unavailable[a.id], key,
                                     final=False))
            for s in found:
                if s.status:
                    if s.assignment and (s.student, s.assignment.id) in record.entries:
                        _forget(gradebook, course, s.assignment, s.student)
                    record.put(Entry(s.student, s.assignment.id if s.assignment else "",
                                     s.status))
            record.save()
            if requests:
                for _, request, outcome in engine.grade(connect(), bundles, requests,
                                                             progress):
                    submission, key = by_request[id(request)]
                    record.put(_record(gradebook, course, out, submission.assignment,
                                       submission, key, outcome, limits))
                    record.save()
    rows = _rows(course, record)
    write_csv(rows, out / "scores.csv")
    if progress:
        print(run_summary(rows, [(r.student, by_request[id(r)][0].assignment.id)
                                 for _, r in requests],
                          time.perf_counter() - started))
    return rows


def _rows(course: Path, record: ClassRecord) -> list[Row]:
    """Every submission the record knows, with its score from the gradebook when graded."""
    graded: dict[str, list[str]] = {}
    for (student, a_id), entry in record.entries.items():
        if entry.graded:
            graded.setdefault(a_id, []).append(student)
    scores = {(score.student, a_id): score for a_id, students in graded.items()
              for score in read_scores(course, assignments.get(a_id), students)}
    return [Row(student, a_id, scores.get((student, a_id)), entry.status, entry.seconds,
                entry.cpu_seconds) for (student, a_id), entry in sorted(record.entries.items())]


# What spreadsheets run as a formula (OWASP's CSV injection), full-width forms included.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\n", "\uff1d", "\uff0b", "\uff0d", "\uff20")


_AFTER_BREAK = re.compile(r"([;\t\r\n]\s*)(?=[=+\-@\uff1d\uff0b\uff0d\uff20])")


def spreadsheet_safe(value):
    """A CSV cell that no spreadsheet program runs as a formula: text that starts, after any
    white space, with ``= + - @`` (or their full-width forms), a tab or a line break gets a
    leading single quote, and so does such text after a semicolon, tab or line break inside
    the cell (where a spreadsheet that reads ``;`` as the separator, or that misreads the
    quotes, would start a new cell); numbers are left as they are."""
    if not isinstance(value, str):
        return value
    value = _AFTER_BREAK.sub(r"\1'", value)
    if value.startswith(FORMULA_STARTS) or value.lstrip().startswith(FORMULA_STARTS):
        return "'" + value
    return value


def write_csv(rows: list[Row], path: Path) -> None:
    """student, assignment, one column per graded cell (points), required, extra, total,
    seconds (grading time), status; text that a spreadsheet would run as a formula (a
    student id, a status quoting one) is neutralised (``spreadsheet_safe``)."""
    cells = list(dict.fromkeys(k for row in rows if row.score for k in row.score.cells))
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle, quoting=csv.QUOTE_ALL)
        writer.writerow(["student", "assignment", *cells, "required", "extra", "total",
                         "seconds", "status"])
        for row in rows:
            score = row.score
            points = [score.cells[k][0] if score and k in score.cells else "" for k in cells]
            totals = ([score.required[0], score.extra[0], score.total[0]] if score
                      else ["", "", ""])
            writer.writerow([spreadsheet_safe(v) for v in (
                row.student, row.assignment, *points, *totals,
                "" if row.seconds is None else f"{row.seconds:.1f}", row.status)])


def run_summary(rows: list[Row], graded: list[tuple[str, str]], wall: float) -> str:
    """'graded 20 submissions (3 kept from earlier runs) in 41.2 s: 80.1 core-seconds,
    slowest student07 (5.3 s)' for the (student, assignment id) pairs ``graded`` this run."""
    now = [r for r in rows if (r.student, r.assignment) in graded and r.seconds is not None]
    kept = sum(1 for r in rows
               if (r.student, r.assignment) not in graded and r.seconds is not None)
    line = (f"graded {len(graded)} submissions ({kept} kept from earlier runs) in {wall:.1f} s"
            f": {sum(r.cpu_seconds or 0 for r in now):.1f} core-seconds")
    if now:
        slowest = max(now, key=lambda r: r.seconds)
        line += f", slowest {slowest.student} ({slowest.seconds:.1f} s)"
    return line


def summary(rows: list[Row]) -> str:
    """One line per submission: student, assignment, total, status."""
    return "\n".join(
        f"{r.student:20s} {r.assignment or '-':32s} "
        f"{(f'{r.score.total[0]:g}/{r.score.total[1]:g}' if r.score else '-'):>9s}  {r.status}"
        for r in rows)
