"""How a failed public check shows in the notebook: the message first, in short lines.

A check that fails raises :class:`CheckFailed`, an AssertionError whose ``str`` is the check's
message. IPython shows an exception that has ``_render_traceback_`` as the lines that method
returns, instead of a traceback: here ``AssertionError: <message>`` wrapped at ``WIDTH``
characters, without the frames of the course's checks, which say nothing about the student's
code. ``nbgrader validate`` prints those lines indented by four spaces and cuts every line
longer than 87 characters; the wrapped lines stay whole there, and in the Validate dialog. A
Chinese message is wrapped by its width on the screen: a Chinese character takes two columns,
and a line may end between two of them (the text has no spaces), but not before a closing
punctuation mark.

An error raised by the student's own function inside a check keeps its traceback, less the
course's frames (:func:`without_course_frames`): the student's lines and the library's stay.
"""

from __future__ import annotations

import re
import textwrap
import types
from pathlib import Path

WIDTH = 79  # columns per line of a failed check, "AssertionError: " included
_PREFIX = "AssertionError: "
_RED, _RESET = "\x1b[0;31m", "\x1b[0m"
_COURSE = Path(__file__).resolve().parent  # utils/: the checks and their helpers


class CheckFailed(AssertionError):
    """A public check failed; the message says what is wrong with the student's answer."""

    def _render_traceback_(self) -> list[str]:
        """The lines IPython shows for this error (in place of a traceback)."""
        lines = wrapped(str(self))
        return [f"{_RED}{_PREFIX.rstrip()}{_RESET} {lines[0][len(_PREFIX):]}", *lines[1:]]


_WIDE = re.compile("[\u1100-\u115f\u2e80-\ua4cf\uac00-\ud7a3\uf900-\ufaff\ufe30-\ufe4f"
                   "\uff00-\uff60\uffe0-\uffe6]")  # characters two columns wide (CJK)
_FILL = "\x00"  # follows each wide character while lines are measured
_PIECE = re.compile(f"[^{_FILL}]{_FILL}|[^{_FILL}]+?(?=[^{_FILL}]{_FILL}|\\Z)")
_CLOSING = frozenset("，。、；：！？）》」』】")  # never at the start of a line


class _Wrapper(textwrap.TextWrapper):
    """textwrap's wrapper, for text in which each wide character is followed by ``_FILL`` (so
    that a character's length is its width): a chunk of such text is split between its wide
    characters, a closing punctuation mark kept with the character before it."""

    def _split(self, text: str) -> list[str]:
        chunks = []
        for chunk in super()._split(text):
            if _FILL not in chunk:
                chunks.append(chunk)
                continue
            for piece in _PIECE.findall(chunk):
                if piece[0] in _CLOSING and chunks and not chunks[-1].isspace():
                    chunks[-1] += piece
                else:
                    chunks.append(piece)
        return chunks


def wrapped(message: str, width: int = WIDTH) -> list[str]:
    """``AssertionError: <message>`` in lines of at most ``width`` columns: each line of the
    message wrapped on its own, continuation lines indented (see the module docstring)."""
    wrapper = _Wrapper(width, subsequent_indent="    ", break_on_hyphens=False)
    lines: list[str] = []
    for number, line in enumerate(message.splitlines() or [""]):
        first = _PREFIX if number == 0 else ""
        measured = _WIDE.sub(lambda m: m.group() + _FILL, first + line)
        lines += [part.replace(_FILL, "") for part in wrapper.wrap(measured)] or [first]
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
