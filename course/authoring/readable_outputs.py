"""Notebook outputs as a reader of the course site sees them.

A terminal redraws a progress bar in place with carriage returns and backspaces; a web page
would show every intermediate state and the control characters as boxes. ``terminal_text``
keeps what a terminal shows in the end. ``readable`` applies it to a cell's outputs, drops
standard error (TensorFlow's and the downloads' logs, which name paths of the machine that ran
the notebook) and joins the printed text of a cell (standard output, and text displayed as a
terminal shows it, such as Keras's model summary) into one output between its figures, so
that a cell shows one box of text. ``without_repeated_expected_outputs`` drops an "Expected
output" block that says what the cell above it printed, within the tolerances of
``expected_outputs.agree``: the notebooks keep these blocks for students, who compare them with
their own results.
"""

from __future__ import annotations

import re

import nbformat

from course.authoring import expected_outputs

ANSI_ESCAPE = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]")
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")  # all but tab and newline


def terminal_text(text: str) -> str:
    """What a terminal shows after printing ``text``: a carriage return moves back to the start
    of the line and a backspace one character back, later characters overwrite earlier ones;
    colour codes and other control characters are dropped."""
    text = ANSI_ESCAPE.sub("", text.replace("\r\n", "\n"))
    lines = []
    for line in text.split("\n"):
        shown: list[str] = []
        column = 0
        for char in line:
            if char == "\r":
                column = 0
            elif char == "\b":
                column = max(0, column - 1)
            elif not CONTROL.match(char):
                if column < len(shown):
                    shown[column] = char
                else:
                    shown.append(char)
                column += 1
        lines.append("".join(shown).rstrip())
    return "\n".join(lines)


def _printed(output) -> str | None:
    """The text of an output that is printed text: standard output, or a display of text only
    (Keras's model summary, printed by ``rich``, arrives as a <pre> block and its plain text
    with colour codes); None for anything else."""
    if output.output_type == "stream":
        return output.text if output.name == "stdout" else None
    data = output.get("data", {})
    if (output.output_type == "display_data" and "text/plain" in data
            and set(data) <= {"text/plain", "text/html"}
            and data.get("text/html", "<pre").lstrip().startswith("<pre")):
        return data["text/plain"]
    return None


def readable(cell: nbformat.NotebookNode) -> None:
    """Make a code cell's outputs read as on a terminal (module docstring), in place: printed
    text in one output between figures, as a terminal shows it; standard error dropped."""
    outputs = []
    for output in cell.get("outputs", []):
        text = _printed(output)
        if text is None:
            if output.output_type != "stream":  # standard error is dropped
                outputs.append(output)
        elif outputs and outputs[-1].output_type == "stream":
            outputs[-1].text += text
        else:
            outputs.append(nbformat.v4.new_output("stream", name="stdout", text=text))
    for output in outputs:
        if output.output_type == "stream":
            output.text = terminal_text(output.text).strip("\n") + "\n"
        elif "text/plain" in output.get("data", {}):
            output.data["text/plain"] = terminal_text(output.data["text/plain"])
    cell.outputs = outputs


def without_repeated_expected_outputs(nb: nbformat.NotebookNode) -> list[int]:
    """Remove every "Expected output" cell that agrees with what the code cell above it printed;
    return the indices (in ``nb`` as it was) of the cells removed."""
    repeated = [index for index, shown, printed in expected_outputs.blocks(nb)
                if printed and expected_outputs.agree(shown, printed)]
    nb.cells = [cell for index, cell in enumerate(nb.cells) if index not in repeated]
    return repeated
