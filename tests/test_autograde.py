"""The nbgrader round trip, with the real commands, for every assignment."""

import nbformat
import pytest
from mistakes import MISTAKES, VERDICTS

from course import assignments
from course.authoring import expected_outputs
from course.grading import nbgrader_course

ASSIGNMENTS = [a.id for a in assignments.available()]


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_reference_solution_gets_full_marks(graded_course, assignment):
    score = graded_course["scores"][assignment, "reference"]
    assert score.cells, "no graded cells were found"
    lost = {k: v for k, v in score.cells.items() if v[0] != v[1]}
    assert not lost, f"the reference solution lost points in {lost}"


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_blank_release_gets_zero(graded_course, assignment):
    score = graded_course["scores"][assignment, "blank"]
    assert score.status == "graded"
    assert score.total[1] > 0 and score.total[0] == 0, f"blank release scored {score.cells}"


@pytest.mark.parametrize("assignment,cell_id", [(a, c) for a in ASSIGNMENTS
                                                for c in MISTAKES.get(a, {})])
def test_one_wrong_function_loses_only_its_points(graded_course, assignment, cell_id):
    score = graded_course["scores"][assignment, f"wrong-{cell_id}"]
    reference = graded_course["scores"][assignment, "reference"]
    lost = sorted(k for k, (points, maximum) in score.cells.items() if points < maximum)
    tested_by = [k for k in reference.cells if k.split("_", 1)[1] == cell_id]
    assert lost == tested_by, f"a wrong {cell_id} lost points in {lost}, expected {tested_by}"


@pytest.mark.parametrize("assignment,cell_id", [(a, c) for a in ASSIGNMENTS
                                                for c in MISTAKES.get(a, {})])
def test_the_verdict_on_a_mistake_says_what_is_wrong(graded_course, assignment, cell_id):
    """The grader's verdict, in the test cell of the autograded notebook (and the feedback)."""
    a = assignments.get(assignment)
    nb = nbformat.read(graded_course["course"] / "autograded" / f"wrong-{cell_id}" / a.id /
                       a.notebook, as_version=4)
    verdicts = [o.get("evalue", "") for c in nb.cells for o in c.get("outputs", [])
                if c.metadata.get("nbgrader", {}).get("grade") and o.output_type == "error"
                and c.metadata["nbgrader"]["grade_id"].split("_", 1)[1] == cell_id]
    assert any(VERDICTS[assignment][cell_id] in v for v in verdicts), verdicts


def test_every_answer_cell_has_a_mistake_case():
    for assignment in assignments.available():
        source = nbformat.read(assignment.source_notebook, as_version=4)
        answers = {c.metadata["nbgrader"]["grade_id"] for c in source.cells
                   if c.metadata.get("nbgrader", {}).get("solution")}
        assert answers == set(MISTAKES.get(assignment.id, {})), assignment.id


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_feedback_report_is_generated(graded_course, assignment):
    reports = [p for p in graded_course["feedback"]
               if p.parts[-3] == "reference" and p.parts[-2] == assignment]
    assert reports, "nbgrader generate_feedback wrote no report for the reference submission"
    html = reports[0].read_text()
    score = graded_course["scores"][assignment, "reference"]
    assert f"Score: {score.total[0]:.1f} / {score.total[1]:.1f}" in html.replace("\n", " ")


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_expected_outputs_match_the_reference_solution(executed_references, assignment):
    problems = expected_outputs.mismatches(executed_references[assignment])
    assert not problems, "\n\n".join(problems) + (
        f"\n\nRun `python -m course expected-outputs {assignment}` after checking why.")


def test_score_table_lists_every_function(graded_course):
    table = nbgrader_course.format_table([s for (a, st), s in graded_course["scores"].items()
                                  if st in ("reference", "blank")])
    assert "zero_pad" in table and "pool_backward*" in table and "100/100" in table


@pytest.mark.parametrize("shown, printed, same", [
    ("W = [ 0.1  -0.093 ]\nshape (2, 3)", "W = [ 0.1 -0.0931]\nshape (2, 3)", True),  # spacing
    ("cost = 1.930248", "cost = 1.930249", True),  # a rounding that fell the other way
    ("cost = 1.930248", "cost = 1.930250", True),  # within the checks' rtol
    ("cost = 1.930248", "cost = 1.940248", False),
    ("J = 1e-05", "J = 1.00001e-05", True),
    ("shape (2, 3)", "shape (2, 4)", False),  # integers are exact
    ("kept 20 boxes", "kept 20 boxes, 3 cars", False),
    ("It's ana, welcome in!", "It's ben, welcome in!", False),
])
def test_expected_blocks_agree_within_the_printed_precision(shown, printed, same):
    assert expected_outputs.agree(shown, printed) is same
