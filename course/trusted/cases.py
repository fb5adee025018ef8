"""The test cases of each graded function, read from the source notebook without running it.

A test cell of a source notebook holds only statements of these forms (comments aside):

    tests.check_<function>(<function>, key=value, ...)   # one case; values are literals
    print("...")                                         # a message for the student

with the hidden cases between ``### BEGIN HIDDEN TESTS`` and ``### END HIDDEN TESTS``.
Values are Python literals, or ``np.<dtype name>`` for a numpy dtype. Anything else is an
error here, so a test cell cannot hold a check the grader would not run.

When grading, a hidden case's ``seed`` (the seed of its random inputs) is drawn afresh from a
secret made for each grading run (``read(source, secret)``), and so is a factor between 0.5
and 2 that scales the numbers of the parameters a check names in ``GradedFunction.varied``
(the hand-built cases: a window of negative numbers keeps its signs and order, a zero stays
zero); the other parameters (shapes, modes, thresholds) are the test cell's. What a student
learns about a hidden case in one run is then worthless in the next.
"""

from __future__ import annotations

import ast
import hashlib
from dataclasses import dataclass, field, replace
from graphlib import TopologicalSorter

import nbformat
import numpy as np

from course.grading.nbgrader_course import EXTRA_PREFIX, REQUIRED_PREFIX
from utils.i18n import _

_HIDDEN = "### BEGIN HIDDEN TESTS"
_HIDDEN_END = "### END HIDDEN TESTS"


@dataclass(frozen=True)
class Case:
    """One call of a check: the case's parameters, and whether students see it."""

    params: dict = field(hash=False)
    hidden: bool

    def describe(self) -> str:
        return ", ".join(f"{k}={_short(v)}" for k, v in self.params.items()) or _("default case")


@dataclass
class FunctionTests:
    """The cases of one graded function and the test cell that reports them."""

    function: str
    cell_id: str  # test_<function> or extra_<function>
    module: str  # the public test module, e.g. utils.public_tests.conv_step_by_step
    cases: list[Case]


def _short(value) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _literal(node: ast.expr):
    """A keyword value: a Python literal or np.<dtype name>."""
    if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
            and node.value.id == "np" and isinstance(getattr(np, node.attr, None), type)):
        return np.dtype(node.attr).name
    return ast.literal_eval(node)


def _module_of(source_nb: nbformat.NotebookNode) -> str:
    """The public test module the notebook imports as ``tests``."""
    for cell in source_nb.cells:
        if cell.cell_type != "code":
            continue
        for node in ast.walk(ast.parse(without_magics(cell.source))):
            if isinstance(node, ast.ImportFrom) and node.module == "utils.public_tests":
                for alias in node.names:
                    if alias.asname == "tests":
                        return f"utils.public_tests.{alias.name}"
    raise ValueError("the notebook does not import its public tests as `tests`")


def without_magics(code: str) -> str:
    """A cell's code with its IPython magics and shell lines blanked (same line numbers)."""
    return "\n".join("" if line.lstrip().startswith(("%", "!")) else line
                     for line in code.splitlines())


def parse_test_cell(source: str, function: str, where: str) -> list[Case]:
    """The cases of one test cell; ValueError naming ``where`` and the line otherwise."""
    cases, hidden_lines, inside = [], set(), False
    for number, line in enumerate(source.splitlines(), 1):
        if line.strip() == _HIDDEN:
            inside = True
        elif line.strip() == _HIDDEN_END:
            inside = False
        elif inside:
            hidden_lines.add(number)
    for statement in ast.parse(source).body:
        hidden = statement.lineno in hidden_lines
        problem = f"{where}, line {statement.lineno}"
        if not (isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Call)):
            raise ValueError(f"{problem}: only check calls and print() may stand in a test cell")
        call = statement.value
        if isinstance(call.func, ast.Name) and call.func.id == "print":
            continue
        if not (isinstance(call.func, ast.Attribute) and isinstance(call.func.value, ast.Name)
                and call.func.value.id == "tests"
                and call.func.attr == f"check_{function.lower()}"):
            raise ValueError(f"{problem}: expected tests.check_{function.lower()}(...)")
        if not (len(call.args) == 1 and isinstance(call.args[0], ast.Name)
                and call.args[0].id == function):
            raise ValueError(f"{problem}: the only positional argument must be {function}")
        if any(kw.arg is None for kw in call.keywords):
            raise ValueError(f"{problem}: **kwargs are not allowed")
        try:
            params = {kw.arg: _literal(kw.value) for kw in call.keywords}
        except ValueError as error:
            raise ValueError(f"{problem}: parameters must be literals ({error})") from None
        cases.append(Case(params, hidden))
    return cases


def fresh_seed(secret: str, function: str, number: int, what: str = "seed") -> int:
    """The seed of the hidden case ``number`` of ``function`` in the grading run ``secret``
    (``what``: another number drawn for the case, e.g. the factor of a parameter)."""
    text = f"{secret}\0{function}\0{number}" + ("" if what == "seed" else f"\0{what}")
    digest = hashlib.sha256(text.encode()).digest()
    return int.from_bytes(digest[:4], "big") % 2 ** 31


def _scaled(value, factor: float):
    """``value`` with each of its floats times ``factor`` (integers, booleans, strings kept)."""
    if isinstance(value, float):
        return round(value * factor, 6)
    if isinstance(value, list | tuple):
        return type(value)(_scaled(v, factor) for v in value)
    return value


def _fresh(case: Case, secret: str, function: str, number: int, varied: tuple) -> Case:
    """A hidden case with a fresh seed and fresh factors for its ``varied`` parameters."""
    params = dict(case.params)
    if "seed" in params:
        params["seed"] = fresh_seed(secret, function, number)
    for name in varied:
        if name in params:
            factor = 0.5 + 1.5 * fresh_seed(secret, function, number, name) / 2 ** 31
            params[name] = _scaled(params[name], factor)
    return replace(case, params=params)


def read(source_nb: nbformat.NotebookNode, secret: str | None = None) -> list[FunctionTests]:
    """The tests of every graded function of a source notebook, helpers before callers; with
    ``secret``, each hidden case gets a fresh seed and fresh factors (``_fresh``)."""
    from importlib import import_module

    module = _module_of(source_nb)
    checks = import_module(module).CHECKS
    found = {}
    for cell in source_nb.cells:
        info = cell.metadata.get("nbgrader", {})
        cell_id = info.get("grade_id", "")
        if not info.get("grade") or info.get("solution"):
            continue
        function = cell_id.removeprefix(REQUIRED_PREFIX).removeprefix(EXTRA_PREFIX)
        if function not in checks:
            raise ValueError(f"test cell {cell_id}: {module} has no check of {function}")
        cases = parse_test_cell(cell.source, function, f"test cell {cell_id}")
        if secret is not None:
            cases = [_fresh(c, secret, function, n, checks[function].varied) if c.hidden else c
                     for n, c in enumerate(cases)]
        found[function] = FunctionTests(function, cell_id, module, cases)
    order = TopologicalSorter({name: [h for h in checks[name].helpers if h in found]
                               for name in found})
    return [found[name] for name in order.static_order()]
