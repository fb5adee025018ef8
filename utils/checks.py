"""Assertions that tell a student exactly what is wrong with an answer.

Every failure raises AssertionError with a message that starts with the function's name and
says what differs: the type, the shape, the dtype, the first wrong value and its index, or an
argument the function modified, in the student's language (``utils.i18n``; ``what``, the name
of what is compared, comes translated from the caller).
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Callable, Iterator

import numpy as np

from utils.i18n import _


def answer(value):
    """What a function returned, as plain data for grading: numpy arrays, numpy scalars and
    Python numbers as they are, anything else as ``{"type": <its type name>}`` so that the
    checks can say what was returned instead."""
    if isinstance(value, (np.ndarray, np.generic, bool, int, float)):
        return value
    return {"type": type(value).__name__}


def type_name(got) -> str:
    """The type name of an answer, as the student's code returned it (see ``answer``)."""
    if isinstance(got, dict) and set(got) == {"type"}:
        return str(got["type"])
    return type(got).__name__


def check_ndarray(fn: str, what: str, got) -> None:
    """``got`` must be a numpy array."""
    if not isinstance(got, np.ndarray):
        raise AssertionError(_("{fn}: {what} should be a numpy array, got {type}").format(
            fn=fn, what=what, type=type_name(got)))


def check_shape(fn: str, what: str, got: np.ndarray, expected_shape: tuple) -> None:
    """``got`` must have ``expected_shape``."""
    check_ndarray(fn, what, got)
    if got.shape != tuple(expected_shape):
        raise AssertionError(_("{fn}: wrong {what} shape {shape}, expected {expected}").format(
            fn=fn, what=what, shape=got.shape, expected=tuple(expected_shape)))


def check_close(fn: str, what: str, got, expected, rtol: float = 1e-7,
                atol: float = 1e-9) -> None:
    """``got`` must be an array of the expected shape whose values match within tolerance.

    On a mismatch the message gives the number of wrong entries, the first wrong index and
    both values there, and the largest absolute difference.
    """
    expected = np.asarray(expected)
    check_shape(fn, what, got, expected.shape)
    if got.dtype.kind not in "biuf":
        raise AssertionError(_("{fn}: {what} should hold numbers, got dtype {dtype}").format(
            fn=fn, what=what, dtype=got.dtype))
    wrong = ~np.isclose(got, expected, rtol=rtol, atol=atol)
    if wrong.any():
        index = tuple(int(i) for i in np.argwhere(wrong)[0])
        diff = np.max(np.abs(got.astype(np.float64) - expected))
        raise AssertionError(_(
            "{fn}: wrong {what} values at {count} of {size} entries; first at index {index}: "
            "got {got:.6g}, expected {expected:.6g} (largest absolute difference {diff:.3g})"
        ).format(fn=fn, what=what, count=int(wrong.sum()), size=wrong.size, index=index,
                 got=got[index].item(), expected=expected[index].item(), diff=diff))


def check_scalar(fn: str, what: str, got, expected: float, rtol: float = 1e-7,
                 atol: float = 1e-9) -> None:
    """``got`` must be one real number (Python or numpy scalar, 0-d array) close to expected."""
    if (not isinstance(got, (np.ndarray, np.generic, bool, int, float)) or np.ndim(got) != 0
            or not np.isrealobj(got)):
        raise AssertionError(_("{fn}: {what} should be a single number, got {type} of shape "
                               "{shape}").format(
            fn=fn, what=what, type=type_name(got),
            shape=np.shape(got) if isinstance(got, np.ndarray) else "()"))
    if not np.isclose(float(got), expected, rtol=rtol, atol=atol):
        raise AssertionError(_("{fn}: wrong {what}: got {got!r}, expected {expected!r}").format(
            fn=fn, what=what, got=float(got), expected=expected))


def no_such_case(fn: str, case, cases) -> str:
    """The message of a check called with a case its test does not have."""
    return _("{fn} has no case {case!r}; the cases are {cases}").format(
        fn=fn, case=case, cases=", ".join(repr(c) for c in cases))


@contextmanager
def helpers_replaced(fn: Callable, **replacements) -> Iterator[None]:
    """Grade ``fn`` on its own: while the block runs, the names it reads from its module (the
    notebook's namespace), for example ``zero_pad`` inside ``conv_forward``, are the given
    reference versions or stand-ins.

    Names are set even where the student never defined them (a helper lost to a syntax error),
    and put back as they were afterwards, so a wrong or missing helper costs the points of the
    helper alone. A ``tf.function`` is looked through to its Python function.
    """
    namespace = getattr(fn, "python_function", fn).__globals__
    missing = object()
    saved = {name: namespace.get(name, missing) for name in replacements}
    namespace.update(replacements)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is missing:
                namespace.pop(name, None)
            else:
                namespace[name] = value
