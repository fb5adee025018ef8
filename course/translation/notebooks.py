"""The Chinese source notebook of an assignment: its English source with every translated text
put in, generated (never edited) and released like the English one.

A text whose translation is missing or fuzzy stays English (gettext's rule), so that a change
of the English never stops the release; ``python -m course translations --check`` and the
tests name such texts. Figure links point to the Chinese figure (``images/zh/...``) where one
is drawn. The notebook's metadata says ``"language": "zh_CN"``: the grader sanitizes such a
submission against the Chinese release, and grades it in Chinese. Its imports cell (locked, so
that the grader restores it) says so to the kernel too (``speaking_chinese``): a kernel cannot
read its notebook's metadata, and the public tests' messages are in the language it is told
(``utils.i18n``).
"""

from __future__ import annotations

import re
from pathlib import Path

import nbformat

from course.assignments import REPO_ROOT, SOURCE_IMAGE_PREFIX, Assignment
from course.translation import FOLDER, LANGUAGE, NOTEBOOK_CATALOGUES, catalogues
from course.translation.units import FIGURE_CONTEXT, translatable

# The imports cell's line that every notebook has, after which the Chinese one sets its language
TESTS_IMPORT = re.compile(r"^from utils\.public_tests import \w+ as tests\n", re.M)
LANGUAGE_CALL = ("from utils.i18n import set_notebook_language\n"
                 f'set_notebook_language("{LANGUAGE}")\n')


def catalogue(assignment: Assignment) -> Path:
    """The assignment's catalogue, ``locale/zh_CN/notebooks/<id>.po``."""
    return NOTEBOOK_CATALOGUES / f"{assignment.id}.po"


def translated(assignments: list[Assignment]) -> list[Assignment]:
    """The assignments that have a catalogue: the Chinese edition's notebooks."""
    return [a for a in assignments if catalogue(a).is_file()]


def is_chinese(nb: nbformat.NotebookNode) -> bool:
    """Whether a notebook (a submission) says it is the Chinese edition."""
    return nb.metadata.get("language") == LANGUAGE


def chinese_figure(link: str) -> str:
    """``link`` (a path under images/) or the path of its Chinese version when there is one."""
    return f"{FOLDER}/{link}" if (REPO_ROOT / "images" / FOLDER / link).is_file() else link


def _localise_figures(markdown: str) -> str:
    parts = markdown.split(SOURCE_IMAGE_PREFIX)
    for index in range(1, len(parts)):
        link, closing, rest = parts[index].partition(")")
        parts[index] = chinese_figure(link) + closing + rest
    return SOURCE_IMAGE_PREFIX.join(parts)


def is_imports_cell(cell) -> bool:
    """Whether a cell is a notebook's imports cell, the one that imports its public tests."""
    return cell.cell_type == "code" and bool(TESTS_IMPORT.search(cell.source))


def speaking_chinese(source: str) -> str:
    """An imports cell's code, with ``LANGUAGE_CALL`` after its import of the public tests."""
    end = TESTS_IMPORT.search(source).end()
    return source[:end] + LANGUAGE_CALL + source[end:]


def without_language_call(source: str) -> str:
    """An imports cell's code as the English notebook has it (``speaking_chinese`` undone)."""
    return source.replace(LANGUAGE_CALL, "", 1)


def chinese_source(assignment: Assignment) -> nbformat.NotebookNode:
    """The Chinese source notebook of a translated assignment (see the module docstring)."""
    nb = nbformat.read(assignment.source_notebook, as_version=4)
    done = catalogues.translations(catalogue(assignment))
    imports = [cell for cell in nb.cells if is_imports_cell(cell)]
    if len(imports) != 1:
        raise ValueError(f"{assignment.source_notebook.name} has {len(imports)} cells that import "
                         "its public tests; the Chinese notebook sets its language in the one")
    for cell in nb.cells:
        if translatable(cell):
            cell.source = done.get((cell.get("id"), cell.source), cell.source)
        if cell.cell_type == "markdown":
            cell.source = _localise_figures(cell.source)
    imports[0].source = speaking_chinese(imports[0].source)
    nb.metadata["language"] = LANGUAGE
    return nb


def figure_labels(assignments: list[Assignment]) -> dict[str, dict[str, str]]:
    """{figure folder: {English label: Chinese}} of the translated assignments."""
    return {Path(a.notebook).stem: {english: chinese for (context, english), chinese
                                    in catalogues.translations(catalogue(a)).items()
                                    if context == FIGURE_CONTEXT}
            for a in translated(assignments)}
