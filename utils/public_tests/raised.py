"""What a graded function raised, as plain data, and a message that names its likely cause.

``call`` runs the student's function through :func:`attempt`, so that an exception becomes part
of the answer (``{"raised": [type name, message]}``); ``compare`` calls :func:`check_raised`
first, which fails with the function, the case, the exception and, where the exception is
recognised, its likely cause.
"""

from __future__ import annotations

import re
from collections.abc import Callable

# (pattern of "<type name>: <message>", likely cause), first match wins
_CAUSES = (
    (r"NotImplementedError",
     ("the exercise is not done yet: replace the `raise NotImplementedError(...)` line with "
      "your code")),
    (r"only (0-dimensional|length-1|size-1) arrays can be converted",
     ("float() or int() of an array that holds more than a single number (NumPy 2 converts "
      "only 0-dimensional arrays): reduce it first, for example with tf.reduce_mean, or take "
      "one element")),
    (r"Inputs have incompatible shapes",  # a Keras merge layer such as Add()
     ("the tensors added have different shapes: for a residual block, the main path and the "
      "shortcut must end with the same shape (check the strides of the first conv layer and "
      "of the shortcut, the \"same\" padding of the middle one, and the number of filters)")),
    ((r"[Ii]ncompatible shapes|size-incompatible|must be broadcastable|Dimensions must be "
      r"equal|requested shape|must have the same shape|Shapes .* are incompatible"),
     ("tensors of different shapes were combined: check the axis of reductions such as "
      "tf.argmax(..., axis=...) and tf.reduce_mean(..., axis=...), the shape given to "
      "tf.reshape, and the strides and padding of the layers")),
)
_TF_NODE = re.compile(r"\{\{function_node [^}]*\}\}")


def attempt(run: Callable[[], dict]) -> dict:
    """``run()``'s answer, or ``{"raised": [type name, message]}`` when it raises."""
    try:
        return run()
    except Exception as error:  # noqa: BLE001 (the student's exception is the answer)
        return {"raised": [type(error).__name__, str(error)[:2000]]}


def likely_cause(ename: str, message: str) -> str | None:
    """The likely cause of an exception of type ``ename``, when it is recognised."""
    text = f"{ename}: {message}"
    for pattern, cause in _CAUSES:
        if re.search(pattern, text):
            return cause
    return None


def check_raised(label: str, got: dict) -> None:
    """AssertionError naming the function and case (``label``), the exception and its likely
    cause, when the answer says the function raised."""
    if "raised" not in got:
        return
    ename, message = got["raised"]
    cause = likely_cause(ename, message)
    text = " ".join(_TF_NODE.sub("", message).split())  # TensorFlow's op prefix is noise here
    raise AssertionError(f"{label} raised {ename}: {text[:500]}" +
                         (f" (likely cause: {cause})" if cause else ""))
