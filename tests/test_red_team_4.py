"""Attacks on the grader after the kernel start/end, sandbox pidfd, fork server preload and
feedback-page changes (commits 0a9ca9d and 3c9bd9e), by a student who has read all of its code.

Each attack is a submission of assignment 1 graded with the instructor's own command
(``grade_class``, sandbox and fork server on) in one class with the honest reference solution as
a control. Each test states what the grader promises and fails while its attack works:

- a code cell's tags (cell metadata the student controls, kept on the cells the student adds)
  become classes of the cell's element on the feedback page (nbconvert's ``celltags``: the
  value is escaped, but a tag may hold spaces): the student gives a cell the page's own
  Bootstrap classes (``navbar navbar-default navbar-fixed-top``) and its output, a fake
  "(Score: 100.0 / 100.0)" header, is pinned over the top of the page, where the real score is;
- a kernel message (any kind nbclient reads, here an ``execute_input``) whose
  ``execution_count`` is not a count is written into the cell as it is (nbclient copies the
  field from any message of the cell's request); the notebook then fails nbformat's
  validation in nbgrader's next step, and the whole submission is "nbgrader failed" (no
  points for its right functions) instead of the message costing the cell.
"""

from __future__ import annotations

import copy
from html.parser import HTMLParser
from pathlib import Path

import nbformat
import pytest
from test_red_team import MISSING, grade_red_class, row_of

from course import assignments
from course.grading import nbgrader_course

pytestmark = pytest.mark.skipif(bool(MISSING), reason="; ".join(MISSING))

A1 = assignments.get("C4W1A1_conv_step_by_step")

FAKE_HEADER = "C4W1A1_conv_step_by_step (Score: 100.0 / 100.0)"
PINNED_CLASSES = "x navbar navbar-default navbar-fixed-top"  # one tag: no comma, spaces allowed

# nbclient copies "execution_count" from any message of the cell's request into the cell.
COUNT_NOT_A_NUMBER = """
_kernel = get_ipython().kernel
_sent = _kernel.session.send(_kernel.iopub_socket, "execute_input",
                             {"code": "", "execution_count": "<b>1</b>"},
                             parent=_kernel.get_parent("shell"),
                             ident=_kernel._topic("execute_input"))
"""

# The template's own classes of a cell's element (nbconvert's classic base.html.j2).
CELL_CLASSES = {"cell", "border-box-sizing", "code_cell", "text_cell", "rendered"}


def _with_cell_after_imports(nb, cell) -> nbformat.NotebookNode:
    nb = copy.deepcopy(nb)
    imports = next(i for i, c in enumerate(nb.cells)
                   if c.metadata.get("nbgrader", {}).get("grade_id") == "imports")
    nb.cells.insert(imports + 1, cell)
    return nb


def _submissions() -> dict[tuple[str, str], nbformat.NotebookNode]:
    source = nbformat.read(A1.source_notebook, as_version=4)
    release_nb = nbformat.read(A1.release_notebook, as_version=4)
    good = nbgrader_course.solved_submission(source, release_nb)
    pinned = nbformat.v4.new_code_cell(f"print({FAKE_HEADER!r})")
    pinned.metadata.tags = [PINNED_CLASSES]
    return {("good", A1.id): good,
            ("pinned_score", A1.id): _with_cell_after_imports(good, pinned),
            ("count_not_a_number", A1.id): _with_cell_after_imports(
                good, nbformat.v4.new_code_cell(COUNT_NOT_A_NUMBER))}


@pytest.fixture(scope="module")
def red_class(tmp_path_factory) -> dict:
    return grade_red_class(tmp_path_factory.mktemp("red_team_4"), _submissions())


def _feedback(red_class, student: str) -> str:
    return (red_class["course"] / "feedback" / student / A1.id /
            f"{Path(A1.notebook).stem}.html").read_text()


class _CellClasses(HTMLParser):
    """The class tokens of the cells' elements that are not the template's own nor a
    ``celltag_`` class."""

    def __init__(self):
        super().__init__()
        self.foreign: list[str] = []

    def handle_starttag(self, tag, attrs):
        classes = (dict(attrs).get("class") or "").split()
        if {"cell", "border-box-sizing"} <= set(classes):
            self.foreign += [c for c in classes
                             if c not in CELL_CLASSES and not c.startswith("celltag_")]


def test_the_control_keeps_its_score(red_class):
    row = row_of(red_class, "good")
    assert row["status"].startswith("graded") and row["total"] == "100.0", row


def test_a_cells_tags_give_its_element_no_class_of_the_page(red_class):
    """A feedback page shows no forged score: nothing the student wrote may style an element
    with the page's own classes (here pinning a fake score header over the real one)."""
    row = row_of(red_class, "pinned_score")
    assert row["total"] == "100.0", row
    page = _feedback(red_class, "pinned_score")
    assert FAKE_HEADER in page  # the cell ran and is shown
    cells = _CellClasses()
    cells.feed(page)
    assert not cells.foreign, f"a cell of the submission has the page's classes {cells.foreign}"


def test_a_count_that_is_not_a_number_costs_the_cell_not_the_notebook(red_class):
    """A kernel message is the submission's doing: one nbformat rejects costs at most its
    cell, never the whole notebook ("nbgrader failed")."""
    row = row_of(red_class, "count_not_a_number")
    assert not row["status"].startswith("nbgrader failed"), row["status"]
    assert row["total"] == "100.0", row
