"""The exporter of the students' feedback pages: nbgrader's HTML feedback, with its Jinja
templates compiled once per process.

nbgrader's generate_feedback makes a new HTML exporter, and so a new Jinja environment, for every
run: on a grading worker that is every submission, and compiling the feedback template and the
nbconvert templates it extends took about a quarter of the feedback's time. The environments
made here share one in-memory bytecode cache (Jinja's own mechanism, keyed by each template's
name and source, so an edited template is compiled again).
"""

from __future__ import annotations

from jinja2 import BytecodeCache
from jinja2.bccache import Bucket
from nbconvert.exporters import HTMLExporter


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
    """nbgrader's feedback exporter (``c.GenerateFeedback.exporter_class``), its templates
    compiled once per process."""

    def _create_environment(self):
        environment = super()._create_environment()
        environment.bytecode_cache = _COMPILED
        return environment
