"""Submissions in nbgrader's layout (the reference solution typed into the release, chosen
mistakes), and the scores read back from a graded course's gradebook.

Test cells are named ``test_<function>`` (required) or ``extra_<function>`` (extra credit).
nbgrader's gradebook stays the record of every grade; this module only reads it, and turns it
into a score table with one column per function, the required and extra-credit subtotals, and
the total. A cell that failed because the grader's course data was missing (a DataFileError
naming a registered file that is not there) is marked as such, from the autograded notebook.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
from nbgrader.api import Gradebook, MissingEntry

from course.assignments import Assignment
from course.trusted.reference_solution import strip_solution_markers
from utils import data

REQUIRED_PREFIX = "test_"
EXTRA_PREFIX = "extra_"


def reference_answers(source_nb: nbformat.NotebookNode) -> dict[str, str]:
    """{answer cell id: the reference code of that cell} of a source notebook."""
    return {cell.metadata["nbgrader"]["grade_id"]: strip_solution_markers(cell.source)
            for cell in source_nb.cells if cell.metadata.get("nbgrader", {}).get("solution")}


def solved_submission(source_nb: nbformat.NotebookNode, release_nb: nbformat.NotebookNode,
                      answers: dict[str, str] | None = None) -> nbformat.NotebookNode:
    """A student's submission: the release notebook with every answer cell filled in.

    An answer cell gets ``answers[grade_id]`` when given, else the reference solution from the
    source notebook. Use ``answers`` to build a submission with chosen mistakes.
    """
    answers = {**reference_answers(source_nb), **(answers or {})}
    nb = nbformat.from_dict(release_nb)
    for cell in nb.cells:
        info = cell.metadata.get("nbgrader", {})
        if info.get("solution"):
            cell.source = answers[info["grade_id"]]
    return nb


def submit(submitted: Path, student: str, assignment: Assignment,
           nb: nbformat.NotebookNode) -> Path:
    """Place ``nb`` as ``student``'s submission under ``submitted`` in nbgrader's layout
    (``<student>/<assignment id>/<notebook>``, what ``grade-class`` takes); return its path."""
    folder = submitted / student / assignment.id
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    nbformat.write(nb, folder / assignment.notebook)
    return folder / assignment.notebook


@dataclass
class Score:
    """One student's autograded notebook: points per test cell and totals."""

    student: str
    assignment: str
    cells: dict[str, tuple[float, float]] = field(default_factory=dict)  # id -> (score, max)
    status: str = "graded"
    missing_data: dict[str, list[str]] = field(default_factory=dict)  # cell id -> datasets

    def _sum(self, prefix: str, index: int) -> float:
        return sum(v[index] for k, v in self.cells.items() if k.startswith(prefix))

    @property
    def required(self) -> tuple[float, float]:
        return self._sum(REQUIRED_PREFIX, 0), self._sum(REQUIRED_PREFIX, 1)

    @property
    def extra(self) -> tuple[float, float]:
        return self._sum(EXTRA_PREFIX, 0), self._sum(EXTRA_PREFIX, 1)

    @property
    def total(self) -> tuple[float, float]:
        return (sum(s for s, _ in self.cells.values()), sum(m for _, m in self.cells.values()))


def missing_data(autograded: Path, assignment_id: str) -> dict[str, list[str]]:
    """{cell id: datasets} of the cells of an autograded notebook of ``assignment_id`` that
    raised a DataFileError (a read-only cell of the release, or a test cell: in the function
    it grades) about files of that assignment that are missing from the grader's course
    folder. An answer cell's or a cell the student added are the student's own code, and a
    file of another assignment is not the grader's to have."""
    nb = nbformat.read(autograded, as_version=4)
    registry = data.load_registry()
    found = {}
    for cell in nb.cells:
        info = cell.metadata.get("nbgrader", {})
        if not (info.get("grade") or info.get("locked")) or info.get("solution"):
            continue
        for output in cell.get("outputs", []):
            if (output.output_type == "error"
                    and output.ename.split(".")[-1] == data.DataFileError.__name__):
                paths = [p for p in data.missing_files_named_in(output.evalue)
                         if assignment_id in registry[p].assignments]
                if paths:
                    found[info["grade_id"]] = list(dict.fromkeys(data.dataset_of(p)
                                                                 for p in paths))
    return found


def data_note(missing: dict[str, list[str]]) -> str:
    """'SIGNS data missing' for the datasets of ``missing_data``; '' when none."""
    datasets = dict.fromkeys(d for names in missing.values() for d in names)
    return f"{', '.join(datasets)} data missing" if datasets else ""


def read_scores(course: Path, assignment: Assignment, students: list[str]) -> list[Score]:
    """Scores of ``students`` from the course's gradebook; status 'not graded' when missing.
    The cells that failed for want of the grader's data are noted in ``missing_data``."""
    scores = []
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:
        notebook_id = Path(assignment.notebook).stem
        for student in students:
            score = Score(student, assignment.id)
            try:
                submission = gradebook.find_submission_notebook(notebook_id, assignment.id,
                                                                student)
            except MissingEntry:
                score.status = "not graded"
                scores.append(score)
                continue
            for grade in submission.grades:
                if grade.cell_type == "code":
                    score.cells[grade.name] = (grade.score, grade.max_score)
            autograded = course / "autograded" / student / assignment.id / assignment.notebook
            if autograded.is_file():
                score.missing_data = missing_data(autograded, assignment.id)
            scores.append(score)
    return scores


def _points(pair: tuple[float, float], note: str = "") -> str:
    return f"{pair[0]:g}/{pair[1]:g}" + (f" ({note})" if note else "")


def _cell_points(score: Score, cell_id: str) -> str:
    """'0/45 (SIGNS data missing)' for a test cell that lost points for want of data."""
    if cell_id not in score.cells:
        return "-"
    points = score.cells[cell_id]
    lost_to_data = points[0] < points[1] and cell_id in score.missing_data
    return _points(points, data_note({cell_id: score.missing_data[cell_id]})
                   if lost_to_data else "")


def format_table(scores: list[Score]) -> str:
    """A plain-text score table: one row per student, one column per graded function; a cell
    that lost its points for want of data, and the status of its notebook, say which data."""
    cell_ids = list(dict.fromkeys(k for s in scores for k in s.cells))
    header = ["student", "assignment",
              *(k.removeprefix(REQUIRED_PREFIX).removeprefix(EXTRA_PREFIX)
                + ("*" if k.startswith(EXTRA_PREFIX) else "") for k in cell_ids),
              "required", "extra*", "total", "status"]
    rows = [[s.student, s.assignment,
             *(_cell_points(s, k) for k in cell_ids),
             _points(s.required), _points(s.extra), _points(s.total),
             s.status + (f" ({data_note(s.missing_data)})" if s.missing_data else "")]
            for s in scores]
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(str(v).ljust(w) for v, w in zip(row, widths)).rstrip()
             for row in [header, *rows]]
    return "\n".join([lines[0], "-" * len(lines[0]), *lines[1:], "(* extra credit)"])
