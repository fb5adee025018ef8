"""The test cases of each graded function, read from the source notebook without running it.

A test cell of a source notebook holds only statements of these forms (comments aside):

    tests.check_<function>(<function>, key=value, ...)   # one case; values are literals
    print("...")                                         # a message for the student

with the hidden cases between ``### BEGIN HIDDEN TESTS`` and ``### END HIDDEN TESTS``.
Values are Python literals, or ``np.<dtype name>`` for a numpy dtype. Anything else is an
error here, so a test cell cannot hold a check the grader would not run.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from graphlib import TopologicalSorter

import nbformat
import numpy as np

from utils.course.grading import EXTRA_PREFIX, REQUIRED_PREFIX

_HIDDEN = "### BEGIN HIDDEN TESTS"
_HIDDEN_END = "### END HIDDEN TESTS"


@dataclass(frozen=True)
class Case:
    """One call of a check: the case's parameters, and whether students see it."""

    params: dict = field(hash=False)
    hidden: bool

    def describe(self) -> str:
        return ", ".join(f"{k}={_short(v)}" for k, v in self.params.items()) or "default case"


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
        for node in ast.walk(ast.parse(_without_magics(cell.source))):
            if isinstance(node, ast.ImportFrom) and node.module == "utils.public_tests":
                for alias in node.names:
                    if alias.asname == "tests":
                        return f"utils.public_tests.{alias.name}"
    raise ValueError("the notebook does not import its public tests as `tests`")


def _without_magics(code: str) -> str:
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


def read(source_nb: nbformat.NotebookNode) -> list[FunctionTests]:
    """The tests of every graded function of a source notebook, helpers before callers."""
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
        found[function] = FunctionTests(function, cell_id, module,
                                        parse_test_cell(cell.source, function,
                                                        f"test cell {cell_id}"))
    order = TopologicalSorter({name: [h for h in checks[name].helpers if h in found]
                               for name in found})
    return [found[name] for name in order.static_order()]
