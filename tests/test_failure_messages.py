"""How a failed public check reads where a student reads it: under the test cell, and in
``nbgrader validate`` (the command prints, and the Validate dialog shows, the cell's error
output): the message first, in lines nbgrader does not cut (it cuts at 87 characters, its
four-space indent included), without the frames of the course's checks; an error raised by the
student's own code keeps the student's lines."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import traceback
from pathlib import Path

import nbformat
import numpy as np
import pytest
from graded_cases import solution, source_notebook
from mistake_catalogue import CATALOGUE

from course import assignments
from course.execution import QUIET_TENSORFLOW
from course.grading.nbgrader_course import reference_answers, solved_submission
from utils import graded
from utils.notebook_failures import WIDTH, CheckFailed, wrapped
from utils.public_tests import conv_step_by_step as t

A1 = assignments.get("C4W1A1_conv_step_by_step")
VALIDATE_CUT = 87  # nbgrader's Validator.width (90) less the "..." it puts at a cut
UTILS = Path(graded.__file__).resolve().parent
COURSE_FRAMES = re.compile(r"utils/(graded|checks|mistakes|notebook_failures)\.py|public_tests/")
ANSI = re.compile(r"\x1b\[[0-9;]*m")
MESSAGE = ("pool_forward: the windows are averaged in max mode; take np.max of each window "
           "when mode == \"max\".\npool_forward (mode='max', f=3, stride=1): wrong A values at "
           "54 of 54 entries; first at index (0, 0, 0, 0): got 0.188157, expected 2.11784 "
           "(largest absolute difference 2.67)")


def test_a_message_is_wrapped_in_short_lines_that_keep_every_word():
    lines = wrapped(MESSAGE)
    assert lines[0].startswith("AssertionError: pool_forward: the windows are averaged")
    assert all(len(line) <= WIDTH for line in lines), lines
    assert " ".join(" ".join(lines).split()) == " ".join(f"AssertionError: {MESSAGE}".split())
    assert len(lines) > len(MESSAGE.splitlines())  # a message line too long was wrapped
    assert sum(not line.startswith(" ") for line in lines) == 2  # each message line starts flush


def test_a_failed_check_shows_its_message_alone():
    rendered = [ANSI.sub("", line) for line in CheckFailed(MESSAGE)._render_traceback_()]
    assert rendered == wrapped(MESSAGE)
    assert isinstance(CheckFailed(MESSAGE), AssertionError)


def test_a_failed_check_raises_its_message_and_the_students_error_keeps_its_own_frames():
    with pytest.raises(CheckFailed, match="^zero_pad: the batch or channel axis is padded too"):
        t.check_zero_pad(lambda X, pad: np.pad(X, pad))

    namespace: dict = {}
    code = "def zero_pad(X, pad):\n    return X[10, 10, 10, 10]\n"
    exec(compile(code, "<student cell>", "exec"), namespace)  # noqa: S102 (a student's answer)
    with pytest.raises(IndexError) as raised:
        t.check_zero_pad(namespace["zero_pad"])
    files = [frame.filename for frame in traceback.extract_tb(raised.value.__traceback__)]
    assert files[-1] == "<student cell>", files
    # Of the course's code, only the frame of check itself, which IPython leaves out
    # (``__tracebackhide__``).
    assert [f for f in files if Path(f).resolve().is_relative_to(UTILS)] == [graded.__file__]


@pytest.mark.parametrize("assignment", assignments.available(), ids=lambda a: a.id)
def test_a_test_cells_lines_are_shown_whole_in_a_traceback(assignment):
    """A traceback through a test cell shows its lines after an 8-character gutter
    (``----> 3 ``): 75 characters fit within nbgrader's cut, its indent included."""
    for cell in nbformat.read(assignment.release_notebook, as_version=4).cells:
        if str(cell.metadata.get("nbgrader", {}).get("grade_id")).startswith(("test_",
                                                                                "extra_")):
            assert all(len(line) <= VALIDATE_CUT - 12 for line in cell.source.splitlines())


def _error_sections(output: str) -> list[list[str]]:
    """The lines of each "The error was:" section of ``nbgrader validate``'s output."""
    sections = []
    for part in output.split("The error was:")[1:]:
        sections.append(part.split("=" * 20)[0].strip("\n").splitlines())
    return sections


@pytest.mark.slow  # runs a whole notebook with nbgrader validate
def test_nbgrader_validate_shows_the_whole_message_and_none_of_the_checks(tmp_path):
    """The release notebook of assignment 1 with the reference's answers, except pool_forward,
    which averages in max mode, and conv_backward, left as released: ``nbgrader validate``
    fails their two test cells; it prints pool_forward's message whole (every wrapped line,
    none cut), and conv_backward's NotImplementedError with the student's line, and no frame
    of the course's checks."""
    source = source_notebook(A1.id)
    release = nbformat.read(A1.release_notebook, as_version=4)
    wrong = CATALOGUE[A1.id]["pool_forward"]["max_averaged"](
        reference_answers(source)["pool_forward"])
    nb = solved_submission(source, release, {"pool_forward": wrong})
    stub = next(c for c in release.cells
                if c.metadata.get("nbgrader", {}).get("grade_id") == "conv_backward")
    next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get(
        "grade_id") == "conv_backward").source = stub.source
    path = tmp_path / A1.notebook
    nbformat.write(nb, path)

    with pytest.raises(AssertionError) as failed:
        t.check_pool_forward(solution(source, "pool_forward", wrong)["pool_forward"], mode="max")
    message = str(failed.value)
    assert message.startswith("pool_forward: the windows are averaged in max mode")

    nbgrader = Path(sys.executable).with_name("nbgrader")
    result = subprocess.run([str(nbgrader), "validate", str(path)], cwd=tmp_path,
                            capture_output=True, text=True, timeout=600,
                            env={**os.environ, **QUIET_TENSORFLOW})
    output = ANSI.sub("", result.stdout)
    assert "VALIDATION FAILED ON 2 CELL(S)" in " ".join(output.split()), output
    sections = _error_sections(output)
    assert len(sections) == 2, output
    for line in (line for section in sections for line in section):  # the student's own
        assert len(line) <= VALIDATE_CUT, line  # lines of code may be cut, nothing else
        assert not line.endswith("...") or re.match(r" +(-+> )?\d+ ", line), line
    printed = [line.removeprefix("    ") for line in sections[0]]
    assert printed[:len(wrapped(message))] == wrapped(message), output
    assert not COURSE_FRAMES.search(output), output
    assert "NotImplementedError: Replace this line with your code." in output, output
    assert 'raise NotImplementedError("Replace this line with your code.")' in output, output
