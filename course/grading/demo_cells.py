"""Demonstration cells: what the notebook shows, which grading never runs.

A source notebook tags each demonstration cell ``demo`` (``metadata.tags``) and makes it a locked
nbgrader cell with a grade id ``demo_<n>``, so the release keeps the tag, the student's JupyterLab
shows it read-only, and autograde restores it from the gradebook. The grader runs the imports,
the setup cells, the answer cells and whatever cells the student added, never a cell whose grade
id is a demonstration's in the source notebook (``demo_ids``); the feedback shows each skipped
cell with a note.

Skipping is safe only when nothing graded needs a demonstration: ``problems`` reads a source
notebook and names every non-demo cell (answers and their functions' bodies included) that reads
a name only a demonstration defines, and every cell that calls a graded function for show
without being a demonstration.
"""

from __future__ import annotations

import ast
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import nbformat

DEMO_TAG = "demo"
DEMO_PREFIX = "demo_"


def is_demo(cell) -> bool:
    """Whether ``cell`` (a notebook's cell, or the same as plain JSON data) is a
    demonstration."""
    return cell["cell_type"] == "code" and DEMO_TAG in cell["metadata"].get("tags", [])


def demo_ids(source_nb: nbformat.NotebookNode) -> set[str]:
    """The grade ids of a source notebook's demonstration cells."""
    return {cell.metadata["nbgrader"]["grade_id"] for cell in source_nb.cells if is_demo(cell)}


def _code(source: str) -> ast.Module:
    """A cell's code without its magics and shell lines."""
    return ast.parse("\n".join("" if line.lstrip().startswith(("%", "!")) else line
                               for line in source.splitlines()))


def defined(tree: ast.AST) -> set[str]:
    """The global names a cell binds: assignments, imports, functions and classes at its top
    level (inside if, for, with and try blocks too), not those local to its functions."""
    names: set[str] = set()

    def visit(node):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
            return
        if isinstance(node, ast.Lambda):
            return
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update((a.asname or a.name).split(".")[0] for a in node.names)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
        elif isinstance(node, ast.ExceptHandler) and node.name:
            names.add(node.name)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return names


def read(tree: ast.AST) -> set[str]:
    """The global names a cell reads, in its top-level code and in the bodies of its functions
    (a name a function binds or takes as an argument is its own)."""
    names: set[str] = set()

    def visit(node, local: frozenset):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            for default in node.args.defaults + node.args.kw_defaults:
                if default is not None:
                    visit(default, local)
            if not isinstance(node, ast.Lambda):
                for decorator in node.decorator_list:
                    visit(decorator, local)
            arguments = {a.arg for a in ast.walk(node.args) if isinstance(a, ast.arg)}
            body = node.body if isinstance(node.body, list) else [node.body]
            own = arguments | {n for b in body for n in defined_locally(b)}
            for statement in body:
                visit(statement, local | own)
            return
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load) and node.id not in local:
            names.add(node.id)
        for child in ast.iter_child_nodes(node):
            visit(child, local)

    visit(tree, frozenset())
    return names


def names_read(cell) -> set[str]:
    """The global names a code cell reads (``read``)."""
    return read(_code(cell.source))


def defined_locally(node: ast.AST) -> set[str]:
    """The names a statement of a function's body binds (its nested functions' locals aside)."""
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return {node.name}
    names = {n.id for n in ast.walk(node) if isinstance(n, ast.Name)
             and isinstance(n.ctx, ast.Store)}
    names |= {(a.asname or a.name).split(".")[0] for n in ast.walk(node)
              if isinstance(n, (ast.Import, ast.ImportFrom)) for a in n.names}
    return names


def problems(source_nb: nbformat.NotebookNode, checks: dict) -> list[str]:
    """Why skipping this notebook's demonstrations could change a grade (module docstring).

    ``checks`` is the notebook's {function: GradedFunction}: an answer may read the names its
    test replaces while it runs (``GradedFunction.stand_ins``)."""
    by_demos: set[str] = set()
    by_others: set[str] = set()
    cells = []
    for index, cell in enumerate(source_nb.cells):
        if cell.cell_type != "code":
            continue
        tree = _code(cell.source)
        cells.append((index, cell, tree))
        (by_demos if is_demo(cell) else by_others).update(defined(tree))
    only_in_demos = by_demos - by_others
    found = []
    for index, cell, tree in cells:
        info = cell.metadata.get("nbgrader", {})
        where = f"cell {index} ({info.get('grade_id', 'no grade id')})"
        if is_demo(cell):
            if not (info.get("locked") and str(info.get("grade_id", "")).startswith(DEMO_PREFIX)
                    and not info.get("solution") and not info.get("grade")):
                found.append(f"{where}: a demonstration must be a locked cell with a grade id "
                             f"{DEMO_PREFIX}<n>")
            continue
        graded = checks.get(info.get("grade_id")) if info.get("solution") else None
        needed = sorted(read(tree) & only_in_demos - set(getattr(graded, "stand_ins", ())))
        if needed:
            found.append(f"{where} reads {', '.join(needed)}, which only demonstrations define")
        shown = sorted(_called(tree) & set(checks))
        if shown and not info.get("grade") and not info.get("solution"):
            found.append(f"{where} calls {', '.join(shown)} for show: tag it {DEMO_TAG}")
    return found


def _called(tree: ast.AST) -> set[str]:
    """The names a cell's top-level code calls (not the bodies of the functions it defines)."""
    names: set[str] = set()

    def visit(node):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            return
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            names.add(node.func.id)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return names

