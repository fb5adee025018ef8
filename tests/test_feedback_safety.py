"""Feedback pages are safe to open: a submission's HTML, JavaScript, SVG and Markdown outputs and
the raw HTML of its Markdown cells are shown as text or cleaned (nh3), and a Content-Security-
Policy lets no script run; Chromium opens a hostile page and nothing in it runs."""

from html.parser import HTMLParser

import nbformat
from browser import chromium, needs_chromium, what_ran
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output, new_raw_cell

from course.trusted import feedback

# Each vector sets window.pwned to its own number when it runs.
VECTORS = {
    1: ("html", "<script>window.pwned = 1</script><b>bold</b>"),
    2: ("html", '<img src="x" onerror="window.pwned = 2">'),
    3: ("javascript", "window.pwned = 3"),
    4: ("svg", '<svg xmlns="http://www.w3.org/2000/svg" onload="window.pwned = 4"/>'),
    5: ("markdown output", '<img src="x" onerror="window.pwned = 5">'),
    6: ("metadata", "1 onerror=window.pwned=6"),
    7: ("stream", "<script>window.pwned = 7</script>"),
    8: ("error", "<script>window.pwned = 8</script>"),
    9: ("markdown cell", "<script>window.pwned = 9</script>"),
    10: ("markdown cell", '<img src="x" onerror="window.pwned = 10">'
                          '<a href="javascript:window.pwned = 10">a link</a>'),
    11: ("markdown cell", '<iframe srcdoc="<script>parent.pwned = 11</script>"></iframe>'),
    12: ("markdown cell", '<style>body { display: none }</style><form action="x"><button>go'
                          '</button></form>'),
}


FAKE_PANEL = '<div class="panel panel-success">Score: 100.0 / 100.0</div>'


def hostile_notebook() -> nbformat.NotebookNode:
    nb = new_notebook()
    nb.cells.append(new_raw_cell(FAKE_PANEL))  # a second, forged score panel
    hidden = new_code_cell("print('HIDDEN_CODE')")
    hidden.metadata.transient = {"remove_source": True}
    hidden.metadata.jupyter = {"source_hidden": True}
    nb.cells.append(hidden)
    cell = new_code_cell("print('hello')")
    for number, (kind, payload) in VECTORS.items():
        if kind == "markdown cell":
            nb.cells.append(new_markdown_cell(f"Vector {number}: {payload}"))
        elif kind == "stream":
            cell.outputs.append(new_output("stream", name="stdout", text=payload))
        elif kind == "error":
            cell.outputs.append(new_output("error", ename="ValueError", evalue=payload,
                                           traceback=[payload]))
        elif kind == "metadata":
            cell.outputs.append(new_output("display_data", data={"image/png": "iVBORw0KGgo="},
                                           metadata={"image/png": {"width": payload}}))
        else:
            mime = {"html": "text/html", "javascript": "application/javascript",
                    "svg": "image/svg+xml", "markdown output": "text/markdown"}[kind]
            cell.outputs.append(new_output("display_data", data={mime: payload}))
    nb.cells.append(cell)
    return nb


def page(tmp_path) -> tuple[str, object]:
    html, _ = feedback.FeedbackExporter(template_name="classic").from_notebook_node(
        hostile_notebook())
    path = tmp_path / "feedback.html"
    path.write_text(html)
    return html, path


class _Live(HTMLParser):
    """The elements of a page that could act: event handlers, javascript: links, and elements
    whose content mentions a vector."""

    ACTIVE = {"script", "iframe", "svg", "form", "style", "object", "embed"}

    def __init__(self):
        super().__init__()
        self.found, self.open = [], []

    def handle_starttag(self, tag, attrs):
        self.open.append(tag)
        for name, value in attrs:
            if name.startswith("on") or (value or "").strip().lower().startswith("javascript:"):
                self.found.append(f"<{tag} {name}={value!r}>")

    def handle_endtag(self, tag):
        if tag in self.open:
            del self.open[len(self.open) - 1 - self.open[::-1].index(tag):]

    def handle_data(self, data):
        if "pwned" in data and self.ACTIVE & set(self.open):
            self.found.append(f"{self.open[-1]}: {data[:60]!r}")


def test_no_live_markup_reaches_the_page(tmp_path):
    html, _ = page(tmp_path)
    head = html[html.index("<head"):]
    assert head[head.index(">") + 1:].startswith(feedback.CSP_META)
    live = _Live()
    live.feed(html)
    assert live.found == []
    assert FAKE_PANEL not in html and '<div class="panel panel-success">' not in html
    assert "print" in html and "HIDDEN_CODE" in html  # the hidden cell's code is shown
    assert "&lt;script&gt;window.pwned = 1&lt;/script&gt;" in html  # shown as text
    assert feedback.MARKUP_NOTE.format(mime="text/html").strip() in html


@needs_chromium
def test_chromium_runs_nothing_of_a_hostile_page(tmp_path):
    _, path = page(tmp_path)
    with chromium() as browser:
        ran = what_ran(browser, path)
    assert ran["pwned"] is None and not ran["dialogs"], ran["pwned"]
    assert not ran["jquery"], "the page's own scripts ran: the policy is missing"
    assert "<script>window.pwned = 1</script>" in ran["text"]  # the student sees what was shown


def test_the_page_is_the_one_html_exporter_would_make():
    """FeedbackExporter leaves out HTMLExporter's last step, a BeautifulSoup pass over the whole
    page that gives pictures without alt text one (``FeedbackExporter.from_notebook_node``): on a
    notebook of the course with every kind of output, the page is the one that pass makes, but
    for how BeautifulSoup writes HTML back."""
    from bs4 import BeautifulSoup
    from nbconvert.exporters import HTMLExporter

    from course import assignments

    class WithTheLastStep(feedback.FeedbackExporter):
        def from_notebook_node(self, nb, resources=None, **kw):
            html, resources = HTMLExporter.from_notebook_node(self, nb, resources, **kw)
            return feedback.with_policy(html), resources

    nb = nbformat.read(assignments.get("C4W1A2_signs_cnn").source_notebook, as_version=4)
    nb.metadata.language_info = {"name": "python", "pygments_lexer": "ipython3"}
    code = next(cell for cell in nb.cells if cell.cell_type == "code")
    code.outputs = [
        new_output("stream", name="stdout", text="cost after epoch 0: 1.9 <b>\n"),
        new_output("execute_result", data={"text/plain": "array([1, 2])"}, execution_count=1),
        new_output("display_data", data={"image/png": "iVBORw0KGgo=", "text/plain": "<Figure>"},
                   metadata={"image/png": {"width": 300}}),
        new_output("display_data", data={"image/jpeg": "/9j/4AAQ"}),
        new_output("error", ename="ValueError", evalue="shapes (2,) and (3,)",
                   traceback=["ValueError: shapes (2,) and (3,)"])]
    ours = feedback.FeedbackExporter(template_name="classic").from_notebook_node(nb)[0]
    theirs = WithTheLastStep(template_name="classic").from_notebook_node(nb)[0]
    assert ours.count(f'alt="{feedback.PICTURE_ALT}"') == 2
    assert "jp-Cell-inputWrapper" not in ours and "jp-OutputArea-output" not in ours
    rewritten = str(BeautifulSoup(ours.replace(feedback.CSP_META, ""), features="html.parser"))
    assert rewritten == theirs.replace(feedback.CSP_META, "")
