"""A class of assignment 1 in which some students submitted the Chinese notebook and others the
English one, graded by ``grade_class`` (Dask, sandboxed, trusted grading): the same code scores
the same points in both languages, and a Chinese submission is graded against the Chinese
release (its read-only cells and its feedback stay Chinese); the grader's verdicts on the issue's
three wrong functions are Chinese in a Chinese submission, by function and case, and English in
an English one, and a hidden case's values stay hidden in Chinese."""

from __future__ import annotations

import csv
import re

import nbformat
import pytest
from test_messages import A4, A5, WRONG, WRONG_TRIPLET_LOSS

from course import assignments
from course.grading import nbgrader_course, sandbox
from course.grading.classroom import Limits, grade_class
from course.translation.notebooks import chinese_source

A1 = assignments.get("C4W1A1_conv_step_by_step")
WRONG_ZERO_PAD = "def zero_pad(X, pad):\n    return X"
WRONG_POOL = "def pool_forward(A_prev, hparameters, mode=\"max\"):\n    return A_prev, None"


@pytest.fixture(scope="module")
def mixed_class(tmp_path_factory):
    if missing := sandbox.check():
        pytest.skip("the grading sandbox needs: " + "; ".join(missing))
    root = tmp_path_factory.mktemp("mixed")
    english = nbformat.read(A1.source_notebook, as_version=4)
    chinese = chinese_source(A1)
    en_release = nbformat.read(A1.release_notebook, as_version=4)
    zh_release = nbformat.read(A1.chinese_release_notebook, as_version=4)
    wrong = {"zero_pad": WRONG_ZERO_PAD, "pool_forward": WRONG_POOL}
    notebooks = {
        "en_reference": nbgrader_course.solved_submission(english, en_release),
        # the Chinese reference keeps its Chinese docstrings; the same code as the English
        "zh_reference": nbgrader_course.solved_submission(chinese, zh_release),
        "en_wrong": nbgrader_course.solved_submission(english, en_release, wrong),
        "zh_wrong": nbgrader_course.solved_submission(english, zh_release, wrong),
        "en_blank": en_release,
        "zh_blank": zh_release,
    }
    for student, nb in notebooks.items():
        folder = root / "submitted" / student / A1.id
        folder.mkdir(parents=True)
        nbformat.write(nb, folder / A1.notebook)
    grade_class(root / "submitted", root / "out", progress=False, limits=Limits(
        cell_timeout=60, notebook_timeout=300, memory_mb=3072, disk_mb=512, max_processes=256))
    with open(root / "out" / "scores.csv") as handle:
        table = {row["student"]: row for row in csv.DictReader(handle)}
    return table, root / "out" / "course"


@pytest.mark.parametrize("kind", ["reference", "wrong", "blank"])
def test_the_same_code_scores_the_same_points_in_both_languages(mixed_class, kind):
    table, _ = mixed_class
    english, chinese = table[f"en_{kind}"], table[f"zh_{kind}"]
    assert english["status"].startswith("graded") and chinese["status"].startswith("graded")
    points = {k: v for k, v in english.items() if k not in ("student", "seconds", "status")}
    assert points == {k: v for k, v in chinese.items()
                      if k not in ("student", "seconds", "status")}
    release = nbformat.read(A1.release_notebook, as_version=4)
    full = sum(c.metadata["nbgrader"]["points"] for c in release.cells
               if c.metadata.get("nbgrader", {}).get("grade"))
    expected = {"reference": full, "wrong": full - 10 - 20, "blank": 0}[kind]
    assert float(english["total"]) == expected, english


def test_a_chinese_submission_is_graded_and_fed_back_in_chinese(mixed_class):
    _, course = mixed_class
    for student, chinese in (("zh_wrong", True), ("en_wrong", False)):
        autograded = nbformat.read(course / "autograded" / student / A1.id / A1.notebook,
                                   as_version=4)
        intro = autograded.cells[0].source
        assert ("卷积神经网络" in intro) is chinese, intro[:80]
        feedback = next((course / "feedback" / student / A1.id).glob("*.html")).read_text()
        assert ("零填充" in feedback) is chinese
        assert "zero_pad" in feedback and "test_zero_pad" in feedback


# The three wrong functions (tests/test_messages.py), graded by grade_class in Chinese
# submissions, and one of them in an English submission; a triplet_loss that caps alpha at 1
# passes the public cases and fails a hidden one (alpha=2.0).
CAPPED_ALPHA = WRONG_TRIPLET_LOSS.replace("    anchor,", "    alpha = min(alpha, 1.0)\n    anchor,"
                                          ).replace("reduce_mean", "reduce_sum")


@pytest.fixture(scope="module")
def verdicts(tmp_path_factory):
    """{(student, function): the verdict output of the function's test cell}."""
    if missing := sandbox.check():
        pytest.skip("the grading sandbox needs: " + "; ".join(missing))
    root = tmp_path_factory.mktemp("verdicts")
    wrong = {(a.id, function): code for a, function, code, *_ in WRONG}
    class_ = {("zh_wrong", a, function): code for (a, function), code in wrong.items()}
    class_[("en_wrong", A4.id, "yolo_non_max_suppression")] = wrong[
        A4.id, "yolo_non_max_suppression"]
    class_[("zh_capped", A5.id, "triplet_loss")] = CAPPED_ALPHA
    for (student, assignment_id, function), code in class_.items():
        assignment = assignments.get(assignment_id)
        source = nbformat.read(assignment.source_notebook, as_version=4)
        release = nbformat.read(assignment.chinese_release_notebook if student.startswith("zh")
                                else assignment.release_notebook, as_version=4)
        folder = root / "submitted" / student / assignment.id
        folder.mkdir(parents=True, exist_ok=True)
        nbformat.write(nbgrader_course.solved_submission(source, release, {function: code}),
                       folder / assignment.notebook)
    grade_class(root / "submitted", root / "out", progress=False, limits=Limits(
        cell_timeout=120, notebook_timeout=600, memory_mb=4096, disk_mb=512, max_processes=256))
    found = {}
    for student, assignment_id, _ in class_:
        assignment = assignments.get(assignment_id)
        autograded = nbformat.read(root / "out" / "course" / "autograded" / student
                                   / assignment.id / assignment.notebook, as_version=4)
        for cell in autograded.cells:
            grade_id = cell.metadata.get("nbgrader", {}).get("grade_id", "")
            if grade_id.startswith(("test_", "extra_")) and cell.outputs:
                found[student, grade_id.split("_", 1)[1]] = cell.outputs[0]
    return found


@pytest.mark.parametrize("function, case", [
    ("zero_pad", "共 2 个中的第 2 个，shape=(1, 2, 2, 1), pad=1, dtype='int64'"),
    ("yolo_non_max_suppression", "共 6 个中的第 2 个，case='two_classes'"),
    ("triplet_loss", "共 3 个中的第 1 个，seed=1, alpha=0.2"),
], ids=["zero_pad", "yolo_non_max_suppression", "triplet_loss"])
def test_the_graders_verdict_on_a_chinese_submission_is_chinese(verdicts, function, case):
    """The verdict names the function, the case and its place among the public cases, then
    gives the check's message (the hint first, then the case's label and what differs)."""
    hint = next(w[4] for w in WRONG if w[1] == function)
    verdict = verdicts["zh_wrong", function]
    assert verdict.output_type == "error" and verdict.evalue.startswith(
        f"{function} 未通过公开测试（{case}）：{hint}；"), verdict.evalue
    label = f"{function} ({case.split('，')[1]})："
    assert f"\n{label}" in verdict.evalue, verdict.evalue
    passed = [v.text for (student, _), v in verdicts.items()
              if student == "zh_wrong" and v.output_type == "stream"]
    assert passed and all(re.fullmatch(r"\w+：全部 \d+ 个测试都已通过（\d+ 个公开，\d+ 个隐藏），"
                                       r"由评分程序检查\n", text) for text in passed), passed


def test_the_graders_verdict_on_an_english_submission_stays_english(verdicts):
    verdict = verdicts["en_wrong", "yolo_non_max_suppression"].evalue
    assert verdict.startswith(
        "yolo_non_max_suppression fails public test 2 of 6 (case='two_classes'): "
        "yolo_non_max_suppression: a box suppresses the boxes of other classes;"), verdict
    assert re.fullmatch(r"iou: all \d+ tests passed \(\d+ public, \d+ hidden\), checked by the "
                        r"grader\n", verdicts["en_wrong", "iou"].text)


def test_a_failed_hidden_case_shows_no_value_in_chinese_either(verdicts):
    verdict = verdicts["zh_capped", "triplet_loss"].evalue
    assert verdict.startswith("triplet_loss 未通过隐藏测试（共 4 个中的第 2 个，"), verdict
    failure = verdict.split("）：", 1)[1]
    assert "（数值已隐藏）" in failure and not re.search(r"\d\.\d", failure), verdict
