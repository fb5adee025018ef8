"""What is translated, one ``Unit`` per text, and how a translated code cell is compared.

A notebook's units: every markdown cell; every code cell that a student reads words in (its
comments and docstrings) except the test cells, which stay English so that the graded cells and
the hidden tests of both editions are the same; and the labels of the figures the notebook
shows (``tr("...")`` calls in the figure module of its folder, read without importing it).

A translated code cell may change its comments and docstrings only: ``code_tokens`` is the
cell's token stream without them (and without blank and continuation lines), and the two
editions' streams must be equal, so no name, number, string or operator can change.
"""

from __future__ import annotations

import ast
import io
import tokenize
from dataclasses import dataclass
from pathlib import Path

import nbformat

from course.assignments import REPO_ROOT, Assignment
from course.trusted.cases import without_magics

FIGURES_DIR = REPO_ROOT / "course" / "authoring" / "figures"
FIGURE_CONTEXT = "figure"  # msgctxt of a figure label
LABEL_FUNCTION = "tr"  # the figure modules' translatable labels: tr("...")
MARKER = "###"  # comments that are markers (### BEGIN SOLUTION, ### START CODE HERE ###): code


NOTES = {"markdown": "markdown cell",
         "code": "code cell: translate its comments and docstrings only",
         "figure": "figure label",
         "page": "paragraph (Markdown)"}


@dataclass(frozen=True)
class Unit:
    """One English text to translate: its context (the cell id, ``figure``, a page's name), the
    text, its kind (a key of ``NOTES``) and where it comes from."""

    context: str
    english: str
    kind: str
    location: tuple[str, int] | None = None

    @property
    def note(self) -> str:
        """What the translator is told beside the entry."""
        return NOTES[self.kind]


def _docstring_starts(source: str) -> set[tuple[int, int]]:
    """(line, column) where each docstring of the code starts (module, class, function)."""
    starts = set()
    for node in ast.walk(ast.parse(without_magics(source))):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            body = node.body
            if (body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant)
                    and isinstance(body[0].value.value, str)):
                starts.add((body[0].lineno, body[0].col_offset))
    return starts


def _tokens(source: str) -> list[tokenize.TokenInfo]:
    return list(tokenize.generate_tokens(io.StringIO(source).readline))


def code_tokens(source: str) -> list[tuple[str, str]]:
    """The cell's tokens as (type, text), without comments (markers stay: nbgrader reads them),
    blank and continuation lines; a docstring is the token ("DOCSTRING", "")."""
    docstrings = _docstring_starts(source)
    kept = []
    for token in _tokens(source):
        if token.type == tokenize.NL or (token.type == tokenize.COMMENT
                                         and not token.string.startswith(MARKER)):
            continue
        if token.type == tokenize.STRING and token.start in docstrings:
            kept.append(("DOCSTRING", ""))
        else:
            kept.append((tokenize.tok_name[token.type], token.string))
    return kept


def words_of_code(source: str) -> str:
    """The words a student reads in a code cell: its comments and docstrings, one a line."""
    docstrings = _docstring_starts(source)
    parts = []
    for token in _tokens(source):
        if token.type == tokenize.COMMENT and not token.string.startswith(MARKER):
            parts.append(token.string.lstrip("#").strip())
        elif token.type == tokenize.STRING and token.start in docstrings:
            parts.append(ast.literal_eval(token.string))
    return "\n".join(parts)


def is_test_cell(cell) -> bool:
    info = cell.metadata.get("nbgrader", {})
    return isinstance(info, dict) and bool(info.get("grade"))


def translatable(cell) -> bool:
    """Whether a cell has words to translate (see the module docstring)."""
    if cell.cell_type == "markdown":
        return bool(cell.source.strip())
    return cell.cell_type == "code" and not is_test_cell(cell) and bool(words_of_code(cell.source))


def cell_units(nb: nbformat.NotebookNode) -> list[Unit]:
    """The units of a notebook's cells, in order; ValueError when a translatable cell has no
    id or shares it with another."""
    units, seen = [], set()
    for index, cell in enumerate(nb.cells):
        if not translatable(cell):
            continue
        cell_id = cell.get("id")
        if not cell_id or cell_id in seen:
            raise ValueError(f"cell {index} has {'a duplicate' if cell_id else 'no'} id: a "
                             "translation is kept by cell id")
        seen.add(cell_id)
        units.append(Unit(cell_id, cell.source, cell.cell_type))
    return units


def figure_module(folder: str) -> Path | None:
    """The figure module that draws the figures of ``images/<folder>/`` (its ``FOLDER``)."""
    for path in sorted(FIGURES_DIR.glob("*.py")):
        for node in ast.parse(path.read_text()).body:
            if (isinstance(node, ast.Assign) and [getattr(t, "id", None) for t in node.targets]
                    == ["FOLDER"] and isinstance(node.value, ast.Constant)
                    and node.value.value == folder):
                return path
    return None


def figure_labels(path: Path) -> list[tuple[str, int]]:
    """(label, line) of every ``tr("...")`` call of a figure module, once each, in order;
    ValueError for a call whose argument is not one plain string."""
    labels: dict[str, int] = {}
    for node in ast.walk(ast.parse(path.read_text())):
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
                and node.func.id == LABEL_FUNCTION):
            if len(node.args) != 1 or not (isinstance(node.args[0], ast.Constant)
                                           and isinstance(node.args[0].value, str)):
                raise ValueError(f"{path.name}:{node.lineno}: {LABEL_FUNCTION}() takes one "
                                 "plain string (use .format() for the numbers)")
            labels.setdefault(node.args[0].value, node.lineno)
    return sorted(labels.items(), key=lambda item: item[1])


def figure_units(assignment: Assignment) -> list[Unit]:
    """The labels of the figures of ``images/<notebook name>/``."""
    module = figure_module(Path(assignment.notebook).stem)
    if module is None:
        return []
    where = module.relative_to(REPO_ROOT).as_posix()
    return [Unit(FIGURE_CONTEXT, label, "figure", (where, line))
            for label, line in figure_labels(module)]


def notebook_units(assignment: Assignment) -> list[Unit]:
    """Every unit of an assignment: its source notebook's cells, then its figure labels."""
    nb = nbformat.read(assignment.source_notebook, as_version=4)
    return cell_units(nb) + figure_units(assignment)
