"""Shared fixtures: one class of submissions of every assignment, graded once per test session
by ``grade_class`` as an instructor grades a class (Dask workers, sandboxed kernels, trusted
grading, demonstrations skipped); and the source notebooks executed whole.

For every assignment with a source notebook, the class holds these submissions:
  reference      the reference solution typed into the release notebook
  blank          the untouched release notebook
  wrong-<cell>   the reference with exactly one answer cell wrong (tests/mistakes.py)

The suite has two tiers: ``make test`` runs everything, ``make test-fast`` what is not marked
``slow``. A test is slow when it is marked so, drives a browser (``browser.needs_chromium``),
lives in a module of ``SLOW_MODULES`` or uses a fixture of ``SLOW_FIXTURES``: a class graded,
notebooks executed, a site built, a Dask cluster started.
"""

from __future__ import annotations

import os

import nbformat
import pytest
from mistakes import MISTAKES

from course import assignments
from course.authoring import executions
from course.grading import nbgrader_course
from course.grading.classroom import grade_class
from utils import i18n

# The tests read the course's messages in English, whatever language this machine asks for
# (utils.i18n); the tests of the Chinese messages ask for Chinese themselves.
os.environ.pop(i18n.LANGUAGE_ENV, None)


@pytest.fixture(autouse=True)
def english_notebook():
    """Each test starts in English, even after a test ran a Chinese notebook's imports cell in
    this process (the reference solution of a Chinese source, say)."""
    i18n.set_notebook_language(None)

SLOW_FIXTURES = {"graded_course", "executed_references", "graded_class", "student_site",
                 "local_run", "loopback_cluster", "mixed_class", "verdicts", "red_class"}
# the red-team modules grade classes and kill fork servers and reference processes mid-grading
SLOW_MODULES = {"test_dask_grading", "test_hostile_class", "test_student_client", "test_site",
                "test_red_team", "test_red_team_2"}


def pytest_collection_modifyitems(items):
    for item in items:
        if SLOW_FIXTURES & set(item.fixturenames) or item.module.__name__ in SLOW_MODULES:
            item.add_marker(pytest.mark.slow)


def class_submissions(assignment: assignments.Assignment) -> dict[str, nbformat.NotebookNode]:
    """{student: notebook}: the reference, the blank release and one submission per mistake."""
    source = nbformat.read(assignment.source_notebook, as_version=4)
    release_nb = nbformat.read(assignment.release_notebook, as_version=4)
    submissions = {"reference": nbgrader_course.solved_submission(source, release_nb),
                   "blank": release_nb}
    reference = nbgrader_course.reference_answers(source)
    for cell_id, answer in MISTAKES.get(assignment.id, {}).items():
        submissions[f"wrong-{cell_id}"] = nbgrader_course.solved_submission(
            source, release_nb, {cell_id: answer(reference[cell_id])})
    return submissions


@pytest.fixture(scope="session")
def graded_course(tmp_path_factory) -> dict:
    """{"submitted": the class's submissions, "course": its nbgrader course, "scores":
    {(assignment id, student): Score (status: grade_class's, when it gave no score)},
    "feedback": [Path], "sent": the folder of what the grader sent into each kernel,
    "expected": the folder of this run's reference answers}."""
    root = tmp_path_factory.mktemp("class")
    for assignment in assignments.available():
        for student, nb in class_submissions(assignment).items():
            folder = root / "submitted" / student / assignment.id
            folder.mkdir(parents=True)
            nbformat.write(nb, folder / assignment.notebook)
    rows = grade_class(root / "submitted", root / "out", progress=False,
                       record_folder=root / "sent")
    course = root / "out" / "course"
    scores = {(r.assignment, r.student): r.score or nbgrader_course.Score(r.student, r.assignment,
                                                                   status=r.status)
              for r in rows}
    return {"submitted": root / "submitted", "course": course, "scores": scores,
            "feedback": sorted((course / "feedback").glob("*/*/*.html")),
            "sent": root / "sent", "expected": root / "out" / "work" / "expected"}


@pytest.fixture(scope="session")
def executed_references() -> dict[str, nbformat.NotebookNode]:
    """{assignment id: its source notebook executed from the top (reference solution, hidden
    tests, demonstrations), in fast mode unless CNN_COURSE_FAST says otherwise}: what the
    expected outputs must match."""
    return {a.id: executions.execute_reference(a) for a in assignments.available()}
