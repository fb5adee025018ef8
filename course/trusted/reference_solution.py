"""The reference solution of an assignment as Python functions, read from its source notebook."""

from __future__ import annotations

import nbformat

from course import assignments
from course.grading.demo_cells import is_demo
from course.grading.nbgrader_course import strip_solution_markers


def run_reference(source_nb: nbformat.NotebookNode) -> dict:
    """Run the source notebook's provided code (its locked code cells, such as the imports,
    but not the tests or the demonstrations) and its answer cells; return the namespace they
    defined.

    Magics and shell lines (starting with % or !) are skipped. Nothing else of the notebook runs.
    """
    namespace: dict = {}
    for cell in source_nb.cells:
        info = cell.metadata.get("nbgrader", {})
        provided = (cell.cell_type == "code" and info.get("locked") and not info.get("grade")
                    and not is_demo(cell))
        if provided or info.get("solution"):
            code = "\n".join(line for line in strip_solution_markers(cell.source).splitlines()
                             if not line.lstrip().startswith(("%", "!")))
            exec(code, namespace)  # noqa: S102 (the course's own source notebook)
    return namespace


def reference_functions(assignment_id: str, names: list[str]) -> dict:
    """The functions ``names`` of the assignment's reference solution (see run_reference)."""
    source = nbformat.read(assignments.get(assignment_id).source_notebook, as_version=4)
    namespace = run_reference(source)
    return {name: namespace[name] for name in names}
