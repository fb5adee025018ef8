"""The exporter of the students' feedback pages: nbgrader's HTML feedback, safe to open and with
its Jinja templates compiled once per process.

A feedback page shows a submission, which is untrusted: a student's notebook can hold HTML,
JavaScript, SVG or Markdown outputs, raw HTML in its Markdown cells and output metadata that
ends up in attributes. Opened by the instructor or the student, none of it may run, so
``FeedbackExporter``:

- shows every output that could carry markup (``text/html``, ``text/markdown``, ``text/latex``,
  ``image/svg+xml``, JavaScript, JSON, any vendor type) as plain text, keeps only plain text and
  PNG/JPEG pictures as they are, drops the outputs' metadata, shows raw cells as text and drops
  the cell metadata that would hide a cell's code (``SafeOutputs``);
- cleans the HTML rendered from every Markdown cell with nh3 (the Rust ammonia sanitizer): no
  script, style, frame or form, no event handler, no ``javascript:`` link;
- puts a Content-Security-Policy first in the page's head that lets no script run at all (the
  template's own scripts included: the page needs none) and loads nothing from outside.

nbgrader's generate_feedback makes a new HTML exporter, and so a new Jinja environment, for every
run: on a grading worker that is every submission, and compiling the feedback template and the
nbconvert templates it extends took about a quarter of the feedback's time. The environments
made here share one in-memory bytecode cache (Jinja's own mechanism, keyed by each template's
name and source, so an edited template is compiled again).
"""

from __future__ import annotations

import nh3
from jinja2 import BytecodeCache, pass_context
from jinja2.bccache import Bucket
from nbconvert.exporters import HTMLExporter, TemplateExporter
from nbconvert.filters.highlight import Highlight2HTML
from nbconvert.filters.widgetsdatatypefilter import WidgetsDataTypeFilter
from nbconvert.preprocessors import Preprocessor

# What a feedback page may do: no script, nothing fetched from elsewhere; inline styles and the
# pictures embedded in the page only.
CONTENT_SECURITY_POLICY = ("default-src 'none'; script-src 'none'; object-src 'none'; "
                           "style-src 'unsafe-inline'; img-src data:; font-src data:; "
                           "base-uri 'none'; form-action 'none'")
CSP_META = f'<meta http-equiv="Content-Security-Policy" content="{CONTENT_SECURITY_POLICY}">'
PICTURES = ("image/png", "image/jpeg")
SAFE_TYPES = ("text/plain", *PICTURES)  # shown as they are
# Cell metadata that would hide a cell's code or outputs on the page, render a raw cell, or give
# the cell's element classes of the page's own stylesheet (each tag becomes a class, and a tag
# may hold spaces: "x navbar-fixed-top" pins a forged score panel over the page's).
RENDERING_METADATA = ("transient", "jupyter", "raw_mimetype", "format", "tags")
MARKUP_NOTE = "[a {mime} output, shown as text]\n"
# The alt text of a picture in an output: the one nbconvert's HTMLExporter gives a picture that
# has none (FeedbackExporter.from_notebook_node)
PICTURE_ALT = "No description has been provided for this image"


class SafeOutputs(Preprocessor):
    """Every output that could carry markup becomes plain text showing it; metadata goes (a
    picture's is its alt text, ``PICTURE_ALT``); a raw cell is shown as text; no cell metadata
    hides a cell's code or outputs or styles its element (``RENDERING_METADATA``)."""

    def preprocess_cell(self, cell, resources, index):
        for key in RENDERING_METADATA:
            cell.metadata.pop(key, None)
        if cell.cell_type == "raw":  # else rendered as HTML, which could forge a score panel
            cell.cell_type = "markdown"
            cell.source = "```text\n" + cell.source.replace("```", "` ` `") + "\n```"
            cell.pop("attachments", None)
        for output in cell.get("outputs", []):
            if "metadata" in output:
                output.metadata = {}
            data = output.get("data")
            if not data:
                continue
            shown = {mime: value for mime, value in data.items() if mime in SAFE_TYPES
                     and isinstance(value, str)}
            markup = [(mime, value) for mime, value in data.items() if mime not in SAFE_TYPES]
            if markup and "text/plain" not in shown:
                mime, value = markup[0]
                shown["text/plain"] = MARKUP_NOTE.format(mime=mime) + (
                    value if isinstance(value, str) else repr(value))
            output.data = shown
            if "metadata" in output:
                output.metadata = {mime: {"alt": PICTURE_ALT} for mime in PICTURES
                                   if mime in shown}
        return cell, resources


class _MemoryBytecodeCache(BytecodeCache):
    """Compiled templates kept in this process's memory."""

    def __init__(self):
        self._compiled: dict[str, bytes] = {}

    def load_bytecode(self, bucket: Bucket) -> None:
        code = self._compiled.get(bucket.key)
        if code is not None:
            bucket.bytecode_from_string(code)

    def dump_bytecode(self, bucket: Bucket) -> None:
        self._compiled[bucket.key] = bucket.bytecode_to_string()


_COMPILED = _MemoryBytecodeCache()


class FeedbackExporter(HTMLExporter):
    """nbgrader's feedback exporter (``c.GenerateFeedback.exporter_class``): safe to open, its
    templates compiled once per process (module docstring)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.register_preprocessor(SafeOutputs, enabled=True)

    def _create_environment(self):
        environment = super()._create_environment()
        environment.bytecode_cache = _COMPILED
        return environment

    @pass_context
    def markdown2html(self, context, source):
        """A Markdown cell's HTML, cleaned with nh3 (module docstring)."""
        return nh3.clean(super().markdown2html(context, source))

    def from_notebook_node(self, nb, resources=None, **kw):
        """HTMLExporter's page, without HTMLExporter's last step: it parses the whole page with
        BeautifulSoup (in pure Python: half of the feedback's time on a worker) to give an alt
        text to the pictures without one (``SafeOutputs`` gives every output's picture one;
        those of a student's raw HTML in Markdown go without) and a tabindex to the lab
        template's cells (the feedback's classic template has none). The filters are those
        HTMLExporter registers first (nbconvert 7)."""
        language = nb.metadata.get("language_info", {})
        self.register_filter("highlight_code", self.filters.get("highlight_code", Highlight2HTML(
            pygments_lexer=language.get("pygments_lexer", language.get("name")), parent=self)))
        resources = self._init_resources(resources)
        self.register_filter("filter_data_type", WidgetsDataTypeFilter(
            notebook_metadata=self._nb_metadata, parent=self, resources=resources))
        html, resources = TemplateExporter.from_notebook_node(self, nb, resources, **kw)
        return with_policy(html), resources


def with_policy(html: str) -> str:
    """The page with ``CSP_META`` as the first element of its head."""
    head = html.find("<head")
    end = html.find(">", head) + 1 if head >= 0 else 0
    return html[:end] + CSP_META + html[end:]
