"""The reference solution of an assignment as Python functions, read from its source notebook.

It imports neither nbformat nor nbgrader (seconds of CPU): a grading worker's reference children
run it on the source notebook's JSON (``course.trusted.reference_process``).
"""

from __future__ import annotations

import re

from course import assignments
from course.grading.demo_cells import is_demo

_SOLUTION_MARKER = re.compile(r"^[ \t]*### (BEGIN|END) SOLUTION[ \t]*\n", re.M)


def strip_solution_markers(code: str) -> str:
    """The reference code of a source answer cell, as a student would have typed it."""
    return _SOLUTION_MARKER.sub("", code)


def run_reference(source_nb) -> dict:
    """Run the source notebook's provided code (its locked code cells, such as the imports,
    but not the tests or the demonstrations) and its answer cells; return the namespace they
    defined. ``source_nb``: the notebook (``nbformat.NotebookNode``), or its JSON as plain data.

    Magics and shell lines (starting with % or !) are skipped. Nothing else of the notebook runs.
    """
    namespace: dict = {}
    for cell in source_nb["cells"]:
        info = cell["metadata"].get("nbgrader", {})
        provided = (cell["cell_type"] == "code" and info.get("locked") and not info.get("grade")
                    and not is_demo(cell))
        if provided or info.get("solution"):
            source = cell["source"] if isinstance(cell["source"], str) else "".join(
                cell["source"])
            code = "\n".join(line for line in strip_solution_markers(source).splitlines()
                             if not line.lstrip().startswith(("%", "!")))
            exec(code, namespace)  # noqa: S102 (the course's own source notebook)
    return namespace


def reference_functions(assignment_id: str, names: list[str]) -> dict:
    """The functions ``names`` of the assignment's reference solution (see run_reference)."""
    import nbformat

    source = nbformat.read(assignments.get(assignment_id).source_notebook, as_version=4)
    namespace = run_reference(source)
    return {name: namespace[name] for name in names}
