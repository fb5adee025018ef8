"""The student release: generated from the sources, up to date, with no solutions left in it."""

import re

import nbformat
import pytest

from course import assignments
from course.authoring import release

AVAILABLE = assignments.available()
IMAGE_LINK = re.compile(r"!\[[^\]]*\]\(([^)]+)\)")
HIDDEN_BLOCK = re.compile(r"### BEGIN HIDDEN TESTS(.*?)### END HIDDEN TESTS", re.S)


def test_every_assignment_of_the_course_is_known():
    assert [a.id for a in AVAILABLE], "no source notebook found"


def test_release_and_student_notebooks_are_up_to_date():
    outputs = release.build(AVAILABLE, assignments.REPO_ROOT)
    problems = release.stale(outputs, assignments.REPO_ROOT)
    assert not problems, ("; ".join(problems) +
                          ". Run `python -m course release` and commit the result.")


@pytest.mark.parametrize("assignment", AVAILABLE, ids=lambda a: a.id)
def test_release_holds_no_solution_and_no_hidden_test(assignment):
    for path in (assignment.release_notebook, assignment.student_notebook):
        text = path.read_text()
        for marker in ("BEGIN SOLUTION", "END SOLUTION", "HIDDEN TESTS"):
            assert marker not in text, f"{path} contains {marker}"
        nb = nbformat.read(path, as_version=4)
        answers = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("solution")]
        assert answers and all("### START CODE HERE ###" in c.source and
                               "### END CODE HERE ###" in c.source for c in answers)


@pytest.mark.parametrize("assignment", AVAILABLE, ids=lambda a: a.id)
def test_source_notebook_is_stripped_and_its_figures_exist(assignment):
    for path in (assignment.source_notebook, assignment.student_notebook):
        nb = nbformat.read(path, as_version=4)
        for cell in nb.cells:
            if cell.cell_type == "code":
                assert not cell.outputs and cell.execution_count is None, f"{path} has outputs"
            for link in IMAGE_LINK.findall(cell.source):
                assert (path.parent / link).is_file(), f"{path}: missing figure {link}"


@pytest.mark.parametrize("assignment", AVAILABLE, ids=lambda a: a.id)
def test_every_graded_function_has_public_and_hidden_tests(assignment):
    nb = nbformat.read(assignment.source_notebook, as_version=4)
    tests = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade")]
    assert tests
    for cell in tests:
        hidden = "".join(HIDDEN_BLOCK.findall(cell.source))
        public = HIDDEN_BLOCK.sub("", cell.source)
        grade_id = cell.metadata["nbgrader"]["grade_id"]
        assert re.search(r"check_|assert", public), f"{grade_id}: no public test"
        assert re.search(r"check_|assert", hidden), f"{grade_id}: no hidden test"
