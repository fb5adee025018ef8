"""The "Expected output" blocks of the source notebooks, kept equal to what the solution prints.

Convention: a markdown cell that starts with ``**Expected output:**`` (in a Chinese notebook
``**预期输出：**``) and holds one fenced
```text block shows what the code cell just above it prints when run with the reference
solution. ``refresh`` rewrites those blocks from an executed source notebook; ``mismatches``
lists the blocks that differ from it (tests/test_autograde.py).

The printed floats of TensorFlow and BLAS differ in the last digits from one CPU to another, so a
block agrees with what the solution prints when its words and integers are the same, its
whitespace aside, and each of its decimal numbers is within one unit of the last printed digit
(a rounding that fell the other way) or within ``RTOL`` of the printed value.
"""

from __future__ import annotations

import re

import nbformat

MARKER = "**Expected output:**"
CHINESE_MARKER = "**预期输出：**"  # its translation in the Chinese notebooks (locale/zh_CN/)
_BLOCK = re.compile(r"```text\n(.*?)\n?```", re.S)
_NUMBER = re.compile(r"[-+]?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?")
RTOL = 1e-4  # the loosest tolerance the checks use for TensorFlow's floats


def _stdout(cell) -> str:
    text = "".join(o.get("text", "") for o in cell.get("outputs", [])
                   if o.output_type == "stream" and o.name == "stdout")
    return "\n".join(line.rstrip() for line in text.strip("\n").splitlines())


def expected_pairs(nb: nbformat.NotebookNode):
    """Yield (index of expected-output cell, the code cell it describes)."""
    for index, cell in enumerate(nb.cells):
        if cell.cell_type == "markdown" and cell.source.startswith((MARKER, CHINESE_MARKER)):
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


def blocks(executed: nbformat.NotebookNode):
    """Yield (index of expected-output cell, the text it shows, what the cell above printed)."""
    for index, code_cell in expected_pairs(executed):
        match = _BLOCK.search(executed.cells[index].source)
        yield index, match.group(1).strip("\n") if match else "", _stdout(code_cell)


def mismatches(executed: nbformat.NotebookNode) -> list[str]:
    """Describe every expected block of an executed notebook that differs from the output above."""
    return [f"cell {index}: the notebook shows\n{shown}\nbut the solution prints\n{printed}"
            for index, shown, printed in blocks(executed) if not agree(shown, printed)]


def _unit(number: str) -> float:
    """One unit in the last printed digit of a decimal number ("0.0436" -> 1e-4)."""
    mantissa, _, exponent = number.lower().partition("e")
    decimals = len(mantissa.partition(".")[2])
    return 10.0 ** (int(exponent or 0) - decimals)


def agree(shown: str, printed: str) -> bool:
    """Whether an expected block says what the solution printed (module docstring)."""
    def words(text: str) -> list[str]:
        return [" ".join(part.split()) for part in _NUMBER.split(text)]

    shown_numbers, printed_numbers = _NUMBER.findall(shown), _NUMBER.findall(printed)
    if words(shown) != words(printed) or len(shown_numbers) != len(printed_numbers):
        return False
    for a, b in zip(shown_numbers, printed_numbers):
        if not any(c in a + b for c in ".eE"):
            if int(a) != int(b):
                return False
        elif abs(float(a) - float(b)) > max(_unit(a), _unit(b), RTOL * abs(float(b))) * 1.000001:
            return False
    return True
