"""The course site: the notebooks as a book of HTML pages, built with Sphinx and MyST-NB.

``build_student_site(out)``: a landing page (what the course is, how to start as a student and
as an instructor, one card per assignment with its figure) and one page per student notebook of
``notebooks/``, as released: explanations, code with the graded functions still stubs, and under
the demonstration cells the outputs that the reference solution produces (figures, printed
results, detection pictures, training curves). The outputs come from executing the reference
solutions (fast mode) and are copied onto the student notebook's demonstration cells only:
answer cells and test cells keep no outputs, so no solution and no hidden test reaches the site.

The student site is built in both languages: English at the root, the Chinese edition under
``zh/`` (the Chinese student notebooks of the translated assignments, with the same reference
outputs: their code is the English code, ``course.translation``), each page with a link to the
same page, and section, in the other language (``site/_static/languages.js``), and search in
Chinese (Sphinx's Chinese search splits words with jieba).

``build_instructor_site(out)``: the reference solutions, executed (fast mode), with their
outputs and hidden tests, marked "instructors only" on every page. It is written to its own
folder, never inside a student site.

Both are Sphinx builds (the book theme: table of contents, previous/next, full-text search) of a
staging folder made from ``site/`` (``conf.py``, the landing page, the style sheet). MathJax is
installed from the npm registry with ``npm ci`` (``site/package-lock.json``) and served from the
site itself, so the pages need no internet.
"""

from __future__ import annotations

import base64
import filecmp
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import nbformat

from course import assignments
from course.assignments import REPO_ROOT
from course.authoring.release import CHINESE_STUDENT_IMAGE_PREFIX, STUDENT_IMAGE_PREFIX
from course.execution import execute_notebook
from course.translation import FOLDER, LANGUAGE, pages
from course.translation.notebooks import translated, without_language_call
from course.translation.units import code_tokens

SITE_DIR = REPO_ROOT / "site"  # conf.py, index.md, _static/, package.json, package-lock.json
NPM_DIR = REPO_ROOT / "build" / "npm"  # where `npm ci` installs MathJax, reused between builds

# Markdown and HTML image references of markdown cells: ![alt](path "title") and <img src="path">.
IMAGE_LINK = re.compile(r"!\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)"
                        r"|<img\s[^>]*?src=[\"']([^\"']+)[\"']")

class NpmMissing(RuntimeError):
    """MathJax is not installed yet and npm, which installs it, is not there."""


INSTRUCTOR_INDEX = """# Reference solutions (instructors only)

**Do not publish.** These pages are the course's source notebooks, executed in fast mode: the
reference solutions of every graded function and the hidden tests of every test cell, with their
outputs. Students get the separate student site (`python -m course site`), which has
neither.
"""
INSTRUCTOR_BANNER = "Instructors only: reference solutions and hidden tests. Do not publish."


def cell_kind(cell: nbformat.NotebookNode) -> str:
    """"answer" (an nbgrader solution cell), "test" (a graded test cell) or "demo" (any other
    code cell: the notebook's demonstrations) for a code cell; "markdown" otherwise."""
    if cell.cell_type != "code":
        return "markdown"
    meta = cell.metadata.get("nbgrader", {})
    if meta.get("solution"):
        return "answer"
    if meta.get("grade"):
        return "test"
    return "demo"


def with_reference_outputs(student: nbformat.NotebookNode,
                           executed_source: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """A copy of the student notebook whose demonstration cells carry the outputs of the executed
    reference solution; answer and test cells carry none.

    The two notebooks must have the same cells in the same order: every demonstration cell must
    match its source cell by id and by code (its comments and docstrings may be translated, and a
    Chinese imports cell sets its language).
    ValueError names the first cell that does not.
    """
    result = nbformat.from_dict(student)
    if len(result.cells) != len(executed_source.cells):
        raise ValueError(f"the student notebook has {len(result.cells)} cells, "
                         f"the source notebook {len(executed_source.cells)}")
    for index, (cell, source) in enumerate(zip(result.cells, executed_source.cells)):
        kind = cell_kind(cell)
        if kind == "markdown":
            continue
        cell.outputs, cell.execution_count = [], None
        if kind != "demo":
            continue
        if (cell.get("id") != source.get("id") or cell_kind(source) != "demo"
                or code_tokens(without_language_call(cell.source)) != code_tokens(source.source)):
            raise ValueError(f"cell {index} ({cell.get('id')}) of the student notebook does not "
                             "match the source notebook's cell")
        cell.outputs = source.outputs
        cell.execution_count = source.execution_count
    return result


def markdown_images(nb: nbformat.NotebookNode) -> list[str]:
    """The local image paths that the notebook's markdown cells link to, in order, once each."""
    found = []
    for cell in nb.cells:
        if cell.cell_type != "markdown":
            continue
        for match in IMAGE_LINK.finditer(cell.source):
            link = match.group(1) or match.group(2)
            if not link.startswith(("http://", "https://", "data:", "attachment:")) \
                    and link not in found:
                found.append(link)
    return found


def install_mathjax(static: Path) -> Path:
    """Install MathJax with ``npm ci`` (the version of ``site/package-lock.json``, once, into
    build/npm/) and copy its browser files to ``static/mathjax``; return that folder."""
    installed = NPM_DIR / "node_modules" / "mathjax" / "es5" / "tex-chtml.js"
    lock = NPM_DIR / "package-lock.json"
    if not (installed.is_file() and lock.is_file()
            and filecmp.cmp(lock, SITE_DIR / "package-lock.json", shallow=False)):
        npm = shutil.which("npm")
        if npm is None:
            raise NpmMissing("the site serves MathJax from its npm package, and npm is not "
                             "installed (Debian: apt-get install npm)")
        NPM_DIR.mkdir(parents=True, exist_ok=True)
        for name in ("package.json", "package-lock.json"):
            shutil.copy(SITE_DIR / name, NPM_DIR / name)
        result = subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=NPM_DIR,
                                capture_output=True, text=True)
        if result.returncode != 0:
            raise RuntimeError(f"`npm ci` failed in {NPM_DIR}:\n{result.stdout}\n{result.stderr}")
    target = static / "mathjax"
    shutil.copytree(installed.parent, target)
    return target


def _first_figure(nb: nbformat.NotebookNode) -> bytes | None:
    """The first PNG output of a demonstration cell, if any."""
    for cell in nb.cells:
        if cell_kind(cell) == "demo":
            for output in cell.get("outputs", []):
                png = output.get("data", {}).get("image/png")
                if png:
                    return base64.b64decode(png)
    return None


def _graded_functions(nb: nbformat.NotebookNode) -> list[str]:
    """The names of the notebook's graded functions (its answer cells' grade ids), in order."""
    return [cell.metadata["nbgrader"]["grade_id"] for cell in nb.cells
            if cell_kind(cell) == "answer"]


def _english(words: str, context: str = pages.SITE) -> str:
    return words


def _chinese(words: str, context: str = pages.SITE) -> str:
    return pages.words(words, context)


def _card(assignment: assignments.Assignment, doc: str, figure: str | None,
          nb: nbformat.NotebookNode, say: Callable = _english) -> str:
    """The landing page's card of one assignment (sphinx-design): title, figure, id and graded
    functions, linking to its page; ``say`` gives the site's words in the page's language."""
    functions = ", ".join(f"`{name}`" for name in _graded_functions(nb))
    title = say(assignment.title, pages.TITLES)
    alt = say("a figure of {title}").format(title=title)
    image = f":img-top: {figure}\n:img-alt: {alt}\n" if figure else ""
    graded = say("Graded functions: {functions}").format(functions=functions)
    return (f":::{{grid-item-card}} {title}\n:link: {doc}\n:link-type: doc\n{image}\n"
            f"`{assignment.id}`\n\n{graded}\n:::\n")


def _stage(stage: Path, notebooks: list[tuple[assignments.Assignment, Path,
                                              nbformat.NotebookNode]], index_text: str,
           say: Callable = _english) -> None:
    """Fill ``stage`` with the Sphinx sources: site/, each notebook at its path relative to the
    repository with the figures it links to, the card figures, MathJax, and the landing page
    (``index_text``, then the cards and the table of contents, in ``say``'s words)."""
    shutil.copytree(SITE_DIR, stage, ignore=shutil.ignore_patterns("index.md", "package*.json",
                                                                   "__pycache__"))
    install_mathjax(stage / "_static")
    cards, docs = [], []
    for assignment, path, nb in notebooks:
        relative = path.relative_to(REPO_ROOT)
        (stage / relative).parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, stage / relative)
        for link in markdown_images(nb):
            image = (path.parent / link).resolve()
            if not image.is_file():
                raise FileNotFoundError(f"{relative} shows the figure {link}, which does not exist")
            (stage / image.relative_to(REPO_ROOT)).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(image, stage / image.relative_to(REPO_ROOT))
        doc = relative.with_suffix("").as_posix()
        docs.append(doc)
        figure, png = None, _first_figure(nb)
        if png is not None:
            figure = f"_cards/{assignment.id}.png"
            (stage / "_cards").mkdir(exist_ok=True)
            (stage / figure).write_bytes(png)
        elif markdown_images(nb):
            figure = (relative.parent / markdown_images(nb)[0]).as_posix()
        cards.append(_card(assignment, doc, figure, nb, say))
    toctree = "\n".join(docs)
    (stage / "index.md").write_text(
        f"{index_text}\n::::{{grid}} 1 2 2 2\n:gutter: 3\n\n{''.join(cards)}::::\n\n"
        f"```{{toctree}}\n:hidden:\n:caption: {say('Assignments')}\n\n{toctree}\n```\n")


def _build(stage: Path, out: Path, project: str, banner: str | None = None) -> None:
    """Run Sphinx's HTML builder on ``stage`` into ``out`` (in its own process, quiet: only
    warnings are printed); CalledProcessError when it fails."""
    overrides = ["-D", f"project={project}", "-D", f"html_title={project}", "-D",
                 f"copyright={project}"]
    if banner:
        overrides += ["-D", f"html_theme_options.announcement={banner}"]
    subprocess.run([sys.executable, "-m", "sphinx", "-b", "html", "-q", "-E", "-d",
                    str(stage / "_doctrees"), *overrides, str(stage), str(out)], check=True)


def _pages(out: Path, notebooks) -> list[Path]:
    return [out / "index.html", *(out / path.relative_to(REPO_ROOT).with_suffix(".html")
                                  for _, path, _ in notebooks)]


def _selected(assignment_ids: list[str] | None) -> list[assignments.Assignment]:
    return [a for a in assignments.available() if assignment_ids is None or a.id in assignment_ids]


def execute_reference(assignment: assignments.Assignment) -> nbformat.NotebookNode:
    """The source notebook of ``assignment`` (reference solution, hidden tests), executed in fast
    mode unless CNN_COURSE_FAST says otherwise."""
    os.environ.setdefault("CNN_COURSE_FAST", "1")
    source = nbformat.read(assignment.source_notebook, as_version=4)
    return execute_notebook(source, assignment.source_notebook.parent, hidden_answers=True)


def _fresh(out: Path) -> Path:
    out = Path(out).resolve()
    if out.exists():
        shutil.rmtree(out)
    return out


def _chinese_page(assignment: assignments.Assignment) -> nbformat.NotebookNode:
    """The Chinese student notebook with its figure links rebased from notebooks/zh/ to
    notebooks/, where the Chinese site keeps it (the same page path as the English site's)."""
    nb = nbformat.read(assignment.chinese_student_notebook, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            cell.source = cell.source.replace(CHINESE_STUDENT_IMAGE_PREFIX, STUDENT_IMAGE_PREFIX)
    return nb


def _doc(path: Path) -> str:
    return path.relative_to(REPO_ROOT).with_suffix("").as_posix()


def _languages(stage: Path, language: str, other: dict) -> None:
    """Tell site/conf.py the page's language and where the other language's pages are
    (``_languages.json``: its prefix from this site's root, label, language tag, documents)."""
    (stage / "_languages.json").write_text(json.dumps({"language": language, "other": other},
                                                      ensure_ascii=False))


def build_student_site(out: Path, assignment_ids: list[str] | None = None,
                       executed: dict[str, nbformat.NotebookNode] | None = None,
                       timings: dict[str, float] | None = None) -> list[Path]:
    """Execute the reference solutions (fast mode; ``executed`` gives those already executed by
    ``execute_reference``, by assignment id), put their demonstration outputs on the student
    notebooks and build the student site into ``out`` (emptied first) and its Chinese edition
    into ``out/zh/``, for every assignment or those named; return the landing page and the
    assignment pages of the English site. ``timings`` gets the seconds of the execution and of
    each language's build."""
    out = _fresh(out)
    executed, timings = dict(executed or {}), timings if timings is not None else {}
    started = time.perf_counter()
    notebooks = []
    for assignment in _selected(assignment_ids):
        student = nbformat.read(assignment.student_notebook, as_version=4)
        executed[assignment.id] = executed.get(assignment.id) or execute_reference(assignment)
        notebooks.append((assignment, assignment.student_notebook,
                          with_reference_outputs(student, executed[assignment.id])))
    chinese = [(a, a.student_notebook, with_reference_outputs(_chinese_page(a), executed[a.id]))
               for a in translated(_selected(assignment_ids))]
    timings["execution"] = time.perf_counter() - started
    with tempfile.TemporaryDirectory() as scratch:
        started = time.perf_counter()
        stage = Path(scratch) / "en"
        _stage(stage, notebooks, (SITE_DIR / "index.md").read_text())
        _languages(stage, "en", {"prefix": f"{FOLDER}/", "label": "中文", "lang": "zh-CN",
                                 "docs": ["index", *(_doc(p) for _, p, _ in chinese)]})
        _build(stage, out, "Convolutional networks")
        timings["en"] = time.perf_counter() - started
        started = time.perf_counter()
        stage = Path(scratch) / FOLDER
        _stage(stage, chinese, pages.translate((SITE_DIR / "index.md").read_text(),
                                               pages.LANDING), _chinese)
        _languages(stage, LANGUAGE, {"prefix": "../", "label": "English", "lang": "en",
                                     "docs": ["index", *(_doc(p) for _, p, _ in notebooks)]})
        _build(stage, out / FOLDER, _chinese("Convolutional networks"))
        timings[FOLDER] = time.perf_counter() - started
    return _pages(out, notebooks)


def build_instructor_site(out: Path, assignment_ids: list[str] | None = None) -> list[Path]:
    """Execute the reference solutions (fast mode) of every assignment, or of those named, and
    build them, hidden tests included, into ``out`` (emptied first), every page marked
    "instructors only"; return the landing page and the assignment pages."""
    out = _fresh(out)
    notebooks = [(a, a.source_notebook, execute_reference(a)) for a in _selected(assignment_ids)]
    with tempfile.TemporaryDirectory() as scratch:
        stage = Path(scratch) / "src"
        _stage(stage, notebooks, INSTRUCTOR_INDEX)
        _build(stage, out, "Reference solutions (instructors only)", INSTRUCTOR_BANNER)
    return _pages(out, notebooks)
