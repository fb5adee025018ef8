"""The reference answers of the public test cases, stored with the course for the notebooks.

A notebook's ``tests.check_<function>(...)`` compares the student's answer with the reference
solution's answer to the same public case (``utils.graded.public_answer``). Those answers are
computed here from the source notebooks' reference solutions and written to
``utils/public_tests/public_answers/<assignment>.json`` with the versions of the libraries that
computed them; hidden cases are never written. ``python -m course public-answers``
rewrites them, ``--check`` reports stale files, and a test fails when they are stale.

Stale means "a student's correct answer computed here could be judged wrong": TensorFlow and
BLAS give floats that differ in the last digits from one CPU to another, so the stored answers
are compared with a fresh computation the way the checks compare a student's answer, through the
graded function's own ``compare`` and its tolerances, after an exact check of everything that
must be exact (the cases, the structure of each answer, its keys and types, the shapes and dtypes
of its arrays, its integers, booleans and strings).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import import_module
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from platform import python_version

import numpy as np

from course.assignments import Assignment
from course.trusted import cases
from course.trusted.reference_answers import Reference
from utils.graded import GradedFunction, case_key, decode, public_answers_path

# The libraries whose versions decide the reference answers' floats.
NUMERICAL_PACKAGES = ("numpy", "tensorflow-cpu", "keras")


@dataclass
class PublicCase:
    """One public case, as the checks see it."""

    graded: GradedFunction
    params: dict
    inputs: dict


@dataclass
class Computed:
    """The public answers of one assignment, freshly computed from its reference solution."""

    path: Path  # where they are stored
    answers: dict[str, str]  # {case key: encoded answer}
    cases: dict[str, PublicCase]  # {case key: the case}

    def text(self) -> str:
        """The stored file: the versions that computed the answers, and the answers."""
        return json.dumps({"written_by": written_by(), "answers": self.answers}, indent=1,
                          sort_keys=True) + "\n"


def written_by() -> dict[str, str]:
    """{package: version} of Python and the numerical libraries in this environment."""
    versions = {"python": python_version()}
    for package in NUMERICAL_PACKAGES:
        try:
            versions[package] = version(package)
        except PackageNotFoundError:
            versions[package] = "absent"
    return versions


def compute(assignment: Assignment) -> Computed:
    """The public answers of ``assignment``, computed from its reference solution."""
    reference = Reference(assignment.source_notebook)
    answers, public, module = {}, {}, None
    for tests in cases.read(reference.source):
        module = tests.module
        graded = import_module(tests.module).CHECKS[tests.function]
        for case in tests.cases:
            if not case.hidden:
                key = case_key(tests.function, case.params)
                inputs = graded.inputs(**case.params)
                answers[key] = reference.answer_text(graded, case.params, inputs)
                public[key] = PublicCase(graded, case.params, inputs)
    return Computed(public_answers_path(module), answers, public)


def differences(stored: dict, computed: Computed) -> list[str]:
    """Why the ``stored`` file's content (parsed JSON) is not as good as ``computed``, one line
    per problem; [] when every stored answer passes the checks against the fresh one."""
    answers = stored.get("answers") if isinstance(stored, dict) else None
    if not isinstance(answers, dict):
        return ["the file holds no 'answers'"]
    problems = [f"{key}: no longer a public case" for key in sorted(set(answers) -
                                                                      set(computed.answers))]
    problems += [f"{key}: missing" for key in sorted(set(computed.answers) - set(answers))]
    for key in sorted(set(answers) & set(computed.answers)):
        case = computed.cases[key]
        old, new = decode(answers[key]), decode(computed.answers[key])
        problem = exact_difference(old, new)
        if not problem:
            try:
                case.graded.compare(case.params, case.inputs, old, new)
            except AssertionError as error:
                problem = f"the checks reject it ({error})"
        if problem:
            problems.append(f"{key}: {problem}")
    if problems and stored.get("written_by") != written_by():
        problems.append(f"(written by {stored.get('written_by')}, this environment has "
                        f"{written_by()})")
    return problems


def exact_difference(old, new, where: str = "answer") -> str:
    """The first difference between two decoded answers in what must be exact (structure, keys,
    types, array shapes and dtypes, integers, booleans, strings), or ''. Floats are left to the
    graded function's ``compare``."""
    if type(old) is not type(new):
        return f"{where} is a {type(old).__name__}, now a {type(new).__name__}"
    if isinstance(old, dict):
        if set(old) != set(new):
            return f"{where} has keys {sorted(old)}, now {sorted(new)}"
        return next((d for k in sorted(old) if (d := exact_difference(old[k], new[k],
                                                                      f"{where}[{k!r}]"))), "")
    if isinstance(old, list):
        if len(old) != len(new):
            return f"{where} has {len(old)} items, now {len(new)}"
        return next((d for i, (o, n) in enumerate(zip(old, new))
                     if (d := exact_difference(o, n, f"{where}[{i}]"))), "")
    if isinstance(old, np.ndarray):
        if old.shape != new.shape or old.dtype != new.dtype:
            return f"{where} is {old.dtype} {old.shape}, now {new.dtype} {new.shape}"
        if old.dtype.kind != "f" and not np.array_equal(old, new):
            return f"{where} holds other {old.dtype} values"
        return ""
    if not isinstance(old, float) and old != new:
        return f"{where} is {old!r}, now {new!r}"
    return ""


def stale(assignment: Assignment) -> str:
    """Why the stored public answers of ``assignment`` are out of date, or ''."""
    computed = compute(assignment)
    if not computed.path.is_file():
        return f"{computed.path.name} is missing"
    try:
        stored = json.loads(computed.path.read_text())
    except ValueError as error:
        return f"{computed.path.name} is not JSON ({error})"
    problems = differences(stored, computed)
    return f"{computed.path.name}: " + "; ".join(problems) if problems else ""


def write(assignment: Assignment) -> Path:
    computed = compute(assignment)
    computed.path.parent.mkdir(parents=True, exist_ok=True)
    computed.path.write_text(computed.text())
    return computed.path
