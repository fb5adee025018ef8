"""A class's submissions: found, read and made well-formed before anything grades them.

Everything here treats the submitted files as hostile and runs in the grader's process:

- ``collect(folder)`` finds the submissions in nbgrader's layout
  (``<student>/<assignment id>/<notebook>.ipynb``) or as ``<student>.ipynb`` files, and refuses,
  with a status that never shows a file's content, any of them that is or lies under a symbolic
  link, is not a regular file, or is too large;
- ``read(submission)`` reads the notebook without following links or blocking on special files;
- ``release_of(nb, assignment)`` is the release a notebook is sanitized against: the Chinese
  one when its metadata says ``"language": "zh_CN"`` and the assignment is translated (the
  graded cells and hidden tests of both are the same; the Chinese gives the feedback its text);
- ``sanitize(nb, release_nb)`` gives nbgrader a notebook whose graded cells are exactly the
  release's: answer cells are matched by grade id and keep the student's code; test and other
  locked cells get the release's source and metadata (re-inserted when deleted); any other cell
  that claims nbgrader metadata (a duplicate or foreign grade id, an answer cell marked as
  graded, a test cell marked as an answer) loses that metadata; outputs are dropped.
"""

from __future__ import annotations

import os
import re
import stat
from dataclasses import dataclass
from pathlib import Path

import nbformat

from course import assignments
from course.assignments import Assignment
from course.translation.notebooks import is_chinese

STUDENT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
CHINESE_BUNDLE = ".zh"  # the Chinese edition's grading bundle: "<assignment id>.zh"
MAX_NOTEBOOK_BYTES = 32 * 2 ** 20


@dataclass
class Submission:
    """One student's notebook for one assignment, and what happened to it."""

    student: str
    assignment: Assignment | None
    path: Path | None
    status: str = ""  # empty while it is gradable; otherwise why it is not (or how it went)
    notes: tuple[str, ...] = ()  # things worth saying about a graded submission
    chinese: bool = False  # the Chinese edition's notebook: graded against the Chinese release

    @property
    def bundle(self) -> str:
        """The name of the grading bundle it needs: its assignment's, in its language."""
        return self.assignment.id + (CHINESE_BUNDLE if self.chinese else "")


def _refusal(path: Path) -> str:
    """Why ``path`` cannot be graded (a link, not a regular file, too large), or ''."""
    try:
        info = os.lstat(path)
    except OSError as error:
        return f"unreadable: {error.strerror}"
    if stat.S_ISLNK(info.st_mode):
        return "refused: a symbolic link, not a submitted file"
    if not stat.S_ISREG(info.st_mode) and not stat.S_ISDIR(info.st_mode):
        return "refused: not a regular file"
    if stat.S_ISREG(info.st_mode) and info.st_size > MAX_NOTEBOOK_BYTES:
        return f"refused: larger than {MAX_NOTEBOOK_BYTES // 2 ** 20} MiB"
    return ""


def collect(folder: Path, assignment_id: str | None = None) -> list[Submission]:
    """The submissions in ``folder``, in either layout, each with a status when not gradable."""
    folder = Path(folder)
    known = {a.id: a for a in assignments.available()}
    found = []
    for entry in sorted(folder.iterdir()):
        if entry.suffix == ".ipynb" and not entry.is_dir():
            if assignment_id is None:
                raise ValueError(f"{folder} holds notebooks named by student: say which "
                                 "assignment they are (--assignment ID)")
            found.append(Submission(entry.stem, assignments.get(assignment_id), entry,
                                    _refusal(entry)))
        elif refusal := _refusal(entry):
            found.append(Submission(entry.name, None, None, refusal))
        elif entry.is_dir():
            for sub in sorted(entry.iterdir()):
                assignment = known.get(sub.name)
                if refusal := _refusal(sub):
                    found.append(Submission(entry.name, assignment, None, refusal))
                elif not sub.is_dir():
                    continue
                elif assignment is None:
                    found.append(Submission(entry.name, None, None,
                                            f"unknown assignment {sub.name[:64]!r}"))
                else:
                    path = sub / assignment.notebook
                    refusal = _refusal(path) or ("" if path.is_file() else
                                                 f"no {assignment.notebook} in {sub.name}/")
                    found.append(Submission(entry.name, assignment, path, refusal))
    if assignment_id:
        found = [s for s in found if s.assignment is None or s.assignment.id == assignment_id]
    for submission in found:
        if not submission.status and not STUDENT_ID.match(submission.student):
            submission.status = f"invalid student id {submission.student[:64]!r}"
    return found


def read(path: Path) -> nbformat.NotebookNode:
    """The notebook at ``path``, read without following a link or blocking on a FIFO.

    Raises ValueError saying why it cannot be read (never quoting the file)."""
    try:
        handle = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError as error:
        raise ValueError(f"refused: {error.strerror}") from None
    with os.fdopen(handle, "rb") as file:
        info = os.fstat(file.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise ValueError("refused: not a regular file")
        data = file.read(MAX_NOTEBOOK_BYTES + 1)
    if len(data) > MAX_NOTEBOOK_BYTES:
        raise ValueError(f"refused: larger than {MAX_NOTEBOOK_BYTES // 2 ** 20} MiB")
    try:
        return nbformat.reads(data.decode("utf-8"), as_version=4)
    except Exception as error:  # noqa: BLE001 (any unreadable file: JSON, schema, encoding)
        first = (str(error).splitlines() or [""])[0][:120]
        raise ValueError(f"corrupt notebook: {type(error).__name__}: {first}") from None


def release_of(nb: nbformat.NotebookNode, assignment: Assignment
               ) -> tuple[nbformat.NotebookNode, bool]:
    """(the release notebook to sanitize ``nb`` against, whether it is the Chinese one)."""
    chinese = is_chinese(nb) and assignment.chinese_release_notebook.is_file()
    path = assignment.chinese_release_notebook if chinese else assignment.release_notebook
    return nbformat.read(path, as_version=4), chinese


def _graded(cell) -> dict:
    info = cell.metadata.get("nbgrader", {})
    return info if isinstance(info, dict) else {}


def sanitize(nb: nbformat.NotebookNode, release_nb: nbformat.NotebookNode
             ) -> tuple[nbformat.NotebookNode | None, list[str]]:
    """(the notebook nbgrader should grade, notes); (None, [why]) when it is not a submission.

    See the module docstring for what changes. Notes name deleted cells, edited test cells and
    tampered metadata."""
    release = {_graded(c)["grade_id"]: c for c in release_nb.cells if _graded(c).get("grade_id")}
    answers = {g for g, c in release.items() if _graded(c).get("solution")}
    student_cells = {}
    tampered = []
    for cell in nb.cells:
        info = _graded(cell)
        grade_id = info.get("grade_id")
        if not grade_id:
            continue
        wanted = release.get(grade_id)
        if (wanted is None or grade_id in student_cells or cell.cell_type != wanted.cell_type
                or bool(info.get("solution")) != bool(_graded(wanted).get("solution"))
                or bool(info.get("grade")) != bool(_graded(wanted).get("grade"))):
            tampered.append(str(grade_id)[:40])
        if (wanted is not None and grade_id not in student_cells
                and cell.cell_type == wanted.cell_type):
            student_cells[grade_id] = cell
    if not any(g in student_cells for g, c in release.items()
               if _graded(c).get("solution") or _graded(c).get("grade")):
        return None, ["none of its graded cells are there"]
    notes = []
    deleted = [g for g, c in release.items() if g not in student_cells
               and (_graded(c).get("solution") or _graded(c).get("grade"))]
    edited = [g for g, c in release.items() if g not in answers and g in student_cells
              and student_cells[g].source != c.source]
    edited_tests = [g for g in edited if _graded(release[g]).get("grade")]
    placed: set = set()
    cells = _missing_after(None, release, placed, student_cells)
    for cell in nb.cells:
        grade_id = _graded(cell).get("grade_id")
        if grade_id in student_cells and student_cells[grade_id] is cell:
            cells.append(_as_release(cell, release[grade_id], grade_id in answers))
            placed.add(grade_id)
            cells.extend(_missing_after(grade_id, release, placed, student_cells))
        else:
            clean = nbformat.from_dict(cell)
            clean.metadata.pop("nbgrader", None)
            cells.append(clean)
    for cell in cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    out = nbformat.from_dict(release_nb)
    out.cells = cells
    if deleted:
        notes.append(f"deleted cells: {', '.join(deleted)}")
    if edited_tests:
        notes.append(f"edited test cells (restored from the gradebook): "
                     f"{', '.join(edited_tests)}")
    if len(edited) > len(edited_tests):
        notes.append("edited read-only cells (restored from the release): "
                     + ", ".join(g for g in edited if g not in edited_tests))
    if tampered:
        notes.append(f"nbgrader metadata changed (ignored): {', '.join(tampered[:5])}")
    return out, notes


def _as_release(cell, release_cell, is_answer: bool):
    """The release's cell, with the student's code when it is an answer cell."""
    clean = nbformat.from_dict(release_cell)
    if is_answer:
        clean.source = cell.source
    return clean


def _missing_after(grade_id, release: dict, placed: set, student_cells: dict) -> list:
    """Release cells missing from the submission that follow ``grade_id`` in the release (from
    the start when None), up to the next cell the submission has: they are put back in place,
    except answer cells, which stay deleted."""
    ids = list(release)
    start = 0 if grade_id is None else ids.index(grade_id) + 1
    restored = []
    for next_id in ids[start:]:
        if next_id in student_cells:
            break
        if next_id not in placed and not _graded(release[next_id]).get("solution"):
            restored.append(nbformat.from_dict(release[next_id]))
            placed.add(next_id)
    return restored
