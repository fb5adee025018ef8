"""Running a GradedFunction's test the way the trusted grader does, for the checks' tests."""

from __future__ import annotations

import nbformat

from utils.course import assignments
from utils.course.trusted import cases
from utils.graded import GradedFunction, decode, encode


def all_cases(assignment_id: str) -> list[tuple[str, dict]]:
    """(function, parameters) of every public and hidden case of an assignment's test cells."""
    source = nbformat.read(assignments.get(assignment_id).source_notebook, as_version=4)
    return [(tests.function, case.params) for tests in cases.read(source) for case in tests.cases]


def grade(graded: GradedFunction, fn, reference_fn, **case) -> None:
    """Compare ``fn``'s answer with ``reference_fn``'s as the grader does: both answers pass
    through encode/decode, the inputs are the grader's, and the expected answer is the
    reference's answer (not ``graded.expected``). Raises AssertionError when they differ."""
    inputs = graded.inputs(**case)
    sent = decode(encode(inputs))  # the kernel receives the inputs as plain data
    got = decode(encode(graded.call(fn, sent)))
    expected = decode(encode(graded.call(reference_fn, graded.inputs(**case))))
    graded.compare(case, inputs, got, expected)
