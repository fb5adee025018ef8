"""Attacks on the red team's fixes, by a student who has read all of the grader's code.

The first red team's attacks are in tests/test_red_team.py, each fixed. These attack the fixes
themselves, through the instructor's own command (``grade_class``, sandbox and fork server on)
in one class of assignments 1 and 2 with honest controls (the reference solution and the blank
release of each) whose scores must stay exact. Each test states what the grader promises and
fails while its attack works:

- a failed helper's stand-in refuses the arguments of the helper's hidden cases, compared as
  values in the order they travel (``[args, kwargs]``): the same arguments passed by keyword
  are not refused, and the caller gets the reference's answers to the hidden cases;
- the same refusal makes a stand-in useless when a hidden case's arguments are those of every
  call: ``initialize_parameters`` takes no argument, so its stand-in refuses every call, and a
  ``model`` whose only fault is a wrong ``initialize_parameters`` loses its own 45 points;
- a kernel message nested too deeply for the grader's JSON reader raises RecursionError, a
  RuntimeError, which the grader takes for a kernel that did not start: the submission is "not
  graded" and graded again on every run, never getting its 0;
- a kernel message of a kind other than an output (a status without its state) that nbclient
  cannot read stops nbgrader on the whole notebook ("nbgrader failed", final) instead of
  costing the cell;
- a DataFileError the submission raises itself, naming a file of its own assignment that the
  grader lacks but no graded function needs (the original SIGNS training file, where the
  course builds its training set from the photographs), makes the submission "not graded"
  on every run.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

import nbformat
import numpy as np
import pytest
from test_red_team import (MISSING, ORACLE_DISTRIBUTE_VALUE, _hidden_answers,
                           check_score_and_status, grade_red_class, row_of)

from course import assignments
from course.grading import nbgrader_course
from utils import data, graded

pytestmark = pytest.mark.skipif(bool(MISSING), reason="; ".join(MISSING))

A1 = assignments.get("C4W1A1_conv_step_by_step")
A2 = assignments.get("C4W1A2_signs_cnn")

# distribute_value (ORACLE_DISTRIBUTE_VALUE) keeps the inputs of its own cases, hidden ones
# included, and fails; pool_backward asks the grader's stand-in for them by keyword, which is
# how the stand-in sends them ({"dz": ..., "shape": ...} instead of [dz, shape]), and shows the
# answers in its error on its first (public) case, whose message the feedback shows whole.
KEYWORD_POOL_BACKWARD = """\
def pool_backward(dA, cache, mode="max"):
    answers = [(dz, shape, distribute_value(dz=dz, shape=shape)) for dz, shape in SEEN]
    raise ValueError("the grader's answers: " + "; ".join(
        f"distribute_value({dz}, {shape}) = {np.asarray(a).ravel()[0]:.6g}"
        for dz, shape, a in answers))
"""

# An iopub message whose content is nested deeper than the grader's JSON reader recurses.
DEEP_MESSAGE = """\
_kernel = get_ipython().kernel
_kernel.session.send(_kernel.iopub_socket, "stream",
                     b'{"name": "stdout", "text": "x", "deep": ' + b"[" * 100_000
                     + b"]" * 100_000 + b"}",
                     parent=_kernel.get_parent("shell"), ident=_kernel._topic("stream"))
"""

# A status message without its execution_state (not an output: nbclient reads it unguarded).
STATUS_WITHOUT_STATE = """\
_kernel = get_ipython().kernel
_kernel.session.send(_kernel.iopub_socket, "status", {},
                     parent=_kernel.get_parent("shell"), ident=_kernel._topic("status"))
"""

# The mistake of tests/mistakes.py: initialize_parameters draws with another seed.
WRONG_SEED = ("GlorotUniform(seed=1)", "GlorotUniform(seed=0)")

# initialize_parameters as the notebook asks (GlorotUniform(seed=1), b3 zeros), with the
# initializer made once, when the cell runs: with an integer seed, Keras 3's initializer draws
# the same values on every call, so the answers are the reference's.
PREBUILT_INITIALIZER = """\
initializer = tf.keras.initializers.GlorotUniform(seed=1)


def initialize_parameters():
    W1 = tf.Variable(initializer(shape=(4, 4, 3, 8)), name="W1")
    W2 = tf.Variable(initializer(shape=(2, 2, 8, 16)), name="W2")
    W3 = tf.Variable(initializer(shape=(64, 6)), name="W3")
    b3 = tf.Variable(tf.zeros((6,)), name="b3")
    return {"W1": W1, "W2": W2, "W3": W3, "b3": b3}
"""

# A DataFileError about a registered SIGNS file (filled in by _submissions).
OWN_DATA_ERROR = ("from utils.data import DataFileError\n"
                  "raise DataFileError(\"'{path}' (needed by this notebook) is not available\")\n")

# (student, assignment): (total, text the status must start with)
EXPECTED = {
    ("good", A1.id): (100, "graded"),
    ("blank", A1.id): (0, "graded (errors in cells: test_zero_pad (NotImplementedError)"),
    ("keyword_oracle", A1.id): (85, "graded (errors in cells: extra_distribute_value "
                                    "(AssertionError), extra_pool_backward ("),
    ("deep_message", A1.id): (0, "graded (errors in cells: test_zero_pad (NotImplementedError)"),
    ("status_without_state", A1.id): (100, "graded"),
    ("good", A2.id): (100, "graded"),
    ("blank", A2.id): (0, "graded (errors in cells: test_initialize_parameters "
                          "(AssertionError)"),
    ("wrong_initializer", A2.id): (85, "graded (errors in cells: test_initialize_parameters "
                                       "(AssertionError))"),
    ("own_missing_data", A2.id): (0, "graded"),
    ("prebuilt_initializer", A2.id): (100, "graded"),
}


def _missing_file_of_signs() -> str | None:
    """A registered file of assignment 2 that the grader cannot have (fetched as grade_class
    fetches them) and whose absence does not stop it from computing the reference's answers
    (the grading of the class proves it)."""
    missing = data.check_available(data.entries_for(A2.id), progress=False)
    return missing[0].paths[0] if missing else None


def _with_cell_after_imports(nb: nbformat.NotebookNode, code: str) -> nbformat.NotebookNode:
    nb = copy.deepcopy(nb)
    imports = next(i for i, c in enumerate(nb.cells)
                   if c.metadata.get("nbgrader", {}).get("grade_id") == "imports")
    nb.cells.insert(imports + 1, nbformat.v4.new_code_cell(code))
    return nb


def _submissions() -> dict[tuple[str, str], nbformat.NotebookNode]:
    """{(student, assignment id): notebook} of the class."""
    notebooks = {}
    for a in (A1, A2):
        source = nbformat.read(a.source_notebook, as_version=4)
        release_nb = nbformat.read(a.release_notebook, as_version=4)
        answers = nbgrader_course.reference_answers(source)
        notebooks["good", a.id] = nbgrader_course.solved_submission(source, release_nb)
        notebooks["blank", a.id] = release_nb
        if a is A1:
            notebooks["keyword_oracle", a.id] = nbgrader_course.solved_submission(
                source, release_nb, {"distribute_value": ORACLE_DISTRIBUTE_VALUE,
                                     "pool_backward": KEYWORD_POOL_BACKWARD})
            notebooks["deep_message", a.id] = _with_cell_after_imports(release_nb, DEEP_MESSAGE)
            notebooks["status_without_state", a.id] = _with_cell_after_imports(
                notebooks["good", a.id], STATUS_WITHOUT_STATE)
        else:
            notebooks["wrong_initializer", a.id] = nbgrader_course.solved_submission(
                source, release_nb, {"initialize_parameters": answers[
                    "initialize_parameters"].replace(*WRONG_SEED)})
            notebooks["prebuilt_initializer", a.id] = nbgrader_course.solved_submission(
                source, release_nb, {"initialize_parameters": PREBUILT_INITIALIZER})
            if path := _missing_file_of_signs():
                notebooks["own_missing_data", a.id] = _with_cell_after_imports(
                    release_nb, OWN_DATA_ERROR.format(path=path))
    return notebooks


@pytest.fixture(scope="module")
def red_class(tmp_path_factory) -> dict:
    return grade_red_class(tmp_path_factory.mktemp("red_team_2"), _submissions())


@pytest.mark.parametrize("key", sorted(EXPECTED), ids="-".join)
def test_score_and_status(red_class, key):
    check_score_and_status(red_class, key, EXPECTED[key])


def test_a_stand_in_answers_no_hidden_case_by_keyword(red_class):
    """"[The kernel] never receives ... the reference's answer to any case": a stand-in that
    refuses its helper's hidden cases refuses them however the arguments are passed."""
    row_of(red_class, "keyword_oracle", A1.id)
    answers = _hidden_answers(red_class, "distribute_value")
    arrays = {np.asarray(a["a"], np.float64).tobytes() for a in answers}
    replies = [json.loads(line) for line in
               (red_class["sent"] / f"{A1.id}-keyword_oracle.jsonl").read_text().splitlines()]
    received = {np.asarray(leaf, np.float64).tobytes()
                for r in replies if r["kind"] == "reply" and "value" in json.loads(r["text"])
                for leaf in [graded.decode(json.loads(r["text"])["value"])]}
    assert not arrays & received, "the grader sent the kernel its answer to a hidden case"
    page = (red_class["course"] / "feedback" / "keyword_oracle" / A1.id /
            f"{Path(A1.notebook).stem}.html").read_text()
    shown = {f"{np.asarray(a['a']).ravel()[0]:.6g}" for a in answers}
    assert not [n for n in shown if f"= {n}" in page], (
        "the feedback shows the reference's answers to hidden cases: "
        + page[page.find("the grader's answers"):][:300])


def test_a_wrong_helper_without_arguments_costs_its_caller_nothing(red_class):
    """"A wrong helper therefore costs its own points only": model, right but for its wrong
    initialize_parameters, keeps its 45 points with the grader's initialize_parameters."""
    row = row_of(red_class, "wrong_initializer", A2.id)
    assert row["test_model"] == "45.0", row


def test_a_kernel_message_cannot_make_a_submission_not_graded(red_class):
    """Only the grader's own failures are "not graded" (graded again on the next run): a
    message the kernel sends is the submission's doing, never a kernel that did not start."""
    row = row_of(red_class, "deep_message", A1.id)
    assert not row["status"].startswith("not graded"), row["status"]
    assert red_class["final"]["deep_message", A1.id]


def test_a_malformed_status_message_costs_the_cell_not_the_notebook(red_class):
    row = row_of(red_class, "status_without_state", A1.id)
    assert not row["status"].startswith("nbgrader failed"), row["status"]


def test_a_submission_cannot_claim_its_own_assignments_data_is_missing(red_class):
    """A DataFileError the submission raises itself, about a file of its own assignment that
    no graded function needed (the grader computed every reference answer without it), is
    the submission's error, not missing data of the grader's."""
    row = row_of(red_class, "own_missing_data", A2.id)
    assert "data missing" not in row["status"], row["status"]
    assert red_class["final"]["own_missing_data", A2.id]
