"""Helpers for testing an assignment's GradedFunctions on the cases of its source notebook,
with the reference solution and with one answer cell made wrong (tests/mistakes.py)."""

from __future__ import annotations

import linecache

import nbformat
from mistakes import MISTAKES

from course import assignments
from course.grading.nbgrader_course import reference_answers
from course.trusted import cases
from course.trusted.reference_solution import run_reference
from utils.graded import GradedFunction, decode, encode


def source_notebook(assignment_id: str) -> nbformat.NotebookNode:
    return nbformat.read(assignments.get(assignment_id).source_notebook, as_version=4)


def notebook_cases(source: nbformat.NotebookNode) -> dict[str, list[cases.Case]]:
    """{function: [Case]}: the public and hidden cases of the source notebook's test cells."""
    return {t.function: t.cases for t in cases.read(source)}


def solution(source: nbformat.NotebookNode, cell_id: str | None = None,
             code: str | None = None) -> dict:
    """The reference solution's namespace, with the answer cell ``cell_id`` replaced by ``code``
    (kept in linecache, as IPython keeps a cell, so that tracebacks show its lines)."""
    namespace = run_reference(source)
    if cell_id is not None:
        filename = f"<cell {cell_id}>"
        linecache.cache[filename] = (len(code), None, code.splitlines(True), filename)
        exec(compile(code, filename, "exec"), namespace)  # noqa: S102 (the course's solution)
    return namespace


def mistaken(assignment_id: str, source: nbformat.NotebookNode, cell_id: str) -> dict:
    """The reference solution's namespace with the mistake of tests/mistakes.py in ``cell_id``."""
    return solution(source, cell_id,
                    MISTAKES[assignment_id][cell_id](reference_answers(source)[cell_id]))


def edited(source: nbformat.NotebookNode, cell_id: str, old: str, new: str):
    """The reference function ``cell_id`` with ``old`` replaced by ``new`` in its code."""
    answer = reference_answers(source)[cell_id]
    assert old in answer, f"{old!r} is not in the reference {cell_id}"
    return solution(source, cell_id, answer.replace(old, new))[cell_id]


def failure(graded: GradedFunction, fn, reference_fn, params: dict,
            hidden: bool = False) -> str | None:
    """The message of the check's failure on one case, or None when it passes.

    The grader's comparison (with the reference's answer through the same ``call``; the other
    functions of ``fn``'s namespace being the reference's) and, for a public case, the
    notebook's check (with the stored public answer) must agree.
    """
    inputs = graded.inputs(**params)
    try:
        got = decode(encode(graded.call(fn, inputs)))
        graded.compare(params, inputs, got, decode(encode(graded.call(reference_fn, inputs))))
        grader = None
    except AssertionError as error:
        grader = str(error)
    if hidden:
        return grader
    try:
        graded.check(fn, **params)
        notebook = None
    except AssertionError as error:
        notebook = str(error)
    assert (notebook is None) == (grader is None), (notebook, grader)
    return notebook


def failed_kinds(assignment_id: str, source: nbformat.NotebookNode, checks: dict,
                 cell_id: str) -> set[bool]:
    """{case.hidden} of the notebook's cases of ``cell_id`` that its mistake fails."""
    reference = solution(source)[cell_id]
    wrong = mistaken(assignment_id, source, cell_id)[cell_id]
    return {case.hidden for case in notebook_cases(source)[cell_id]
            if failure(checks[cell_id], wrong, reference, case.params, case.hidden)}


def reference_failures(source: nbformat.NotebookNode, checks: dict) -> list[str]:
    """The failures of the reference solution on the notebook's cases (none expected)."""
    reference = solution(source)
    return [f"{function} {case.params}: {message}"
            for function, function_cases in notebook_cases(source).items()
            for case in function_cases
            if (message := failure(checks[function], reference[function], reference[function],
                                   case.params, case.hidden))]
