"""The reference solution's answers to every test case, computed in the grader's process.

``Reference(source_notebook)`` runs the source notebook's provided code and answer cells (never
a test cell) in a namespace of its own, once per process (``course.trusted.reference_solution.
run_reference``); ``answer(graded, params, inputs)`` calls the reference function through the
same ``call`` the student's function goes through, so both answers are the same kind of plain
data. Answers are kept in a folder (one file per case, named by a hash of the assignment,
function and parameters), so that a class is computed once; so are the fingerprints of each
helper's hidden calls (``hidden_calls``), which a stand-in refuses. ``every_answer`` computes
all of them for a grading run (``grade-class`` has a fork of its fork server do it:
``reference_process.answers_in_fork``).
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import io
import json
import os
import tempfile
from importlib import import_module
from pathlib import Path
from typing import Callable

import nbformat

from course import assignments
from course.trusted import cases
from course.trusted.cases import Case, FunctionTests
from course.trusted.helper_calls import call_fingerprints
from course.trusted.reference_solution import run_reference
from utils.checks import helpers_replaced
from utils.graded import GradedFunction, decode, encode


class Reference:
    """The reference solution of one source notebook, and its answers to test cases."""

    def __init__(self, source_path: Path, cache: Path | None = None):
        self.source_path = Path(source_path)
        self.source = nbformat.read(self.source_path, as_version=4)
        self.cache = Path(cache) if cache else None
        self._namespace: dict | None = None
        self._memory: dict[str, str] = {}

    def function(self, name: str):
        """The reference function ``name`` (the notebook is run once per process)."""
        if self._namespace is None:
            self._namespace = _namespace(nbformat.writes(self.source))
        return self._namespace[name]

    def key(self, graded: GradedFunction, params: dict, placeholders: tuple = ()) -> str:
        """The name of a case's answer in the folder."""
        text = json.dumps([self.source_path.parent.name, graded.name, repr(sorted(params.items())),
                           *sorted(placeholders)])
        return hashlib.sha256(text.encode()).hexdigest()[:32]

    def answer_text(self, graded: GradedFunction, params: dict, inputs: dict,
                    placeholders: tuple = ()) -> str:
        """The reference answer to one case, encoded (``utils.graded.encode``); with the
        helpers ``placeholders`` replaced by ``graded.placeholders``, as a submission's failed
        helpers are when it is graded."""
        def compute() -> str:
            fn = self.function(graded.name)
            with helpers_replaced(fn, **{h: graded.placeholders[h] for h in placeholders}):
                return encode(graded.call(fn, inputs))
        return self._kept(f"{self.key(graded, params, placeholders)}.json", compute)

    def hidden_calls_text(self, helper: GradedFunction, tests: list[FunctionTests]) -> str:
        """The fingerprints (a JSON list) of the calls of ``helper`` on its hidden cases (in
        ``tests``, every function's) that none of its public ones makes, which its stand-in
        refuses to answer
        (``helper_calls.call_fingerprints``; a function without arguments has one call for
        every case). Kept as the answers are, so that a worker needs none of the libraries
        ``helper.call`` uses."""
        cases = _cases_of(helper, tests)

        def compute() -> str:
            function = self.function(helper.name)
            calls = {hidden: set().union(*(call_fingerprints(helper, helper.inputs(**c.params),
                                                             function)
                                           for c in cases if c.hidden == hidden))
                     for hidden in (True, False)}
            return json.dumps(sorted(calls[True] - calls[False]))
        return self._kept(self.hidden_calls_file(helper, tests), compute)

    def hidden_calls_file(self, helper: GradedFunction, tests: list[FunctionTests]) -> str:
        """The name of ``hidden_calls_text``'s list in the folder (``.calls``: the ``.json``
        files there are the answers)."""
        return self.key(helper, {"hidden calls of": [[c.hidden, c.params]
                                                     for c in _cases_of(helper, tests)]}
                        ) + ".calls"

    def hidden_calls(self, helper: GradedFunction, tests: list[FunctionTests]) -> set[str]:
        """``hidden_calls_text`` as a set."""
        return set(json.loads(self.hidden_calls_text(helper, tests)))

    def _kept(self, name: str, compute: Callable[[], str]) -> str:
        """The text of the file ``name``: from memory, from the folder, or ``compute()``d and
        kept in both."""
        if name in self._memory:
            return self._memory[name]
        path = self.cache / name if self.cache else None
        if path is not None and path.is_file():
            text = path.read_text()
        else:
            text = compute()
            if path is not None:
                path.parent.mkdir(parents=True, exist_ok=True)
                with tempfile.NamedTemporaryFile("w", dir=path.parent, delete=False) as handle:
                    handle.write(text)
                os.replace(handle.name, path)
        self._memory[name] = text
        return text

    def answer(self, graded: GradedFunction, params: dict, inputs: dict,
               placeholders: tuple = ()):
        """The reference answer to one case, as decoded plain data."""
        return decode(self.answer_text(graded, params, inputs, placeholders))

    def every_answer(self, secret: str) -> dict[str, str]:
        """{file name: text} of the answer to every test case of the notebook in the run
        ``secret`` (the hidden cases' seeds), and of the fingerprints of each helper's hidden
        calls (``hidden_calls_text``): what a grading worker reads, kept in the folder."""
        answers = {}
        with contextlib.redirect_stdout(io.StringIO()):  # what the solution prints as it runs
            every = cases.read(self.source, secret)
            checks = {t.function: import_module(t.module).CHECKS[t.function] for t in every}
            for tests in every:
                graded = checks[tests.function]
                for case in tests.cases:
                    answers[f"{self.key(graded, case.params)}.json"] = self.answer_text(
                        graded, case.params, graded.inputs(**case.params))
            for helper in {checks[h] for graded in checks.values() for h in graded.helpers}:
                answers[self.hidden_calls_file(helper, every)] = self.hidden_calls_text(helper,
                                                                                       every)
        return answers


def _cases_of(graded: GradedFunction, tests: list[FunctionTests]) -> list[Case]:
    """The cases of ``graded`` among ``tests`` (every test cell of it)."""
    return [case for t in tests if t.function == graded.name for case in t.cases]


@functools.lru_cache(maxsize=4)
def _namespace(source_text: str) -> dict:
    """What the reference solution of a source notebook (its text) defines."""
    return run_reference(nbformat.reads(source_text, as_version=4))


@functools.lru_cache(maxsize=None)
def _reference_of(module: str) -> Reference:
    """The reference of the assignment whose public test module is ``module``."""
    stem = module.rsplit(".", 1)[-1]
    assignment = next(a for a in assignments.available() if Path(a.notebook).stem == stem)
    return Reference(assignment.source_notebook)


def reference_answer(graded: GradedFunction, case: dict):
    """The reference answer to any case of ``graded``: how a source notebook's hidden check
    compares when the instructor runs it (never in a grading kernel, which cannot import this
    package)."""
    return _reference_of(type(graded).__module__).answer(graded, case, graded.inputs(**case))
