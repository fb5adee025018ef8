"""Demonstration cells: tagged and locked in the sources, needed by nothing graded, never run by
the grader, shown in the feedback with a note; grades are those of a full run."""

import shutil
from importlib import import_module

import nbformat
import pytest

from course import assignments
from course.grading import demo_cells
from course.grading.classroom import grade_class
from course.grading.limits import Limits
from course.trusted import cases, executor

AVAILABLE = assignments.available()


def _checks(source_nb):
    return import_module(cases.read(source_nb)[0].module).CHECKS


@pytest.mark.parametrize("assignment", AVAILABLE, ids=lambda a: a.id)
def test_no_graded_code_needs_a_demonstration(assignment):
    source = nbformat.read(assignment.source_notebook, as_version=4)
    assert demo_cells.demo_ids(source), f"{assignment.id} tags no cell {demo_cells.DEMO_TAG}"
    assert demo_cells.problems(source, _checks(source)) == []


@pytest.mark.parametrize("assignment", AVAILABLE, ids=lambda a: a.id)
def test_demonstrations_are_locked_and_tagged_in_the_student_notebook(assignment):
    source = nbformat.read(assignment.source_notebook, as_version=4)
    student = nbformat.read(assignment.student_notebook, as_version=4)
    shown = {c.metadata["nbgrader"]["grade_id"]: c for c in student.cells if demo_cells.is_demo(c)}
    assert set(shown) == demo_cells.demo_ids(source)
    assert all(c.metadata.get("editable") is False and c.metadata["nbgrader"]["locked"]
               for c in shown.values())


@pytest.mark.parametrize("assignment", AVAILABLE, ids=lambda a: a.id)
def test_a_functions_test_comes_right_after_its_answer_before_the_demonstrations(assignment):
    """Run from the top, a notebook meets a function's test before any demonstration that uses
    the function: an unfinished or wrong function stops there with its test's message, not in a
    demonstration with an error of numpy's or TensorFlow's."""
    source = nbformat.read(assignment.source_notebook, as_version=4)
    ids = [c.metadata.get("nbgrader", {}).get("grade_id") for c in source.cells]
    functions = {t.function for t in cases.read(source)}
    for function in functions:
        test = next(i for i, g in enumerate(ids) if g in (f"test_{function}",
                                                          f"extra_{function}"))
        assert test == ids.index(function) + 1, f"{function}: its test is not the next cell"
        for index, cell in enumerate(source.cells):
            if demo_cells.is_demo(cell) and function in demo_cells.names_read(cell):
                assert index > test, f"{ids[index]} uses {function} before its test"


def _notebook(*cells) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    for source, tags, info in cells:
        cell = nbformat.v4.new_code_cell(source)
        cell.metadata.tags = list(tags)
        if info:
            cell.metadata.nbgrader = {"grade": False, "locked": False, "solution": False,
                                      "schema_version": 3, **info}
        nb.cells.append(cell)
    return nb


DEMO = {"grade_id": "demo_1", "locked": True}
ANSWER = {"grade_id": "f", "solution": True}


class _F:
    stand_ins = ("optimizer",)


def test_a_graded_cell_reading_a_demonstrations_name_is_found():
    nb = _notebook(("import numpy as np\nLIMIT = 3", [], {"grade_id": "imports", "locked": True}),
                   ("X = np.ones(3)\noptimizer = None\nf(X)", ["demo"], DEMO),
                   ("def f(a, b=LIMIT):\n    y = a + X\n    return optimizer, np.sum(y)", [],
                    ANSWER),
                   ("print(f(np.ones(3)))", [], {}),
                   ("plain = X", ["demo"], {}))
    assert demo_cells.problems(nb, {"f": _F()}) == [
        "cell 2 (f) reads X, which only demonstrations define",
        "cell 3 (no grade id) calls f for show: tag it demo",
        "cell 4 (no grade id): a demonstration must be a locked cell with a grade id demo_<n>"]


def test_a_functions_own_names_are_not_read_from_the_notebook():
    nb = _notebook(("X = 1", ["demo"], DEMO),
                   ("def f(X):\n    for i in range(X):\n        Y = i\n    return Y, "
                    "[X for X in range(2)]", [], ANSWER))
    assert demo_cells.problems(nb, {"f": _F()}) == []


# Graded again with every cell run: every submission of the class, except the mistakes of the
# assignments whose demonstrations train a network (their references and blanks are).
REFERENCE_ONLY = {"C4W1A2_signs_cnn", "C4W2A1_resnets"}


@pytest.mark.slow
def test_skipping_the_demonstrations_gives_the_points_of_a_full_run(graded_course, tmp_path):
    """The class of the suite graded again with every cell run (``REFERENCE_ONLY`` aside): the
    same points for every submission; the feedback notes each skipped cell, and shows the
    demonstrations' own outputs when they ran."""
    for notebook in graded_course["submitted"].glob("*/*/*.ipynb"):
        student, assignment_id = notebook.parts[-3], notebook.parts[-2]
        if assignment_id not in REFERENCE_ONLY or not student.startswith("wrong-"):
            copy = tmp_path / "submitted" / student / assignment_id / notebook.name
            copy.parent.mkdir(parents=True)
            shutil.copyfile(notebook, copy)
    rows = grade_class(tmp_path / "submitted", tmp_path / "full", progress=False,
                       run_demonstrations=True,
                       limits=Limits(cell_timeout=900, notebook_timeout=1800))  # training cells
    full = {(r.assignment, r.student): r.score.cells if r.score else r.status for r in rows}
    skipped = {key: score.cells or score.status for key, score in graded_course["scores"].items()
               if key in full}
    assert len(full) == len(skipped) > 2 * len(AVAILABLE)
    assert full == skipped
    courses = ((graded_course["course"], True), (tmp_path / "full" / "course", False))
    for assignment in AVAILABLE:
        for course, note in courses:
            graded = nbformat.read(course / "autograded" / "reference" / assignment.id /
                                   assignment.notebook, as_version=4)
            demos = [c for c in graded.cells if demo_cells.is_demo(c)]
            assert demos and all((c.outputs[:1] == [nbformat.v4.new_output(
                "stream", name="stdout", text=executor.NOT_RUN_NOTE)]) is note for c in demos)

