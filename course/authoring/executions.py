"""The stored executions of the source notebooks, from which the course site is built.

``python -m course site --execute`` runs each source notebook (reference solution, hidden tests,
demonstrations) from the top, in full mode, and stores the executed notebook as
``site/executed/<id>.ipynb``, with the date, the mode, the run time and the versions of the
numerical libraries in its metadata. The site is then built from these files without running
anything, so that it shows what the full-mode notebooks compute (the trained networks, the
painting at full size) and CI renders it in seconds.

A stored execution is stale when its code cells (their ids and code) differ from those of the
current source notebook, or when it ran in fast mode: ``stale`` says why, ``load`` refuses a
stale one. Markdown cells do not count: the site takes the text from the current notebooks.

To keep the repository small, an image output that a JPEG holds in less than a third of its
PNG's bytes (a photograph, a painting; not a chart) is stored as that JPEG.
"""

from __future__ import annotations

import base64
import datetime
import io
import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import nbformat

from course import assignments
from course.assignments import REPO_ROOT
from course.execution import CELL_TIMEOUT, execute_notebook
from utils import data
from utils.settings import FAST_ENV

EXECUTED_DIR = REPO_ROOT / "site" / "executed"
METADATA_KEY = "cnn_course_execution"
EXECUTE_COMMAND = "python -m course site --execute"
JPEG_QUALITY = 85
# Seconds a cell may run when stored: a full-mode training cell takes minutes, several times
# that on a busy machine.
FULL_MODE_CELL_TIMEOUT = 3600


class StaleExecution(RuntimeError):
    """A stored execution is missing or no longer matches its source notebook."""


@dataclass(frozen=True)
class Execution:
    """When and how a stored notebook was executed."""

    date: str  # the day it ran, ISO 8601 (UTC)
    fast: bool  # fast mode (CNN_COURSE_FAST=1) or full mode
    minutes: float  # the whole notebook's run time
    versions: dict[str, str]  # the numerical libraries that computed the outputs

    @property
    def mode(self) -> str:
        return "fast mode" if self.fast else "full mode"


def path(assignment: assignments.Assignment, folder: Path = EXECUTED_DIR) -> Path:
    return Path(folder) / f"{assignment.id}.ipynb"


def code_cells(nb: nbformat.NotebookNode) -> list[tuple[str, str]]:
    """(id, code) of every code cell, in order: what decides whether an execution is stale."""
    return [(cell.get("id", ""), cell.source) for cell in nb.cells if cell.cell_type == "code"]


def execute_reference(assignment: assignments.Assignment, fast: bool | None = None,
                      cell_timeout: int = CELL_TIMEOUT) -> nbformat.NotebookNode:
    """The source notebook of ``assignment`` (reference solution, hidden tests) executed from
    the top in a fresh kernel: in fast or full mode, or as CNN_COURSE_FAST says (fast when it is
    unset) when ``fast`` is None."""
    previous = os.environ.get(FAST_ENV)
    os.environ[FAST_ENV] = (previous or "1") if fast is None else ("1" if fast else "0")
    try:
        source = nbformat.read(assignment.source_notebook, as_version=4)
        return execute_notebook(source, assignment.source_notebook.parent, cell_timeout,
                                hidden_answers=True)
    finally:
        if previous is None:
            del os.environ[FAST_ENV]
        else:
            os.environ[FAST_ENV] = previous


def _versions() -> dict[str, str]:
    import platform

    import keras
    import numpy
    import tensorflow

    return {"python": platform.python_version(), "numpy": numpy.__version__,
            "tensorflow": tensorflow.__version__, "keras": keras.__version__}


def machine_paths() -> list[str]:
    """Absolute paths of this machine that no stored output and no page may show."""
    paths = {str(REPO_ROOT), str(data.course_home()), str(Path.home()), tempfile.gettempdir()}
    return sorted(p for p in paths if len(p) > 1)


def _output_texts(output) -> list[str]:
    texts = [output.get("text", ""), output.get("evalue", ""), *output.get("traceback", [])]
    texts += [value for key, value in output.get("data", {}).items()
              if key.startswith("text/") and isinstance(value, str)]
    return texts


def _smaller_image(output) -> None:
    """Store a PNG output as a JPEG when that takes less than a third of its bytes."""
    from PIL import Image

    png = output.get("data", {}).get("image/png")
    if not png:
        return
    raw = base64.b64decode(png)
    with Image.open(io.BytesIO(raw)) as image:
        buffer = io.BytesIO()
        image.convert("RGB").save(buffer, format="JPEG", quality=JPEG_QUALITY, optimize=True)
    if buffer.tell() * 3 < len(raw):
        del output.data["image/png"]
        output.data["image/jpeg"] = base64.b64encode(buffer.getvalue()).decode("ascii")


def _prepared(nb: nbformat.NotebookNode, execution: Execution) -> nbformat.NotebookNode:
    """The executed notebook as stored: no per-cell timing, no standard error (TensorFlow's logs,
    the download messages with this machine's paths: no page shows it), images made smaller,
    the execution recorded; ValueError when an output shows a path of this machine."""
    paths = machine_paths()
    for index, cell in enumerate(nb.cells):
        cell.metadata.pop("execution", None)
        if "outputs" in cell:
            cell.outputs = [o for o in cell.outputs
                            if not (o.output_type == "stream" and o.name == "stderr")]
        for output in cell.get("outputs", []):
            shown = [p for p in paths for text in _output_texts(output) if p in text]
            if shown:
                raise ValueError(f"cell {index} ({cell.get('id')}) prints the path {shown[0]} "
                                 "of this machine: print a path relative to the course folder")
            _smaller_image(output)
    nb.metadata[METADATA_KEY] = {"date": execution.date, "fast": execution.fast,
                                 "minutes": round(execution.minutes, 2),  # a fast run: seconds
                                 "versions": execution.versions}
    return nb


def store(assignment: assignments.Assignment, folder: Path = EXECUTED_DIR,
          fast: bool = False) -> Path:
    """Execute the assignment's source notebook (full mode unless ``fast``) and store it."""
    start = time.perf_counter()
    executed = execute_reference(assignment, fast, FULL_MODE_CELL_TIMEOUT)
    execution = Execution(datetime.datetime.now(datetime.timezone.utc).date().isoformat(), fast,
                          (time.perf_counter() - start) / 60, _versions())
    target = path(assignment, folder)
    target.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(_prepared(executed, execution), target)
    return target


def execution(nb: nbformat.NotebookNode) -> Execution:
    """When and how a stored notebook was executed."""
    info = nb.metadata[METADATA_KEY]
    return Execution(info["date"], info["fast"], info["minutes"], dict(info["versions"]))


def stale(assignment: assignments.Assignment, folder: Path = EXECUTED_DIR) -> str | None:
    """Why the stored execution of ``assignment`` does not fit its source notebook, or None."""
    stored = path(assignment, folder)
    if not stored.is_file():
        return f"{assignment.id} has no stored execution ({stored.name})"
    executed = nbformat.read(stored, as_version=4)
    if execution(executed).fast:
        return f"{assignment.id}: the stored execution ran in fast mode"
    old = code_cells(executed)
    new = code_cells(nbformat.read(assignment.source_notebook, as_version=4))
    for index, (before, now) in enumerate(zip(old, new)):
        if before != now:
            return (f"{assignment.id}: code cell {index} ({now[0]}) changed since the stored "
                    f"execution" + ("" if before[0] == now[0] else f" (which has {before[0]})"))
    if len(old) != len(new):
        return (f"{assignment.id}: the source notebook has {len(new)} code cells, the stored "
                f"execution {len(old)}")
    return None


def load(assignment: assignments.Assignment,
         folder: Path = EXECUTED_DIR) -> nbformat.NotebookNode:
    """The stored execution of ``assignment``; StaleExecution, saying how to refresh it, when it
    is missing or stale."""
    problem = stale(assignment, folder)
    if problem:
        raise StaleExecution(f"{problem}: run `{EXECUTE_COMMAND}`")
    return nbformat.read(path(assignment, folder), as_version=4)
