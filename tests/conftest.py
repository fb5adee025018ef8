"""Shared fixtures: one real nbgrader course, graded once per test session.

For every assignment with a source notebook, the course holds these submissions:
  reference      the reference solution typed into the release notebook
  blank          the untouched release notebook
  wrong-<cell>   the reference with exactly one answer cell wrong (tests/mistakes.py)
and runs `nbgrader generate_assignment`, `autograde` and `generate_feedback` on them.
"""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

from mistakes import MISTAKES
from utils.course import assignments, grading, release


@pytest.fixture(scope="session")
def graded_course(tmp_path_factory) -> dict:
    """{"course": Path, "scores": {(assignment id, student): Score}, "feedback": [Path]}."""
    course = release.new_course(tmp_path_factory.mktemp("course"), assignments.available())
    scores, feedback = {}, []
    for assignment in assignments.available():
        source = nbformat.read(assignment.source_notebook, as_version=4)
        release_nb = nbformat.read(course / "release" / assignment.id / assignment.notebook,
                                   as_version=4)
        submissions = {"reference": grading.solved_submission(source, release_nb),
                       "blank": release_nb}
        reference = grading.reference_answers(source)
        for cell_id, answer in MISTAKES.get(assignment.id, {}).items():
            wrong = answer(reference[cell_id])
            submissions[f"wrong-{cell_id}"] = grading.solved_submission(
                source, release_nb, {cell_id: wrong})
        for student, nb in submissions.items():
            grading.submit(course, student, assignment, nb)
        grading.autograde(course, assignment)
        for score in grading.read_scores(course, assignment, list(submissions)):
            scores[assignment.id, score.student] = score
        feedback += grading.generate_feedback(course, assignment)
    return {"course": Path(course), "scores": scores, "feedback": feedback}
