"""A class of assignment 1 in which some students submitted the Chinese notebook and others the
English one, graded by ``grade_class`` (Dask, sandboxed, trusted grading): the same code scores
the same points in both languages, and a Chinese submission is graded against the Chinese
release (its read-only cells and its feedback stay Chinese)."""

from __future__ import annotations

import csv

import nbformat
import pytest

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
