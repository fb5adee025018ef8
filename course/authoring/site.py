"""The course site: the notebooks as a book of HTML pages, built with Sphinx and MyST-NB.

``build_student_site(out)``: a landing page (what the course is, how to start as a student and
as an instructor, one card per assignment with its figure) and one page per student notebook of
``notebooks/``, as released: explanations, code with the graded functions still stubs, and under
the demonstration cells the outputs that the reference solution produces (figures, printed
results, detection pictures, training curves, the painting). The outputs come from the stored
full-mode executions of the reference solutions (``course/authoring/executions.py``; the build
runs no notebook and refuses a stale execution) and are copied onto the student notebook's
demonstration cells only: answer cells and test cells keep no outputs, so no solution and no
hidden test reaches the site. Each page says when and in which mode its outputs were computed;
outputs read as on a terminal, and an "Expected output" block that repeats the output above it
is left out (``readable_outputs``). The landing page shows the student README's own set-up and
work sections.

The student site is built in both languages: English at the root, the Chinese edition under
``zh/`` (the Chinese student notebooks of the translated assignments, with the same reference
outputs: their code is the English code, ``course.translation``), each page with a link to the
same page, and section, in the other language (``site/_static/languages.js``), and search in
Chinese (Sphinx's Chinese search splits words with jieba).

``build_instructor_site(out)``: the reference solutions with their stored outputs and hidden
tests, marked "instructors only" on every page. It is written to its own folder, never inside a
student site.

Both are Sphinx builds (the book theme: table of contents, previous/next, full-text search) of a
staging folder made from ``site/`` (``conf.py``, the landing page, the style sheet). MathJax is
installed from the npm registry with ``npm ci`` (``site/package-lock.json``) and served from the
site itself, so the pages need no internet.
"""

from __future__ import annotations

import base64
import filecmp
import json
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
from course.authoring import executions, student_release
from course.authoring.readable_outputs import readable, without_repeated_expected_outputs
from course.authoring.release import CHINESE_STUDENT_IMAGE_PREFIX, STUDENT_IMAGE_PREFIX
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

**Do not publish.** These pages are the course's source notebooks, executed: the reference
solutions of every graded function and the hidden tests of every test cell, with their outputs.
Students get the separate student site (`python -m course site`), which has neither.
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


def _english(words: str, context: str = pages.SITE) -> str:
    return words


def _chinese(words: str, context: str = pages.SITE) -> str:
    return pages.words(words, context)


def with_reference_outputs(nb: nbformat.NotebookNode, executed_source: nbformat.NotebookNode,
                           kinds: tuple[str, ...] = ("demo",)) -> nbformat.NotebookNode:
    """A copy of the notebook ``nb`` (a student notebook, English or Chinese, or the source
    notebook itself) whose code cells of ``kinds`` (``cell_kind``) carry the outputs of the
    executed source notebook; its other code cells carry none.

    The code cells of the two notebooks are paired in order, and each cell that gets outputs
    must match its executed cell by id and by code (its comments and docstrings may be
    translated, and a Chinese imports cell sets its language): ValueError names the first that
    does not.
    """
    result = nbformat.from_dict(nb)
    executed = [cell for cell in executed_source.cells if cell.cell_type == "code"]
    code = [cell for cell in result.cells if cell.cell_type == "code"]
    if len(code) != len(executed):
        raise ValueError(f"the notebook has {len(code)} code cells, the executed source "
                         f"notebook {len(executed)}")
    pairs = iter(executed)
    for index, cell in enumerate(result.cells):
        if cell.cell_type != "code":
            continue
        source = next(pairs)
        cell.outputs, cell.execution_count = [], None
        if cell_kind(cell) not in kinds:
            continue
        if (cell.get("id") != source.get("id") or cell_kind(source) != cell_kind(cell)
                or code_tokens(without_language_call(cell.source))
                != code_tokens(source.source)):
            raise ValueError(f"cell {index} ({cell.get('id')}) of the notebook does not match "
                             "the executed source notebook's cell")
        cell.outputs = source.outputs
        cell.execution_count = source.execution_count
    return result


def execution_note(execution: executions.Execution, say: Callable = _english) -> str:
    """The note under a page's title: when, in which mode and with which versions its outputs
    were computed, in ``say``'s words."""
    mode = say("fast mode (`CNN_COURSE_FAST=1`: less training, smaller images)" if execution.fast
               else "full mode (the notebook's own settings: full training, full-size images)")
    took = (say("{seconds} seconds").format(seconds=round(execution.minutes * 60))
            if execution.minutes < 1
            else say("{minutes} minutes").format(minutes=f"{execution.minutes:g}"))
    text = say("The outputs on this page are those of the reference solution, computed on {date} "
               "in {mode}, with TensorFlow {tensorflow} and Keras {keras}; the notebook ran from "
               "the top in {took}.").format(
        date=execution.date, mode=mode, tensorflow=execution.versions["tensorflow"],
        keras=execution.versions["keras"], took=took)
    return f":::{{note}}\n{text}\n:::\n"


def page(nb: nbformat.NotebookNode, executed_source: nbformat.NotebookNode,
         kinds: tuple[str, ...] = ("demo",), say: Callable = _english) -> nbformat.NotebookNode:
    """The notebook as its page shows it: the stored outputs on the cells of ``kinds``, read as
    on a terminal, no expected-output block that repeats the output above it, and the note of
    when and how the outputs were computed under the title, in ``say``'s words."""
    result = with_reference_outputs(nb, executed_source, kinds)
    for cell in result.cells:
        if cell.cell_type == "code":
            readable(cell)
    without_repeated_expected_outputs(result)
    title = result.cells[0]
    heading, _, rest = title.source.partition("\n")
    note = execution_note(executions.execution(executed_source), say)
    title.source = "\n\n".join([heading, note, rest.lstrip("\n")])
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


def _first_figure(nb: nbformat.NotebookNode) -> tuple[bytes, str] | None:
    """The first image output of a demonstration cell, if any: (its bytes, its file suffix)."""
    for cell in nb.cells:
        if cell_kind(cell) == "demo":
            for output in cell.get("outputs", []):
                for mime, suffix in (("image/png", ".png"), ("image/jpeg", ".jpg")):
                    image = output.get("data", {}).get(mime)
                    if image:
                        return base64.b64decode(image), suffix
    return None


def _graded_functions(nb: nbformat.NotebookNode) -> list[str]:
    """The names of the notebook's graded functions (its answer cells' grade ids), in order."""
    return [cell.metadata["nbgrader"]["grade_id"] for cell in nb.cells
            if cell_kind(cell) == "answer"]


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
    shutil.copytree(SITE_DIR, stage, ignore=shutil.ignore_patterns(
        "index.md", "package*.json", "__pycache__", executions.EXECUTED_DIR.name))
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
        figure, found = None, _first_figure(nb)
        if found is not None:
            figure = f"_cards/{assignment.id}{found[1]}"
            (stage / "_cards").mkdir(exist_ok=True)
            (stage / figure).write_bytes(found[0])
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


def landing_page(chinese: bool = False) -> str:
    """The landing page's text (site/index.md, in Chinese with ``chinese``) with the student
    README's set-up and work sections in it, so that a student reads the same steps in both."""
    text = (SITE_DIR / "index.md").read_text()
    if chinese:
        text = pages.translate(text, pages.LANDING)
    return text.replace(pages.STUDENT_GUIDE, student_release.student_guide("###", chinese))


def build_student_site(out: Path, assignment_ids: list[str] | None = None,
                       executed_folder: Path = executions.EXECUTED_DIR,
                       timings: dict[str, float] | None = None) -> list[Path]:
    """Put the stored outputs of the reference solutions (``executed_folder``) on the
    demonstration cells of the student notebooks and build the student site into ``out``
    (emptied first) and its Chinese edition into ``out/zh/``, for every assignment or those
    named; return the landing page and the assignment pages of the English site. StaleExecution
    when a stored execution is missing or stale. ``timings`` gets the seconds of each
    language's build."""
    selected = _selected(assignment_ids)
    stored = {a.id: executions.load(a, executed_folder) for a in selected}
    out = _fresh(out)
    timings = timings if timings is not None else {}
    notebooks = [(a, a.student_notebook,
                  page(nbformat.read(a.student_notebook, as_version=4), stored[a.id]))
                 for a in selected]
    chinese = [(a, a.student_notebook, page(_chinese_page(a), stored[a.id], say=_chinese))
               for a in translated(selected)]
    with tempfile.TemporaryDirectory() as scratch:
        started = time.perf_counter()
        stage = Path(scratch) / "en"
        _stage(stage, notebooks, landing_page())
        _languages(stage, "en", {"prefix": f"{FOLDER}/", "label": "中文", "lang": "zh-CN",
                                 "docs": ["index", *(_doc(p) for _, p, _ in chinese)]})
        _build(stage, out, "Convolutional networks")
        timings["en"] = time.perf_counter() - started
        started = time.perf_counter()
        stage = Path(scratch) / FOLDER
        _stage(stage, chinese, landing_page(chinese=True), _chinese)
        _languages(stage, LANGUAGE, {"prefix": "../", "label": "English", "lang": "en",
                                     "docs": ["index", *(_doc(p) for _, p, _ in notebooks)]})
        _build(stage, out / FOLDER, _chinese("Convolutional networks"))
        timings[FOLDER] = time.perf_counter() - started
    return _pages(out, notebooks)


def build_instructor_site(out: Path, assignment_ids: list[str] | None = None,
                          executed_folder: Path = executions.EXECUTED_DIR) -> list[Path]:
    """Build the source notebooks of every assignment, or of those named, with their stored
    outputs, hidden tests included, into ``out`` (emptied first), every page marked
    "instructors only"; return the landing page and the assignment pages."""
    selected = _selected(assignment_ids)
    stored = {a.id: executions.load(a, executed_folder) for a in selected}
    out = _fresh(out)
    notebooks = [(a, a.source_notebook,
                  page(nbformat.read(a.source_notebook, as_version=4), stored[a.id],
                       ("demo", "test", "answer")))
                 for a in selected]
    with tempfile.TemporaryDirectory() as scratch:
        stage = Path(scratch) / "src"
        _stage(stage, notebooks, INSTRUCTOR_INDEX)
        _build(stage, out, "Reference solutions (instructors only)", INSTRUCTOR_BANNER)
    return _pages(out, notebooks)
