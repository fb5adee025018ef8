"""Classic mistakes: how an answer gives one away, and the one sentence that names it.

Every graded function's :class:`~utils.graded.GradedFunction` lists the classic mistakes of its
exercise in ``mistakes``: a :class:`Mistake` has a recogniser, a predicate on the case's inputs,
the student's answer and the reference's answer (``(inputs, got, expected)``, the plain data of
``utils.graded``), and a hint made of the cause and the fix. When an answer fails its check, the
first mistake whose recogniser accepts it puts its hint in front of the failure's message, in the
notebook and in the grader's verdict alike (``GradedFunction.compare``).

A recogniser compares ``got`` with a transform of ``expected`` (four times the cost, the average
instead of the sum), with the reference's answers to the probes its function's ``call`` runs
(the same function on related inputs: the other pooling mode, the arguments exchanged), or with
a fact of ``got`` itself (a shape, an output outside [0, 1], a layer that is missing). None of
them computes the answer to a case: the hints say what went wrong, the reference says what is
right. The helpers below return False, rather than raising, for answers of any unexpected form.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from utils.i18n import _

CAUSE_WIDTH = 80  # the cause must be read in the first characters of a message


@dataclass(frozen=True)
class Mistake:
    """One classic mistake of a graded function.

    ``cause`` says what the code did (``averaged the windows in max mode``), ``fix`` what to do
    instead, both in English marked for the catalogue (``N_``: ``utils.i18n``) and translated
    when the hint is shown; ``seen(inputs, got, expected)`` says whether an answer that failed
    its check shows this mistake (exceptions of a malformed answer count as no).
    """

    name: str
    cause: str
    fix: str
    seen: Callable[[dict, Any, Any], bool]

    def hint(self, function: str) -> str:
        """``<function>: <cause>; <fix>.``: one sentence, the cause first, in the student's
        language."""
        return _("{function}: {cause}; {fix}.").format(function=function, cause=_(self.cause),
                                                        fix=_(self.fix))

    def recognises(self, inputs: dict, got: Any, expected: Any) -> bool:
        try:
            return bool(self.seen(inputs, got, expected))
        except (TypeError, ValueError, KeyError, IndexError, AttributeError, ZeroDivisionError):
            return False


def recognised(mistakes: tuple[Mistake, ...], inputs: dict, got: Any,
               expected: Any) -> list[Mistake]:
    """The mistakes whose recognisers accept an answer, in the order of the catalogue."""
    return [m for m in mistakes if m.recognises(inputs, got, expected)]


def numbers(value) -> np.ndarray | None:
    """``value`` as a float64 array, or None when it is not numbers (a type's name, None)."""
    if isinstance(value, (dict, str)) or value is None:
        return None
    try:
        array = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        return None
    return array


def close(got, value, rtol: float = 1e-4, atol: float = 1e-6) -> bool:
    """Whether ``got`` and ``value`` are numbers or arrays of one shape, equal within tolerance."""
    a, b = numbers(got), numbers(value)
    return (a is not None and b is not None and a.shape == b.shape
            and bool(np.allclose(a, b, rtol=rtol, atol=atol)))


def differs(got, value, rtol: float = 1e-4, atol: float = 1e-6) -> bool:
    """The opposite of :func:`close`."""
    return not close(got, value, rtol, atol)


def scalar(value) -> float | None:
    """One real number as a float, or None for anything else."""
    array = numbers(value)
    if array is None or array.ndim != 0 or not np.isfinite(array):
        return None
    return float(array)


def shape(value) -> tuple[int, ...] | None:
    """The shape of an array answer, or None when it is not an array."""
    return value.shape if isinstance(value, np.ndarray) else None


def unstrided(got, expected, stride: int) -> bool:
    """Whether windows that move by 1 instead of ``stride`` (down the rows, along the columns,
    or both) explain ``got``: output row ``k * stride`` of such a loop holds the right answer's
    row ``k`` (the same for the columns), while ``got`` as a whole is wrong. Arrays of shape
    (m, n_H, n_W, n_C)."""
    if stride <= 1 or shape(got) != shape(expected) or close(got, expected):
        return False
    for rows, columns in ((stride, stride), (stride, 1), (1, stride)):
        sub = got[:, ::rows, ::columns]
        if close(sub, expected[:, :sub.shape[1], :sub.shape[2]]):
            return True
    return False


def scaled_by(got, expected, factor: float, rtol: float = 1e-4) -> bool:
    """Whether ``got`` is ``factor`` times ``expected`` (and so wrong, the factor not being 1)."""
    return (not np.isclose(factor, 1) and close(got, np.asarray(expected) * factor, rtol=rtol)
            and differs(got, expected, rtol=rtol))
