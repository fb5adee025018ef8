"""A graded function that raises: the error as plain data, and a message giving its likely cause.

A check's ``call`` runs the student's function through :func:`capture`, so that an exception
becomes part of the answer (``{"type", "message", "line", "code"}``) instead of stopping the
check; its ``compare`` then fails with :func:`raised_message`, which names the function and the
case, the input, the error, the line of the student's code that raised, and the likely cause, in
the student's language (``utils.i18n``; the error's own message stays as Python wrote it).
"""

from __future__ import annotations

import re
import traceback
from collections.abc import Callable
from typing import Any

from utils.i18n import N_, _

MAX_MESSAGE = 400  # characters of the error's own message kept in the answer
_TF_PREFIX = re.compile(r"\{\{function_node [^}]*\}\}\s*")  # TensorFlow's op location
_TF_NAME = re.compile(r"\s*name:\s*$")  # the empty op name TensorFlow appends
_SHAPE = re.compile(r"[\[(]\s*(\d+(?:\s*,\s*\d+)*)\s*,?\s*[\])]")

# (whether an error's message, as NumPy or TensorFlow wrote it, shows the cause; the cause)
COMMON_CAUSES: list[tuple[Callable[[str], bool], str]] = [
    (lambda m: "only 0-dimensional arrays can be converted" in m
     or "only length-1 arrays can be converted" in m,
     N_("float() or int() of an array that still has an axis, such as one of shape (1,): "
        "NumPy 2 refuses it; take the number out with .item(), or reduce without keeping that "
        "axis")),
    (lambda m: "mask cannot be scalar" in m,
     N_("a reduction without an axis turned a tensor into a single number; give the axis "
        "(axis=-1 for the last one)")),
    (lambda m: "ncompatible shapes" in m or "are incompatible" in m or "must have the same shape"
     in m or "Dimensions must be equal" in m,
     N_("two tensors of different shapes were combined: check the axis of every reduction "
        "(argmax, reduce_max, reduce_sum) and which tensors are multiplied together")),
    (lambda m: "Replace this line with your code" in m,  # the NotImplementedError of the release
     N_("the exercise is not done yet: replace the `raise NotImplementedError(...)` line with "
        "your code")),
    (lambda m: "must be broadcastable" in m or "size-incompatible" in m
     or "requested shape" in m,  # TensorFlow ops (cross-entropy, matmul, reshape)
     N_("tensors of different shapes were combined: check the axis of reductions such as "
        "tf.argmax(..., axis=...) and tf.reduce_mean(..., axis=...), and the shape given to "
        "tf.reshape")),
]


def capture(fn: Callable, *args, **kwargs) -> tuple[Any, dict | None]:
    """``(fn(*args, **kwargs), None)``, or ``(None, raised)`` when it raises an Exception.

    ``raised`` is plain data: the error's type name, its message (TensorFlow's op location
    removed, at most MAX_MESSAGE characters) and where in ``fn`` it happened: the line number
    in its cell (None when unknown) and the line's code ("" when unknown).
    """
    try:
        return fn(*args, **kwargs), None
    except Exception as error:  # noqa: BLE001 (the student's error becomes the answer)
        name = getattr(fn, "__name__", "")
        frames = [f for f in traceback.extract_tb(error.__traceback__) if f.name == name]
        message = _TF_NAME.sub("", _TF_PREFIX.sub("", str(error))).strip()[:MAX_MESSAGE]
        return None, {"type": type(error).__name__, "message": message,
                      "line": frames[-1].lineno if frames else None,
                      "code": (frames[-1].line or "") if frames else ""}


def shapes_in(message: str) -> list[tuple[int, ...]]:
    """The shapes written in an error message, as ``(19, 5, 80)`` or ``[19,5,80]``."""
    return [tuple(int(d) for d in match.split(",")) for match in _SHAPE.findall(message)]


def raised_message(label: str, what: str, raised: dict, cause: str | None = None) -> str:
    """``<label> raised <type> on <what>: <message> (at line <n>: `<code>`). Likely cause: ...``

    ``what`` names the input, ``cause`` is the caller's diagnosis if it recognised the error
    (both translated); otherwise the cause is the first of COMMON_CAUSES whose test accepts the
    message, if any.
    """
    message = raised["message"]
    if cause is None:
        cause = next((_(text) for applies, text in COMMON_CAUSES if applies(message)), None)
    text = _("{label} raised {error} on {what}: {message}").format(
        label=label, error=raised["type"], what=what, message=message)
    if raised["line"] is not None:
        text += (_(" (at line {line}: `{code}`)") if raised["code"] else
                 _(" (at line {line})")).format(line=raised["line"], code=raised["code"])
    return text + (_(". Likely cause: {cause}").format(cause=cause) if cause else "")
