"""What the grader sends into a kernel, and what its feedback shows, never gives a solution
away: no line of a solution or hidden-test block, no reference answer to a hidden case.

The session's class (tests/conftest.py) is graded with ``grade_class(record_folder=...)``,
which keeps every message the grader sent into each kernel: the submission's own cells, the
grading harness and the replies on the input channel (the harness's cases, the answers of a
failed helper's stand-in). Here every message of the reference solutions and blank releases of
all six assignments, and every feedback file of the class, is read against the sources and
against this run's reference answers to the hidden cases.
"""

from __future__ import annotations

import json
import re
from html import unescape
from importlib import import_module

import nbformat
import numpy as np
import pytest

from course import assignments
from course.trusted import cases
from course.trusted.executor import HARNESS, without_values
from course.trusted.reference_answers import Reference
from utils import graded

ASSIGNMENTS = assignments.available()
_BLOCKS = {"solution": ("### BEGIN SOLUTION", "### END SOLUTION"),
           "hidden test": ("### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS")}
_IDIOMS = {"with tf.GradientTape() as tape:"}  # lines any TensorFlow code may hold


def _collapsed(text: str) -> str:
    return re.sub(r"\s+", " ", text)


def _block_lines() -> dict[str, str]:
    """{line (white space collapsed): "<kind> block of <assignment>"} of every line of a
    solution or hidden-test block that is long enough to be telling and that the student's
    release does not show anyway (the instructions quote some lines of the solutions)."""
    lines = {}
    for a in ASSIGNMENTS:
        released = _collapsed(" ".join(c.source for c in nbformat.read(
            a.release_notebook, as_version=4).cells))
        for cell in nbformat.read(a.source_notebook, as_version=4).cells:
            inside = None
            for line in cell.source.splitlines():
                for kind, (begin, end) in _BLOCKS.items():
                    if line.strip() == begin:
                        inside = kind
                    elif line.strip() == end:
                        inside = None
                text = _collapsed(line.strip())
                if (inside and len(text) >= 24 and text not in _IDIOMS
                        and not text.startswith(("#", "print("))
                        and text not in released):
                    lines[text] = f"{inside} block of {a.id}"
    return lines


def _sent(graded_course, student: str, a) -> list[dict]:
    path = graded_course["sent"] / f"{a.id}-{student}.jsonl"
    assert path.is_file(), f"no record of what was sent into {student}'s kernel for {a.id}"
    return [json.loads(line) for line in path.read_text().splitlines()]


def _public_answers(a) -> list[str]:
    """The stored answers (encoded) of ``a``'s public cases: what every student has."""
    stored = graded.public_answers_path(cases._module_of(nbformat.read(a.source_notebook,
                                                                       as_version=4)))
    return list(json.loads(stored.read_text())["answers"].values())


def _public_numbers(a, numbers: set[str]) -> set[str]:
    """Those of ``numbers`` a student has anyway: in the stored public answers, or in the
    release notebook's text (its expected outputs, at any precision)."""
    released = a.release_notebook.read_text()
    public = set().union(*(_telling(text) for text in _public_answers(a)))
    return {n for n in numbers if n in public or n in released}


def _hidden_answers(graded_course, a) -> list[str]:
    """This run's reference answers (encoded) to the hidden cases of ``a``: the run's answer
    files less those of the public cases, which the course publishes anyway."""
    reference = Reference(a.source_notebook)
    public = set()
    for tests in cases.read(reference.source):
        checks = import_module(tests.module).CHECKS[tests.function]
        public |= {f"{reference.key(checks, c.params)}.json" for c in tests.cases
                   if not c.hidden}
    files = [p for p in graded_course["expected"].glob(f"*/{a.id}/*.json")
             if p.name not in public]
    assert files, f"no reference answers of hidden cases of {a.id} in this run"
    return [p.read_text() for p in files]


def _leaves(value):
    """The arrays and scalars of decoded plain data, depth first."""
    if isinstance(value, dict):
        for v in value.values():
            yield from _leaves(v)
    elif isinstance(value, list):
        for v in value:
            yield from _leaves(v)
    else:
        yield value


def _telling(encoded: str) -> set[str]:
    """How the numbers of an answer would be printed: 6 and 4 significant digits, for the
    non-integer floats of its arrays (the first 200 of each) and scalars."""
    values = []
    for leaf in _leaves(graded.decode(encoded)):
        if isinstance(leaf, np.ndarray) and leaf.dtype.kind == "f":
            values.extend(leaf.ravel()[:200].tolist())
        elif isinstance(leaf, float):
            values.append(leaf)
    return {f"{x:{spec}}" for x in values for spec in (".6g", ".4f")
            if np.isfinite(x) and abs(x - round(x)) > 1e-3 and len(f"{x:.6g}") >= 6}


def _array_bytes(encoded: str) -> list[bytes]:
    """The raw data of the arrays (8 entries or more) of an encoded answer."""
    return [leaf.tobytes() for leaf in _leaves(graded.decode(encoded))
            if isinstance(leaf, np.ndarray) and leaf.size >= 8]


def _sent_data(message: dict) -> list[bytes]:
    """The raw data of every array a reply (a stand-in's answer) sent into the kernel. The
    harness is always the same code, and the reply that carries its cases holds only the
    module, the function, the helpers answered by the grader and the cases' inputs (checked
    here): nothing computed from the reference."""
    if message["kind"] == "harness":
        assert message["text"] == HARNESS, message["text"][:200]
        return []
    reply = json.loads(message["text"]) if message["kind"] == "reply" else {}
    if "cases" in reply:
        assert set(reply) == {"cases"}, set(reply)
        assert set(reply["cases"]) == {"module", "function", "answered_by_grader", "cases"}
        return []
    return _array_bytes(reply["value"]) if "value" in reply else []


@pytest.mark.parametrize("a", ASSIGNMENTS, ids=lambda a: a.id)
def test_nothing_from_a_solution_or_a_hidden_answer_is_sent_into_a_kernel(graded_course, a):
    blocks = _block_lines()
    assert len(blocks) > 40
    hidden = _hidden_answers(graded_course, a)
    public = {b for text in _public_answers(a) for b in _array_bytes(text)}
    arrays = [set(_array_bytes(h)) - public for h in hidden]
    checked = 0
    for student in ("reference", "blank"):
        for message in _sent(graded_course, student, a):
            if student == "reference" and message["kind"] == "cell":
                continue  # the submission's own code: here, the solution typed in
            checked += 1
            text, collapsed = message["text"], _collapsed(message["text"])
            decoded = _sent_data(message)
            for line, where in blocks.items():
                assert line not in collapsed, (
                    f"a {message['kind']} message into {student}'s kernel holds a line of the "
                    f"{where}: {line}")
            for answer, data in zip(hidden, arrays):
                assert answer not in text and not set(data) & set(decoded), (
                    f"a {message['kind']} message into {student}'s kernel holds a reference "
                    "answer of a hidden case")
    assert checked >= 2 * len(cases.read(nbformat.read(a.source_notebook, as_version=4)))


@pytest.mark.parametrize("a", ASSIGNMENTS, ids=lambda a: a.id)
def test_no_feedback_shows_a_solution_line_or_a_hidden_answer(graded_course, a):
    blocks = _block_lines()
    telling = set().union(*(_telling(h) for h in _hidden_answers(graded_course, a)))
    telling -= _public_numbers(a, telling)
    pages = [p for p in graded_course["feedback"] if p.parent.name == a.id]
    assert pages
    for page in pages:
        if page.parent.parent.name == "reference" or page.parent.parent.name.startswith(
                "wrong-"):
            continue  # the student's own cells hold solution lines typed in
        text = _collapsed(unescape(re.sub(r"<[^>]*>", "", page.read_text())))  # as read:
        for line, where in blocks.items():  # the highlighting's tags split every line of code
            assert line not in text, f"{page}: a line of the {where}: {line}"
    for page in pages:
        text = page.read_text()
        shown = sorted(telling & set(re.findall(r"(?<![\d.])-?\d+\.\d+(?:e[-+]\d+)?", text)))
        assert not shown, f"{page} shows numbers of hidden reference answers: {shown[:5]}"


def _perturbed(value):
    """A wrong answer of the same structure: its floats moved."""
    if isinstance(value, np.ndarray):
        return value * 1.01 + 0.01 if value.dtype.kind == "f" else value
    if isinstance(value, float):
        return value * 1.01 + 0.01
    if isinstance(value, dict):
        return {k: _perturbed(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_perturbed(v) for v in value]
    return value


CHEAP = ["C4W1A1_conv_step_by_step", "C4W3A1_car_detection", "C4W4A1_face_recognition",
         "C4W4A2_neural_style_transfer"]


@pytest.mark.parametrize("assignment_id", CHEAP)
def test_a_hidden_failure_says_what_is_wrong_without_the_expected_values(assignment_id):
    a = assignments.get(assignment_id)
    reference = Reference(a.source_notebook)
    failures = 0
    for tests in cases.read(reference.source, secret="a run"):
        checks = import_module(tests.module).CHECKS[tests.function]
        for case in (c for c in tests.cases if c.hidden):
            inputs = checks.inputs(**case.params)
            expected_answer = reference.answer(checks, case.params, inputs)
            try:
                checks.compare(case.params, inputs, _perturbed(expected_answer),
                               expected_answer)
                continue  # the change is within tolerance, or not one the check reads
            except Exception as error:  # noqa: BLE001 (any failure's message is shown)
                message = without_values(str(error))
            failures += 1
            telling = _telling(graded.encode(expected_answer))
            assert not [t for t in telling if t in message], message
            assert not re.search(r"\d\.\d", message), message
            assert tests.function in message, message  # it names what failed
    assert failures >= len(cases.read(reference.source)) // 2
