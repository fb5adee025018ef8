"""The course site, built once per session with the real builder (Sphinx, MyST-NB) from the
stored full-mode executions of the reference solutions (fresh for the current sources), and
browsed in headless Chromium with no network, at a phone's width (390 px) and a desktop's
(1280 px): every page loads with no failed or outside request and no console error, every
formula is typeset, every image renders, every link works, no page scrolls sideways or shows a
control character or a path of the machine that built or executed it, search finds a graded
function, and no solution or hidden test appears anywhere in the student site. Screenshots are
kept in build/test-artifacts/site_*.png."""

from __future__ import annotations

import html
import re
import time
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import nbformat
import pytest
from browser import chromium, needs_chromium, screenshot_path

from course import assignments
from course.authoring import executions, site, student_release
from course.translation.notebooks import translated

SOLUTION = ("### BEGIN SOLUTION", "### END SOLUTION")
HIDDEN = ("### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS")
TEXT_FILES = {".html", ".js", ".txt", ".ipynb", ".json", ".md", ".css", ".inv"}


TIMINGS: dict[str, float] = {}  # the student site's: English and Chinese builds


@pytest.fixture(scope="session")
def student_site(tmp_path_factory) -> tuple[Path, list[Path], float]:
    """(site folder, landing page and assignment pages, build seconds): the whole student site,
    built from the stored executions, its Chinese edition in zh/."""
    out = tmp_path_factory.mktemp("site") / "site"
    start = time.monotonic()
    pages = _build(site.build_student_site, out, None, executions.EXECUTED_DIR, TIMINGS)
    return out, pages, time.monotonic() - start


def _build(builder, out: Path, *args) -> list[Path]:
    """``builder(out, *args)``; the test skips, saying why, when npm cannot install MathJax."""
    try:
        return builder(out, *args)
    except site.NpmMissing as error:
        pytest.skip(str(error))


# --- what the site contains -------------------------------------------------------------------

def _blocks(source: str, begin: str, end: str) -> list[str]:
    """The lines between ``begin`` and ``end`` markers in a cell's source."""
    lines, inside = [], False
    for line in source.splitlines():
        if line.strip() == begin:
            inside = True
        elif line.strip() == end:
            inside = False
        elif inside:
            lines.append(line.strip())
    return lines


def _words(text: str) -> str:
    """``text`` with every run of white space made one space (a hint may wrap across lines)."""
    return " ".join(text.split())


def public_text() -> str:
    """All the code and text of the course's release notebooks, as students get them."""
    return _words("\n".join(cell.source for a in assignments.available()
                            for cell in nbformat.read(a.release_notebook, as_version=4).cells))


def secret_lines(assignment: assignments.Assignment, public: str) -> set[str]:
    """The lines of the source notebook's solution and hidden-test blocks that students never
    see: lines that also occur in the ``public`` text of the release notebooks (``return X``,
    blank lines, a hint in the text) are left out."""
    source = nbformat.read(assignment.source_notebook, as_version=4)
    secret = set()
    for cell in source.cells:
        secret.update(_blocks(cell.source, *SOLUTION))
        secret.update(_blocks(cell.source, *HIDDEN))
    return {_words(line) for line in secret if line and _words(line) not in public}


class _Text(HTMLParser):
    """The text of an HTML page as a reader sees it (tags dropped, entities decoded)."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.parts = []

    def handle_data(self, text):
        self.parts.append(text)


def page_text(path: Path) -> str:
    """The text of an HTML page as a reader sees it."""
    parser = _Text()
    parser.feed(path.read_text())
    return "".join(parser.parts)


def built_text(out: Path) -> dict[Path, str]:
    """Every text file of a built site: the raw file and, for HTML, its text as read."""
    texts = {}
    for path in out.rglob("*"):
        if path.is_file() and path.suffix in TEXT_FILES:
            raw = path.read_text(errors="replace")
            if path.suffix == ".html":
                raw += "\n" + page_text(path)
            texts[path] = raw
    return texts


def leaks(out: Path) -> list[str]:
    """'<file>: <line>' for every solution or hidden-test line found in a built site."""
    public = public_text()
    secrets = {line: a.id for a in assignments.available() for line in secret_lines(a, public)}
    found = []
    for path, text in built_text(out).items():
        text = _words(text) + "\n" + _words(html.unescape(text))
        found += [f"{path.relative_to(out)}: {line}  ({where})" for line, where in secrets.items()
                  if line in text]
    return found


def test_a_landing_page_and_a_page_per_assignment(student_site):
    out, pages, seconds = student_site
    print(f"student site: {len(html_pages(out))} HTML pages built in {seconds:.0f} s "
          f"(from the stored executions): English {TIMINGS['en']:.0f} s, Chinese "
          f"{TIMINGS['zh']:.0f} s")
    assert pages[0] == out / "index.html"
    assert [p.name for p in pages[1:]] == [f"{a.id}.html" for a in assignments.available()]
    landing = pages[0].read_text()
    for a in assignments.available():
        assert f"notebooks/{a.id}.html" in landing, a.id
        assert re.search(rf"_images/{a.id}\.(png|jpg)", landing), a.id
    assert "Starting as a student" in landing and "Starting as an instructor" in landing


def test_the_landing_page_tells_students_what_their_readme_says(student_site):
    """A student reads the same steps on the landing page as in the distribution's README, and
    no command of the instructor's tooling."""
    out, pages, _ = student_site
    text = _words(page_text(pages[0]))
    start = text.index("Your instructor gives you the student distribution")
    student = text[start:text.index("Starting as an instructor", start)]
    for command in ("python3.11 -m venv .venv", ".venv/bin/pip install -r requirements.txt",
                    ".venv/bin/python -m utils.fetch", ".venv/bin/jupyter lab",
                    ".venv/bin/nbgrader validate", ".venv/bin/python -m utils.train_resnet"):
        assert command in student, command
        assert command in student_release.student_guide()
    assert "python -m course" not in student and "make setup" not in student
    assert "repository" not in student


def test_no_solution_and_no_hidden_test_in_the_student_site(student_site):
    out, _, _ = student_site
    public = public_text()
    assert all(len(secret_lines(a, public)) >= 10 for a in assignments.available())  # lines to find
    assert not leaks(out)


def test_the_leak_check_finds_the_solutions_of_the_instructor_site(tmp_path):
    """The check above on a site that does show solutions and hidden tests: it must find them."""
    pages = _build(site.build_instructor_site, tmp_path / "instructor",
                   ["C4W1A1_conv_step_by_step"])
    found = leaks(tmp_path / "instructor")
    assert any("conv_step_by_step.html" in line for line in found), found[:5]
    text = pages[1].read_text()
    assert "BEGIN SOLUTION" in text and "BEGIN HIDDEN TESTS" in text
    assert "zero_pad: all public tests passed" in text
    assert "Do not publish" in pages[0].read_text() and site.INSTRUCTOR_BANNER in text


def test_demonstration_cells_show_the_reference_outputs_and_graded_cells_none(student_site):
    out, pages, _ = student_site
    for a, page in zip(assignments.available(), pages[1:]):
        text = page.read_text()
        assert "raise NotImplementedError" in page_text(page), a.id  # the stubs, as released
        assert text.count('class="cell_output') >= 3, a.id
        assert re.search(r'<img[^>]+src="\.\./_images/[0-9a-f]+\.(png|jpg)"', text), \
            f"{a.id}: no output figure"
    # The test cells carry no outputs: the test's message is only in its code.
    assert page_text(pages[1]).count("zero_pad: all public tests passed") == 1


def test_outputs_go_to_demonstration_cells_only_and_cells_must_match():
    a = assignments.get("C4W1A1_conv_step_by_step")
    student = nbformat.read(a.student_notebook, as_version=4)
    executed = nbformat.read(a.source_notebook, as_version=4)
    for cell in executed.cells:
        if cell.cell_type == "code":
            cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=cell.source)]
    result = site.with_reference_outputs(student, executed)
    kinds = [site.cell_kind(cell) for cell in result.cells]
    assert {"answer", "test", "demo"} <= set(kinds)
    for kind, cell in zip(kinds, result.cells):
        if kind in ("answer", "test"):
            assert cell.outputs == []
        elif kind == "demo":
            assert cell.outputs[0].text == cell.source
    demo = kinds.index("demo")
    executed.cells[demo].source += "\nprint('changed')"
    with pytest.raises(ValueError, match=f"cell {demo} "):
        site.with_reference_outputs(student, executed)


def test_the_pages_show_what_the_full_mode_notebooks_compute(student_site):
    out, pages, _ = student_site
    texts = {a.id: _words(page_text(p)) for a, p in zip(assignments.available(), pages[1:])}
    for name, text in texts.items():
        assert re.search(r"The outputs on this page are those of the reference solution, computed "
                         r"on \d{4}-\d{2}-\d{2} in full mode", text), name
    signs = texts["C4W1A2_signs_cnn"]
    assert "number of training examples = 1080" in signs
    assert re.search(r"train accuracy: [01]\.\d{4} test accuracy: [01]\.\d{4}", signs)
    accuracy = re.search(r"pretrained ResNet50: test loss = [\d.]+, test accuracy = ([\d.]+)",
                         texts["C4W2A1_resnets"])
    assert accuracy and float(accuracy.group(1)) > 0.9, "the trained ResNet50 is not shown"
    assert "resnet50_signs.keras does not exist yet" not in texts["C4W2A1_resnets"]
    style = texts["C4W4A2_neural_style_transfer"]
    assert "content image: (1, 300, 400, 3)" in style
    assert re.search(r"painting with (VGG19|the YOLOv3-tiny backbone)", style)
    assert re.search(r"300 steps in [\d.]+ s", style)


def test_pages_keep_only_the_expected_outputs_that_differ(student_site):
    out, pages, _ = student_site
    for a, path in zip(assignments.available(), pages[1:]):
        student = nbformat.read(a.student_notebook, as_version=4)
        shown = site.page(student, executions.load(a))
        kept = sum(c.source.startswith("**Expected output:**") for c in shown.cells)
        assert _words(page_text(path)).count("Expected output:") == kept, a.id
        for cell in shown.cells:  # printed text is one box, between figures
            kinds = [o.output_type for o in cell.get("outputs", [])]
            assert ("stream", "stream") not in zip(kinds, kinds[1:]), (a.id, cell.id)


# --- in the browser ---------------------------------------------------------------------------

WIDTHS = (390, 1280)  # a phone's and a desktop's viewport width, in CSS pixels
PAGE_STATE = """() => {
  const visible = document.body.cloneNode(true);
  visible.querySelectorAll("pre, code, script, style, mjx-container, .highlight")
         .forEach(e => e.remove());
  const width = document.documentElement.clientWidth;
  const overflowing = Array.from(document.querySelectorAll("body *")).filter(e => {
    const box = e.getBoundingClientRect();
    return box.width > 0 && box.right > width + 1 && e.closest(".bd-sidebar-primary") === null;
  }).slice(0, 5).map(e => `${e.tagName.toLowerCase()}.${e.className}`);
  return {
    text: visible.textContent,
    read: document.body.innerText,
    sideways: document.documentElement.scrollWidth - width,
    overflowing: overflowing,
    formulas: document.querySelectorAll("mjx-container").length,
    unrendered: document.querySelectorAll(".math:not(:has(mjx-container))").length,
    errors: Array.from(document.querySelectorAll("mjx-merror")).map(e => e.textContent),
    backslashes: Array.from(document.querySelectorAll("mjx-assistive-mml mtext"))
                      .map(e => e.textContent).filter(t => t.includes("\\\\")),
    images: Array.from(document.images).map(i => ({src: i.getAttribute("src"),
        loaded: i.complete && i.naturalWidth > 0, hidden: i.closest(".bd-sidebar-primary") !== null,
        width: i.getBoundingClientRect().width, height: i.getBoundingClientRect().height})),
    links: Array.from(document.querySelectorAll("a[href]")).map(a => a.href),
  };
}"""
CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
# An absolute path under a folder where a machine keeps its users' or build files.
MACHINE_PATH = re.compile(r"(?<![\w.~/-])/(?:home|root|tmp|work|Users|builds|runner)/[\w.-]")


def html_pages(out: Path) -> list[Path]:
    """The pages of a built site (not the theme's template fragments under _static/)."""
    return sorted(p for p in out.rglob("*.html") if "_static" not in p.relative_to(out).parts)


def _open(page, url: str) -> dict:
    """Load ``url``, wait for MathJax to finish when the page uses it; the page's state."""
    page.goto(url, wait_until="load", timeout=60_000)
    if page.locator("script[src*='mathjax']").count():
        page.wait_for_function("window.MathJax && MathJax.startup && MathJax.startup.promise",
                               timeout=60_000)
        page.evaluate("MathJax.startup.promise.then(() => true)")
    return page.evaluate(PAGE_STATE)


@pytest.fixture(scope="module")
def browsed(student_site):
    """Every HTML page of the student site opened in Chromium at each of WIDTHS:
    {"states": {width: {page: state}}, "requests": every request made (outside ones are
    refused), "failed": every failed request, "console": every console error and uncaught
    exception, as "page (width): message"}."""
    out, _, _ = student_site
    requests, failed, console, states, where = [], [], [], {}, {}
    with chromium() as browser:
        for width in WIDTHS:
            context = browser.new_context(viewport={"width": width, "height": 900})
            context.route(re.compile(r"^(?!file:).*"), lambda route: route.abort())
            page = context.new_page()
            page.on("request", lambda r: requests.append(r.url))
            page.on("requestfailed", lambda r: failed.append(f"{r.url} ({r.failure})"))
            page.on("console", lambda m: m.type == "error" and console.append(
                f"{where['page']}: {m.text} {m.location.get('url', '')}"))
            page.on("pageerror", lambda e: console.append(f"{where['page']}: {e}"))
            states[width] = {}
            for path in html_pages(out):
                where["page"] = f"{path.relative_to(out)} ({width} px)"
                states[width][path] = _open(page, path.as_uri())
            context.close()
    return {"states": states, "requests": requests, "failed": failed, "console": console}


@needs_chromium
def test_every_page_loads_offline_with_no_failed_request_and_no_console_error(browsed,
                                                                               student_site):
    out, _, _ = student_site
    assert len(browsed["states"][1280]) >= 9  # landing, six assignments, search, index
    outside = [url for url in browsed["requests"] if not url.startswith("file:")]
    assert not outside, f"requests leaving the site: {outside[:10]}"
    assert not browsed["failed"], browsed["failed"][:10]
    assert not browsed["console"], browsed["console"][:10]
    assert any("/_static/mathjax/tex-chtml.js" in url for url in browsed["requests"])


@needs_chromium
def test_no_page_scrolls_sideways_on_a_phone_or_a_desktop(browsed, student_site):
    out, _, _ = student_site
    for width, states in browsed["states"].items():
        for path, state in states.items():
            assert state["sideways"] <= 0, (f"{path.relative_to(out)} at {width} px is "
                                            f"{state['sideways']} px too wide",
                                            state["overflowing"])


@needs_chromium
def test_no_control_character_and_no_path_of_a_machine_on_any_page(browsed, student_site):
    out, _, _ = student_site
    for width, states in browsed["states"].items():
        for path, state in states.items():
            name = f"{path.relative_to(out)} ({width} px)"
            assert not CONTROL.findall(state["read"]), (name, CONTROL.findall(state["read"])[:5])
            assert not MACHINE_PATH.findall(state["read"]), (
                name, [state["read"][m.start() - 40:m.end() + 40]
                       for m in MACHINE_PATH.finditer(state["read"])][:3])
    for path, text in built_text(out).items():
        for machine_path in executions.machine_paths():
            assert machine_path not in text, f"{path.relative_to(out)} shows {machine_path}"


@needs_chromium
def test_every_formula_is_typeset(browsed, student_site):
    out, pages, _ = student_site
    typeset = 0
    for path, state in browsed["states"][1280].items():
        name = path.relative_to(out)
        assert state["unrendered"] == 0 and not state["errors"], (name, state["errors"])
        assert not state["backslashes"], (name, state["backslashes"])
        raw = re.findall(r"\\\(|\\\[|\$\$|\$[^$\s][^$\n]*\$", state["text"])
        assert not raw, (name, raw[:5])
        typeset += state["formulas"]
    assert typeset > 50
    assert browsed["states"][1280][pages[5]]["formulas"] > 0  # the triplet loss: \text{pos\_dist}


@needs_chromium
def test_every_image_renders(browsed, student_site):
    out, pages, _ = student_site
    for width, states in browsed["states"].items():
        for path, state in states.items():
            for image in state["images"]:
                assert image["loaded"], (path.relative_to(out), width, image)
                assert image["hidden"] or (image["width"] > 0 and image["height"] > 0), \
                    (path.relative_to(out), width, image)
        for page in pages[1:]:  # each assignment page shows at least one result figure
            assert any(image["src"].startswith("../_images/") and image["width"] > 100
                       for image in states[page]["images"]), (page.name, width)


def _ids(path: Path) -> set[str]:
    return set(re.findall(r'\sid="([^"]+)"', path.read_text()))


@needs_chromium
def test_every_navigation_link_works(browsed, student_site):
    out, pages, _ = student_site
    states = browsed["states"][1280]
    for path, state in states.items():
        for link in state["links"]:
            parts = urlsplit(link)
            if parts.scheme != "file":
                continue  # links to the web (nbgrader's documentation) are not followed offline
            target = Path(unquote(parts.path))
            assert target.is_file(), (path.relative_to(out), link)
            if parts.fragment and target.suffix == ".html":
                assert unquote(parts.fragment) in _ids(target), (path.relative_to(out), link)
    for previous, page, following in zip(pages, pages[1:], [*pages[2:], None]):
        links = states[page]["links"]
        assert pages[0].as_uri() in links  # back to the start
        assert previous.as_uri() in links  # previous
        assert following is None or following.as_uri() in links  # next
        assert all(p.as_uri() in links for p in pages[1:] if p != page)  # table of contents
        assert any(link.startswith(page.as_uri() + "#") for link in links)  # contents of the page


@needs_chromium
def test_next_previous_and_search_in_the_browser(student_site):
    out, pages, _ = student_site
    with chromium() as browser:
        page = browser.new_page(viewport={"width": 1280, "height": 1000})
        page.goto(pages[0].as_uri())
        page.locator("a.right-next").click()
        page.wait_for_url(pages[1].as_uri())
        page.locator("a.left-prev").click()
        page.wait_for_url(pages[0].as_uri())
        page.goto((out / "search.html").as_uri() + "?q=conv_single_step")
        results = page.locator("#search-results ul.search li a")
        results.first.wait_for(timeout=60_000)
        hrefs = results.evaluate_all("links => links.map(a => a.href)")
        assert any("notebooks/C4W1A1_conv_step_by_step.html" in href for href in hrefs), hrefs


# (screenshot, page, the output figure to show: its index among the page's output figures)
SCREENSHOTS = [("landing", "index.html", None),
               ("resnets", "notebooks/C4W2A1_resnets.html", -1),
               ("car_detection", "notebooks/C4W3A1_car_detection.html", -1),
               ("style_transfer", "notebooks/C4W4A2_neural_style_transfer.html", -2)]


@needs_chromium
def test_screenshots_at_a_phones_and_a_desktops_width(student_site):
    """build/test-artifacts/site_<page>_<width>.png: the landing page whole, and the last
    prediction of the trained ResNet50, the last detection picture and the painting."""
    out, _, _ = student_site
    taken = []
    with chromium() as browser:
        for width in WIDTHS:
            page = browser.new_page(viewport={"width": width, "height": 1000 if width > 500
                                              else 844})
            for name, where, figure in SCREENSHOTS:
                path = screenshot_path(f"site_{name}_{width}.png")
                page.goto((out / where).as_uri())
                if figure is None:
                    page.screenshot(path=path, full_page=True)
                else:
                    image = page.locator(".cell_output img").nth(figure)
                    image.scroll_into_view_if_needed()
                    page.wait_for_function("img => img.complete && img.naturalWidth > 0",
                                           arg=image.element_handle())
                    page.screenshot(path=path)
                taken.append(path)
            page.close()
    for path in taken:
        assert path.stat().st_size > 30_000, path


# --- the Chinese edition (zh/) ----------------------------------------------------------------

CHINESE = [a.id for a in translated(assignments.available())]
UNTRANSLATED = """() => {
  const found = [];
  const skip = "pre, code, .highlight, .cell_output, .output, mjx-container, .math, "
             + ".language-switch, script, style";
  for (const block of document.querySelectorAll(
      "article p, article li, article td, article th, article h1, article h2, article h3")) {
    if (block.closest(skip)) continue;
    const text = block.cloneNode(true);
    text.querySelectorAll(skip + ", p, li, ul, ol").forEach(e => e.remove());
    const words = text.textContent.match(/[A-Za-z][A-Za-z'-]+/g) || [];
    if (words.length >= 4 && !/[\\u3400-\\u9fff]/.test(text.textContent)) {
      found.push(text.textContent.trim().slice(0, 100));
    }
  }
  return found;
}"""


def _section(path: Path, number: int) -> str:
    """The first id of the page's section number ``number`` (its place in the page)."""
    match = re.search(rf'<section[^>]*\sid="([^"]+)"[^>]*>\s*<span id="section-{number}">',
                      path.read_text())
    assert match, f"{path.name} has no section {number}"
    return match.group(1)


def test_the_chinese_site_has_the_translated_pages_and_links_between_languages(student_site):
    out, pages, _ = student_site
    landing = (out / "zh" / "index.html").read_text()
    assert '<html lang="zh-CN"' in landing and "学生从这里开始" in landing
    assert CHINESE, "no translated assignment"
    for assignment_id in CHINESE:
        english = out / "notebooks" / f"{assignment_id}.html"
        chinese = out / "zh" / "notebooks" / f"{assignment_id}.html"
        assert f'href="notebooks/{assignment_id}.html"' in landing
        assert f'href="../zh/notebooks/{assignment_id}.html"' in english.read_text()
        assert f'href="../../notebooks/{assignment_id}.html"' in chinese.read_text()
        assert "raise NotImplementedError" in page_text(chinese)
        assert chinese.read_text().count('class="cell_output') >= 3  # the reference outputs
    for page in pages[1:]:  # an untranslated page leads to the Chinese landing page
        if page.stem not in CHINESE:
            assert 'href="../zh/index.html"' in page.read_text()


@needs_chromium
def test_every_chinese_page_is_translated(browsed, student_site):
    out, _, _ = student_site
    chinese = [p for p in browsed["states"][1280] if p.relative_to(out).parts[0] == "zh"
               and p.name not in ("search.html", "genindex.html")]
    assert len(chinese) == 1 + len(CHINESE)
    with chromium() as browser:
        page = browser.new_page()
        for path in chinese:
            page.goto(path.as_uri())
            untranslated = page.evaluate(UNTRANSLATED)
            assert not untranslated, (path.relative_to(out), untranslated[:5])


@needs_chromium
def test_the_language_link_leads_to_the_same_section(student_site):
    out, _, _ = student_site
    english = out / "notebooks" / "C4W1A1_conv_step_by_step.html"
    chinese = out / "zh" / "notebooks" / "C4W1A1_conv_step_by_step.html"
    with chromium() as browser:
        page = browser.new_page(viewport={"width": 1280, "height": 1000})
        for start, target, heading in ((english, chinese, "1 - 零填充"),
                                       (chinese, english, "1 - Zero-padding")):
            page.goto(f"{start.as_uri()}#{_section(start, 2)}")
            page.locator("a.language-switch").click()
            page.wait_for_url(f"{target.as_uri()}#section-2")
            title = page.evaluate("""() => {
              const section = document.getElementById("section-2").closest("section");
              const top = section.getBoundingClientRect().top;
              return [section.querySelector("h1, h2, h3").textContent, top];
            }""")
            assert title[0].startswith(heading) and -5 < title[1] < 200, title


@needs_chromium
def test_chinese_search_finds_the_first_assignment(student_site):
    out, _, _ = student_site
    with chromium() as browser:
        page = browser.new_page(viewport={"width": 1280, "height": 1000})
        page.goto((out / "zh" / "search.html").as_uri() + "?q=卷积")
        results = page.locator("#search-results ul.search li a")
        results.first.wait_for(timeout=60_000)
        hrefs = results.evaluate_all("links => links.map(a => a.href)")
        assert any("zh/notebooks/C4W1A1_conv_step_by_step.html" in href for href in hrefs), hrefs
