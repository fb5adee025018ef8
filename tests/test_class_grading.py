"""Grading a class: hostile and broken submissions each end with a clear status, the rest of
the class is graded, and the gradebook holds every grade."""

import csv

import nbformat
import pytest

from utils.course import assignments, grading, sandbox
from utils.course.class_grading import Limits, grade_class

A1 = assignments.get("C4W1A1_conv_step_by_step")
ZERO_PAD_MAX = 10  # points of test_zero_pad

# name: code added after the reference zero_pad answer (before it where it starts with "^")
HOSTILE_CODE = {
    "syntax_error": "^def broken(:\n    pass",
    "exception_at_import": "^import a_module_that_does_not_exist",
    "infinite_loop": "while True:\n    pass",
    "memory_blowup": "hoard = [bytearray(2 ** 30) for _ in range(40)]",
    "huge_output": "for _ in range(200000):\n    print('x' * 100)",
    "reads_others": ("import os, glob\n"
                     "SEEN = glob.glob(os.path.join(CLASS_DIR, '**', '*.ipynb'), recursive=True)\n"
                     "SEEN += glob.glob(os.path.join(SOURCE_DIR, '**', '*.ipynb'), recursive=True)\n"
                     "assert not [p for p in SEEN if 'reads_others' not in p], SEEN"),
    "opens_network": ("import socket\n"
                      "try:\n"
                      "    socket.create_connection(('198.51.100.7', 80), timeout=5)\n"
                      "    raise SystemExit('network reachable')\n"
                      "except OSError as error:\n"
                      "    assert error.errno == 101, error"),
    "tampers_with_gradebook": ("import os\n"
                               "for path in [os.path.join(CLASS_DIR, 'out', 'course', 'gradebook.db')]:\n"
                               "    assert not os.path.exists(path), path\n"
                               "    os.makedirs(os.path.dirname(path), exist_ok=True)\n"
                               "    open(path, 'wb').write(b'overwritten')"),
}


@pytest.fixture(scope="module")
def graded_class(tmp_path_factory):
    if not sandbox.available():
        pytest.skip("this machine does not allow unprivileged user namespaces")
    root = tmp_path_factory.mktemp("class")
    submitted = root / "submitted"
    source = nbformat.read(A1.source_notebook, as_version=4)
    release_nb = nbformat.read(A1.release_notebook, as_version=4)
    notebooks = {"good": grading.solved_submission(source, release_nb),
                 "blank": release_nb,
                 "wrong_zero_pad": grading.solved_submission(
                     source, release_nb, {"zero_pad": "def zero_pad(X, pad):\n    return X"})}
    answers = grading.reference_answers(source)
    reference_zero_pad = answers["zero_pad"]
    for name, code in HOSTILE_CODE.items():
        code = code.replace("CLASS_DIR", repr(str(root))).replace(
            "SOURCE_DIR", repr(str(A1.source_notebook.parents[1])))
        answer = (code[1:] + "\n\n" + reference_zero_pad if code.startswith("^")
                  else reference_zero_pad + "\n\n" + code)
        notebooks[name] = grading.solved_submission(source, release_nb, {"zero_pad": answer})
    notebooks["slow_notebook"] = grading.solved_submission(  # 8 cells of 9 s: over 60 s in all
        source, release_nb, {k: v + "\n\nimport time\ntime.sleep(9)" for k, v in answers.items()})
    edited = grading.solved_submission(source, release_nb)
    for cell in edited.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == "test_conv_forward":
            cell.source = "print('all tests passed')"
    notebooks["edited_test_cell"] = edited
    for grade_id, name in (("test_conv_forward", "deleted_test_cell"), ("pool_forward", "deleted_answer_cell")):
        nb = grading.solved_submission(source, release_nb)
        nb.cells = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") != grade_id]
        notebooks[name] = nb
    for student, nb in notebooks.items():
        folder = submitted / student / A1.id
        folder.mkdir(parents=True)
        nbformat.write(nb, folder / A1.notebook)
    (submitted / "corrupt_json" / A1.id).mkdir(parents=True)
    (submitted / "corrupt_json" / A1.id / A1.notebook).write_text('{"cells": [')
    (submitted / "wrong_assignment" / "C4W9A9_no_such_assignment").mkdir(parents=True)
    nbformat.write(notebooks["good"], submitted / "wrong_assignment" / "C4W9A9_no_such_assignment" / A1.notebook)
    rows = grade_class(submitted, root / "out", limits=Limits(cell_timeout=10, notebook_timeout=60,
                                                              memory_mb=4096))
    with open(root / "out" / "scores.csv") as handle:
        table = {row["student"]: row for row in csv.DictReader(handle)}
    return {"root": root, "rows": rows, "table": table, "course": root / "out" / "course"}


def test_every_submission_has_a_row_and_a_status(graded_class):
    table = graded_class["table"]
    assert set(table) == {*HOSTILE_CODE, "good", "blank", "wrong_zero_pad", "edited_test_cell",
                          "deleted_test_cell", "deleted_answer_cell", "corrupt_json",
                          "wrong_assignment", "slow_notebook"}


# student: (total points, text the status must contain)
EXPECTED = {
    "good": (100, "graded"),
    "blank": (0, "errors in cells: test_zero_pad (NotImplementedError)"),
    "wrong_zero_pad": (90, "errors in cells: test_zero_pad (AssertionError)"),
    "syntax_error": (90, "errors in cells: zero_pad (SyntaxError)"),
    "exception_at_import": (90, "zero_pad (ModuleNotFoundError)"),
    "infinite_loop": (100, "zero_pad (CellTimeoutError)"),
    "memory_blowup": (100, "zero_pad (MemoryError)"),
    "huge_output": (100, "graded"),
    "reads_others": (100, "graded"),
    "opens_network": (100, "graded"),
    "tampers_with_gradebook": (100, "graded"),
    "edited_test_cell": (100, "edited test cells (restored from the gradebook): test_conv_forward"),
    "deleted_test_cell": (80, "deleted cells: test_conv_forward"),
    "deleted_answer_cell": (80, "deleted cells: pool_forward"),
    "slow_notebook": (None, "timeout: the notebook ran over 60 s"),
    "corrupt_json": (None, "corrupt notebook: NotJSONError"),
    "wrong_assignment": (None, "unknown assignment 'C4W9A9_no_such_assignment'"),
}


@pytest.mark.parametrize("student", sorted(EXPECTED))
def test_score_and_status(graded_class, student):
    total, status = EXPECTED[student]
    row = graded_class["table"][student]
    assert status in row["status"], row["status"]
    assert row["total"] == ("" if total is None else f"{float(total)}"), row
    if status == "graded":
        assert row["status"] == "graded", row["status"]  # no errors: the sandbox held quietly


def test_gradebook_holds_every_grade_and_feedback_exists(graded_class):
    scores = {s.student: s for s in grading.read_scores(
        graded_class["course"], A1, sorted(EXPECTED))}
    for student, (total, _) in EXPECTED.items():
        if total is None:
            assert scores[student].status == "not graded"
        else:
            assert scores[student].total[0] == total, student
            feedback = graded_class["course"] / "feedback" / student / A1.id
            html = (feedback / "conv_step_by_step.html").read_text()
            assert "test_zero_pad" in html or "zero_pad" in html, student
            assert "HIDDEN TESTS" not in html, f"{student}: feedback shows the hidden tests"
