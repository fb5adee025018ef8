"""The classic mistakes the checks name (``GradedFunction.mistakes``, ``utils.mistakes``).

Every graded function of every assignment has at least three; each one's mistaken
implementation (tests/mistake_catalogue.py, edits of the reference answer) fails the first of
its notebook's cases it fails (the message a student reads, and the grader's verdict) with its
own hint first, in the notebook's check and in the grader's comparison alike, and no other entry
of the catalogue recognises that answer; no entry recognises a reference answer; the
cause of every hint is read in the first 80 characters of the message, and a hint holds no
decimal number, so that a hidden case's verdict shows it whole.
"""

from __future__ import annotations

import functools
import math
import re
from importlib import import_module

import nbformat
import pytest
from graded_cases import notebook_cases, solution, source_notebook
from mistake_catalogue import ALSO, CASES, CATALOGUE

from course import assignments
from course.grading.nbgrader_course import reference_answers
from course.trusted import cases
from course.trusted.executor import without_values
from utils import graded
from utils.mistakes import CAUSE_WIDTH, recognised

ASSIGNMENTS = [a.id for a in assignments.available()]


@functools.lru_cache(maxsize=None)
def _source(assignment_id: str) -> nbformat.NotebookNode:
    return source_notebook(assignment_id)


def _checks(assignment_id: str) -> dict[str, graded.GradedFunction]:
    return import_module(cases.read(_source(assignment_id))[0].module).CHECKS


@functools.lru_cache(maxsize=None)
def _reference(assignment_id: str) -> dict:
    return solution(_source(assignment_id))


def _cases(assignment_id: str, function: str) -> list[dict]:
    """The cases a function's mistakes are tried on: its notebook's public cases, in order,
    or those of CASES."""
    if function in CASES:
        return CASES[function]
    return [c.params for c in notebook_cases(_source(assignment_id))[function] if not c.hidden]


_NUMBER = re.compile(r"-?\d+\.\d+(?:e[-+]?\d+)?")


def _same_message(a: str, b: str) -> bool:
    """Whether two messages say the same, their decimal numbers within float32's precision (the
    same TensorFlow computation run twice may differ in its last digits)."""
    numbers_a, numbers_b = ([float(x) for x in _NUMBER.findall(m)] for m in (a, b))
    return (_NUMBER.split(a) == _NUMBER.split(b) and len(numbers_a) == len(numbers_b)
            and all(math.isclose(x, y, rel_tol=1e-5, abs_tol=1e-6)
                    for x, y in zip(numbers_a, numbers_b)))


def _verdicts(assignment_id: str, function: str, fn) -> list[tuple[str, list[str]]]:
    """(message, names of the mistakes recognised) of every case ``fn`` fails, in order; the
    message is the grader's, and the notebook's check says the same for a public case."""
    checks = _checks(assignment_id)
    check, reference = checks[function], _reference(assignment_id)[function]
    public = [c.params for c in notebook_cases(_source(assignment_id))[function] if not c.hidden]
    found = []
    for params in _cases(assignment_id, function):
        inputs = check.inputs(**params)
        got = graded.decode(graded.encode(check.call(fn, inputs)))
        expected = graded.decode(graded.encode(check.call(reference, inputs)))
        try:
            check.compare(params, inputs, got, expected)
            continue
        except AssertionError as error:
            message = str(error)
        if params in public:
            with pytest.raises(AssertionError) as notebook:
                check.check(fn, **params)
            assert _same_message(str(notebook.value), message)
        found.append((message, [m.name for m in recognised(check.mistakes, inputs, got,
                                                           expected)]))
    return found


IMPLEMENTATIONS = [pytest.param(a, f, m, edit, id=f"{f}-{m}")
                   for a in CATALOGUE for f in CATALOGUE[a] for m, edit in CATALOGUE[a][f].items()]
IMPLEMENTATIONS += [pytest.param(a, f, m, edit, id=f"{f}-{m}-also")
                    for (a, f, m), edit in ALSO.items()]


@pytest.mark.parametrize("assignment_id", ASSIGNMENTS)
def test_every_graded_function_has_three_mistakes_each_with_an_implementation(assignment_id):
    answers = set(reference_answers(_source(assignment_id)))
    checks = _checks(assignment_id)
    assert set(checks) == answers
    for function in answers:
        names = [m.name for m in checks[function].mistakes]
        assert len(names) >= 3, f"{function}: {names}"
        assert len(set(names)) == len(names)
        assert set(CATALOGUE.get(assignment_id, {}).get(function, {})) == set(names), function


@pytest.mark.parametrize("assignment_id,function,mistake,edit", IMPLEMENTATIONS)
def test_a_mistake_is_named_by_its_own_hint_only(assignment_id, function, mistake, edit):
    code = edit(reference_answers(_source(assignment_id))[function])
    wrong = solution(_source(assignment_id), function, code)[function]
    verdicts = _verdicts(assignment_id, function, wrong)
    assert verdicts, f"{function} with the mistake {mistake} passes every case"
    entry = next(m for m in _checks(assignment_id)[function].mistakes if m.name == mistake)
    message, seen = verdicts[0]  # what the student and the grader's verdict show
    assert seen == [mistake], message
    assert message.startswith(entry.hint(function) + "\n"), message


@pytest.mark.parametrize("assignment_id", ASSIGNMENTS)
def test_no_mistake_is_recognised_in_a_reference_answer(assignment_id):
    """The reference's answer to every case of the notebook, public and hidden (``model``: its
    stored public answer), as the student's."""
    checks = _checks(assignment_id)
    for function, function_cases in notebook_cases(_source(assignment_id)).items():
        check = checks[function]
        for case in function_cases:
            if function == "model" and case.hidden:
                continue
            inputs = check.inputs(**case.params)
            answer = (graded.public_answer(check, case.params) if function == "model" else
                      graded.decode(graded.encode(check.call(
                          _reference(assignment_id)[function], inputs))))
            assert recognised(check.mistakes, inputs, answer, answer) == [], (function, case)


@pytest.mark.parametrize("assignment_id", ASSIGNMENTS)
def test_a_hint_names_its_cause_first_and_holds_no_decimal_number(assignment_id):
    for function, check in _checks(assignment_id).items():
        for mistake in check.mistakes:
            hint = mistake.hint(function)
            assert len(f"{function}: {mistake.cause}") <= CAUSE_WIDTH, hint
            assert hint.startswith(f"{function}: {mistake.cause}; ")
            assert without_values(hint) == hint, hint
            assert "\n" not in hint
