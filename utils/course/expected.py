"""The "Expected output" blocks of the source notebooks, kept equal to what the solution prints.

Convention: a markdown cell that starts with ``**Expected output:**`` and holds one fenced
```text block shows what the code cell just above it prints when run with the reference
solution. ``refresh`` rewrites those blocks from an executed source notebook; ``mismatches``
lists the blocks that differ from it (tests/test_expected_outputs.py).
"""

from __future__ import annotations

import re

import nbformat

MARKER = "**Expected output:**"
_BLOCK = re.compile(r"```text\n(.*?)\n?```", re.S)


def _stdout(cell) -> str:
    text = "".join(o.get("text", "") for o in cell.get("outputs", [])
                   if o.output_type == "stream" and o.name == "stdout")
    return "\n".join(line.rstrip() for line in text.strip("\n").splitlines())


def expected_pairs(nb: nbformat.NotebookNode):
    """Yield (index of expected-output cell, the code cell it describes)."""
    for index, cell in enumerate(nb.cells):
        if cell.cell_type == "markdown" and cell.source.startswith(MARKER):
            previous = nb.cells[index - 1]
            if previous.cell_type != "code":
                raise ValueError(f"cell {index}: an expected output must follow a code cell")
            yield index, previous


def refresh(source: nbformat.NotebookNode, executed: nbformat.NotebookNode) -> int:
    """Copy the printed output of ``executed`` into the expected blocks of ``source``.

    Both notebooks must have the same cells (``executed`` is ``source`` after running).
    Returns the number of blocks written.
    """
    count = 0
    for index, _ in expected_pairs(source):
        text = _stdout(executed.cells[index - 1])
        source.cells[index].source = f"{MARKER}\n\n```text\n{text}\n```"
        count += 1
    return count


def mismatches(executed: nbformat.NotebookNode) -> list[str]:
    """Describe every expected block of an executed notebook that differs from the output above."""
    problems = []
    for index, code_cell in expected_pairs(executed):
        match = _BLOCK.search(executed.cells[index].source)
        shown = match.group(1).strip("\n") if match else ""
        printed = _stdout(code_cell)
        if shown != printed:
            problems.append(f"cell {index}: the notebook shows\n{shown}\nbut the solution prints\n"
                            f"{printed}")
    return problems
