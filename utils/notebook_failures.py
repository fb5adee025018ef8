"""How a failed public check shows in the notebook: the message first, in short lines.

A check that fails raises :class:`CheckFailed`, an AssertionError whose ``str`` is the check's
message. IPython shows an exception that has ``_render_traceback_`` as the lines that method
returns, instead of a traceback: here ``AssertionError: <message>`` wrapped at ``WIDTH``
characters, without the frames of the course's checks, which say nothing about the student's
code. ``nbgrader validate`` prints those lines indented by four spaces and cuts every line
longer than 87 characters; the wrapped lines stay whole there, and in the Validate dialog.

An error raised by the student's own function inside a check keeps its traceback, less the
course's frames (:func:`without_course_frames`): the student's lines and the library's stay.
"""

from __future__ import annotations

import textwrap
import types
from pathlib import Path

WIDTH = 79  # characters per line of a failed check, "AssertionError: " included
_PREFIX = "AssertionError: "
_RED, _RESET = "\x1b[0;31m", "\x1b[0m"
_COURSE = Path(__file__).resolve().parent  # utils/: the checks and their helpers


class CheckFailed(AssertionError):
    """A public check failed; the message says what is wrong with the student's answer."""

    def _render_traceback_(self) -> list[str]:
        """The lines IPython shows for this error (in place of a traceback)."""
        lines = wrapped(str(self))
        return [f"{_RED}{_PREFIX.rstrip()}{_RESET} {lines[0][len(_PREFIX):]}", *lines[1:]]


def wrapped(message: str, width: int = WIDTH) -> list[str]:
    """``AssertionError: <message>`` in lines of at most ``width`` characters: each line of the
    message wrapped on its own (a longer word stays whole), continuation lines indented."""
    lines: list[str] = []
    for number, line in enumerate(message.splitlines() or [""]):
        first = _PREFIX if number == 0 else ""
        lines += textwrap.wrap(first + line, width, subsequent_indent="    ",
                               break_on_hyphens=False) or [first]
    return lines


def without_course_frames(traceback: types.TracebackType | None) -> types.TracebackType | None:
    """``traceback`` without the frames of code in utils/ (the checks that called the student's
    function); the frames of the student's code and of the libraries it called stay."""
    kept = []
    while traceback is not None:
        if not Path(traceback.tb_frame.f_code.co_filename).resolve().is_relative_to(_COURSE):
            kept.append(traceback)
        traceback = traceback.tb_next
    chain = None
    for frame in reversed(kept):
        chain = types.TracebackType(chain, frame.tb_frame, frame.tb_lasti, frame.tb_lineno)
    return chain
