"""The reference answers of the public test cases, stored with the course for the notebooks.

A notebook's ``tests.check_<function>(...)`` compares the student's answer with the reference
solution's answer to the same public case (``utils.graded.public_answer``). Those answers are
computed here from the source notebooks' reference solutions and written to
``utils/public_tests/public_answers/<assignment>.json``; hidden cases are never written.
``python -m utils.course public-answers`` rewrites them, ``--check`` reports stale files, and a
test fails when they are stale.
"""

from __future__ import annotations

import json
from importlib import import_module
from pathlib import Path

from utils.course.assignments import Assignment
from utils.course.trusted import cases
from utils.course.trusted.expected import Reference
from utils.graded import case_key, public_answers_path


def compute(assignment: Assignment) -> tuple[Path, str]:
    """(where the assignment's public answers go, their JSON text)."""
    reference = Reference(assignment.source_notebook)
    answers, module = {}, None
    for tests in cases.read(reference.source):
        module = tests.module
        graded = import_module(tests.module).CHECKS[tests.function]
        for case in tests.cases:
            if not case.hidden:
                answers[case_key(tests.function, case.params)] = reference.answer_text(
                    graded, case.params, graded.inputs(**case.params))
    return public_answers_path(module), json.dumps(answers, indent=1, sort_keys=True) + "\n"


def stale(assignment: Assignment) -> str:
    """Why the stored public answers of ``assignment`` are out of date, or ''."""
    path, text = compute(assignment)
    if not path.is_file():
        return f"{path.name} is missing"
    return "" if path.read_text() == text else f"{path.name} differs from the reference answers"


def write(assignment: Assignment) -> Path:
    path, text = compute(assignment)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path
