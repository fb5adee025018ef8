"""Static HTML pages of the course, for browsing.

``build_student_site(out)``: the student notebooks of ``notebooks/`` as HTML pages
(``out/notebooks/<id>.html``) with the course figures (``out/images/``, the same relative links
as in the repository) and their expected outputs, plus ``out/index.html``. Nothing in it comes
from the source notebooks: no solutions, no hidden tests.

``build_instructor_site(out)``: the reference solutions, executed (fast mode), with their
outputs and hidden tests, as HTML pages and an index. It is meant for instructors only and is
written to its own folder, never inside a student site.
"""

from __future__ import annotations

import html
import os
import shutil
from pathlib import Path

import nbformat
from nbconvert import HTMLExporter

from utils.course import assignments
from utils.course.assignments import REPO_ROOT
from utils.course.execution import execute_notebook

FIGURES = REPO_ROOT / "images" / "conv_step_by_step"  # the committed figures of the notebooks


def _page(nb: nbformat.NotebookNode, title: str) -> str:
    exporter = HTMLExporter(template_name="lab")
    body, _ = exporter.from_notebook_node(nb, resources={"metadata": {"name": title}})
    return body


def _index(title: str, intro: str, links: list[tuple[str, str, str]]) -> str:
    items = "\n".join(f'<li><a href="{href}">{html.escape(name)}</a> ({html.escape(what)})</li>'
                      for href, name, what in links)
    return (f"<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>{html.escape(title)}"
            f"</title></head>\n<body><h1>{html.escape(title)}</h1>\n<p>{html.escape(intro)}</p>\n"
            f"<ol>\n{items}\n</ol>\n</body></html>\n")


def build_student_site(out: Path) -> list[Path]:
    """Write the student site into ``out`` (emptied first); return the pages written."""
    out = Path(out)
    if out.exists():
        shutil.rmtree(out)
    (out / "notebooks").mkdir(parents=True)
    shutil.copytree(FIGURES, out / "images" / FIGURES.name)
    pages, links = [], []
    for a in assignments.available():
        nb = nbformat.read(a.student_notebook, as_version=4)
        page = out / "notebooks" / f"{a.id}.html"
        page.write_text(_page(nb, a.title))
        pages.append(page)
        links.append((f"notebooks/{a.id}.html", a.title, a.id))
    index = out / "index.html"
    index.write_text(_index("cnn-course: convolutional networks in six graded notebooks",
                            "The student notebooks, with their figures and expected outputs.",
                            links))
    return [index, *pages]


def build_instructor_site(out: Path, assignment_ids: list[str] | None = None) -> list[Path]:
    """Execute the reference solutions (fast mode) of every assignment, or of those named, and
    write their HTML pages into ``out`` (emptied first); return the pages written."""
    out = Path(out)
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    os.environ.setdefault("CNN_COURSE_FAST", "1")
    pages, links = [], []
    for a in assignments.available():
        if assignment_ids is not None and a.id not in assignment_ids:
            continue
        nb = nbformat.read(a.source_notebook, as_version=4)
        executed = execute_notebook(nb, a.source_notebook.parent)
        page = out / f"{a.id}.html"
        page.write_text(_page(executed, f"{a.title} (reference solution)"))
        pages.append(page)
        links.append((f"{a.id}.html", a.title, "reference solution, executed, hidden tests shown"))
    index = out / "index.html"
    index.write_text(_index("cnn-course: reference solutions (instructors only)",
                            "Executed source notebooks with solutions and hidden tests. "
                            "Do not publish.", links))
    return [index, *pages]
