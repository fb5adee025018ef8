"""The grader's side of a caller's helpers: the kernel asks, the reference solution answers.

While a function that calls other graded functions is graded, each of its helpers that failed
its own tests is, in the kernel, a stand-in (``utils.graded.run_cases``) that sends each call's
arguments as plain data over the kernel's input channel. ``HelperCalls.handle`` reads each
request without trusting it and passes the calls of those helpers (and no other) to
``Answers``, which decodes the arguments, runs the reference helper and returns only its result
(or, for a gradient request, the vector-Jacobian product of the reference helper at those
arguments). When grading, ``Answers`` runs in a process of its own
(``trusted.reference_process``), with a memory limit and, for each call, the time the harness
has left: a call that would take hours is stopped, not waited for. No code goes into the
kernel, and the grader answers only for those helpers of the function being graded, whose own
verdicts are decided already (helpers are graded first).

A gradient request names the call it differentiates (one of the last ``KEPT_CALLS``, whose
arguments ``Answers`` keeps) instead of sending its arguments again. A large array whose rows
were sent before (the same photographs in every epoch's mini-batches) travels as the digests of
its rows (``utils.graded.SentRows``; ``ReceivedRows`` keeps the rows and rebuilds it): a training
run with a failed forward pass sends each photograph once, not once per epoch.

The grader never answers a helper's hidden test case: a call whose arguments are, as values,
those the helper's own hidden cases were called with (``fingerprint``) is refused, so that a
caller cannot ask the stand-in for the answers the helper was graded against.

The arguments come from the student's code, so a call is bounded: its encoded arguments
(``MAX_ARGUMENT_BYTES``), the number of requests per graded function (``max_calls``), the
memory the reference may take (``MAX_CALL_MEMORY_BYTES``) and its time. A call over a bound, or
one the reference cannot answer, is answered with an error that the stand-in raises in the
student's code.
"""
from __future__ import annotations

import contextlib
import hashlib
import inspect
import json
import resource
from typing import Any, Callable, Iterator

import numpy as np

from utils.graded import (MAX_PAYLOAD_BYTES, MIN_ROW_BYTES, ROWS_KEY, GradedFunction, decode,
                          encode, from_wire, row_digest, to_wire)
from utils.i18n import _

MAX_ARGUMENT_BYTES = 160 * 2 ** 20  # model's accuracy: forward_propagation of 1,080 photographs
MAX_REQUEST_CHARS = MAX_ARGUMENT_BYTES + 2 ** 20
MAX_CALL_MEMORY_BYTES = 2 * 2 ** 30
KEPT_CALLS = 4  # calls whose arguments are kept for a gradient request (a training step: 2)
REQUEST_KEYS = ("call", "gradient", "args", "of_call", "wrt", "upstream")  # of a stand-in
_PAGE = resource.getpagesize()


class HelperCalls:
    """Answers the requests of one graded function's run on its cases: the harness's request
    for its cases (``cases``: the harness's specification, sent once), its failed helpers'
    calls (by ``answers(message, seconds)``, with the seconds the harness has left), and the
    results at the end. The cases travel on the input channel, not in the harness's code: a
    kernel takes about a second to compile a cell that holds 4 MB of inputs as a literal."""

    def __init__(self, graded: GradedFunction, stand_ins: list[str],
                 answers: Callable[[dict, float], dict],
                 seconds_left: Callable[[], float] = lambda: float("inf"),
                 max_calls: int = 200_000, hidden: dict[str, set[str]] | None = None,
                 cases: dict | None = None):
        self.graded = graded
        self.cases = cases  # the harness's specification, until it is sent
        self.stand_ins = stand_ins  # the helpers answered here
        self.hidden = hidden or {}  # {helper: fingerprints of its hidden cases' arguments}
        self.answers = answers
        self.seconds_left = seconds_left
        self.max_calls = max_calls
        self.calls = 0  # requests received
        self.results: object = None  # what the harness sent as its results, once

    def handle(self, prompt: str) -> tuple[dict, object]:
        """(the reply to one input request of the grading harness, the results it carried
        when it was the harness's last request, else None). Every request counts toward
        ``max_calls``, the malformed and refused ones too."""
        self.calls += 1
        if self.calls > self.max_calls:
            return {"error": _("{function} sent the grader more than {count:,} requests").format(
                function=self.graded.name, count=self.max_calls)}, None
        message = parse(prompt)
        if message is None:
            return {"error": _("the grader reads only its own requests (a JSON object of at "
                               "most {size} MiB)").format(size=MAX_REQUEST_CHARS // 2 ** 20)}, None
        if "cases" in message:
            if self.cases is None:
                return {"error": _("the cases were sent already")}, None
            cases, self.cases = self.cases, None
            return {"cases": cases}, None
        if "results" in message:
            if self.results is not None:
                return {"error": _("the results were sent already")}, None
            self.results = message["results"]
            return {"received": True}, self.results
        name = message.get("call", message.get("gradient"))
        if not isinstance(name, str) or name not in self.stand_ins:
            helpers = ", ".join(self.stand_ins) or _("none here")
            return {"error": _("the grader answers only for the helpers of {function} that "
                               "failed their tests ({helpers})").format(
                function=self.graded.name, helpers=helpers)}, None
        forwarded = {k: message[k] for k in REQUEST_KEYS if k in message}
        forwarded["refused"] = sorted(self.hidden.get(name, ()))
        reply = self.answers(forwarded, max(self.seconds_left(), 1.0))
        if "error" in reply:
            reply = {"error": _("{helper} (the grader's, standing in for yours while {function} "
                                "is graded) could not answer this call: {why}").format(
                helper=name, function=self.graded.name, why=reply["error"])}
        return reply, None


class Answers:
    """The reference helpers' answers to stand-in calls: ``answers(message)`` is the reply
    (``{"value": ..., "call": number}`` or ``{"error": why}``); ``reference(name)`` is the
    reference function ``name``."""

    def __init__(self, reference: Callable[[str], Callable]):
        self.reference = reference
        self.calls = 0
        self._recent: dict[int, tuple[list, dict]] = {}  # the last calls' arguments, by number
        self._rows = ReceivedRows()

    def __call__(self, message: dict, seconds: float = float("inf")) -> dict:
        name = message.get("call", message.get("gradient"))
        try:
            if "gradient" in message:
                if message.get("of_call") not in self._recent:
                    raise ValueError(_("a gradient of an unknown or old call"))
                args, kwargs = self._recent[message["of_call"]]
                return _reply(encode(to_wire(_gradient(self.reference(name), args, kwargs,
                                                       message))))
            try:
                wire = self._rows.unpack(decode(message.get("args"), MAX_ARGUMENT_BYTES))
            except UnknownRows:
                return {"resend": True}
            if refused(wire, message.get("refused", ()), self.reference(name)):
                raise ValueError(_("these are the arguments of one of its hidden test cases, "
                                   "which the grader does not answer"))
            args, kwargs = from_wire(wire)
            if not isinstance(args, list) or not isinstance(kwargs, dict):
                raise ValueError(_("malformed arguments"))
            value = self.reference(name)(*args, **kwargs)
            self.calls += 1
            self._recent[self.calls] = args, kwargs
            self._recent.pop(self.calls - KEPT_CALLS, None)
            return _reply(encode(to_wire(value)), self.calls)
        except (ValueError, TypeError) as error:
            return {"error": str(error)[:500]}
        except MemoryError:
            return {"error": _("its arguments need more memory than the grader gives one call")}
        except Exception as error:  # noqa: BLE001 (the reference cannot work on these arguments)
            return {"error": f"{type(error).__name__}: {str(error)[:500]}"}


class UnknownRows(Exception):
    """A packed array names a row this process does not have (``ReceivedRows``)."""


class ReceivedRows:
    """The rows a stand-in has sent row by row (``utils.graded.SentRows``), kept by digest for
    its later calls, ``MAX_ARGUMENT_BYTES`` at most (then forgotten: the stand-in sends them
    again when the reply asks it to resend). Each kept row is a copy of at least
    ``MIN_ROW_BYTES`` (so that what a row costs beside its values stays small), and each row
    sent must be one of those its array names, once."""

    def __init__(self):
        self.rows: dict[str, np.ndarray] = {}
        self.bytes = 0

    def unpack(self, wire: Any) -> Any:
        """``wire`` with each packed array rebuilt; ValueError when one is malformed or its
        arrays, rebuilt and sent whole, would hold more than ``MAX_ARGUMENT_BYTES``;
        UnknownRows when one names a row not kept."""
        rebuilt = 0  # bytes of the arrays so far, rebuilt and sent whole

        def walk(value: Any) -> Any:
            nonlocal rebuilt
            if isinstance(value, np.ndarray) or (isinstance(value, dict)
                                                 and set(value) == {ROWS_KEY, "new"}):
                left = MAX_ARGUMENT_BYTES - rebuilt
                array = (value if isinstance(value, np.ndarray)
                         else self._rebuilt(value[ROWS_KEY], value["new"], left))
                if array.nbytes > left:
                    raise _too_large()
                rebuilt += array.nbytes
                return array
            if isinstance(value, dict):
                return {k: walk(v) for k, v in value.items()}
            if isinstance(value, list):
                return [walk(v) for v in value]
            return value
        return walk(wire)

    def _rebuilt(self, digests: Any, new: Any, left: int) -> np.ndarray:
        """The array of the rows ``digests`` names, ``new`` kept first; ValueError before it
        is made when it would hold more than ``left`` bytes."""
        if not (isinstance(digests, list) and digests and all(isinstance(d, str) for d in digests)
                and isinstance(new, np.ndarray) and new.ndim >= 2
                and new.dtype.itemsize * int(np.prod(new.shape[1:])) >= MIN_ROW_BYTES):
            raise ValueError(_("malformed arguments"))
        named, sent = set(digests), set()
        for row in new:
            digest = row_digest(row)
            if digest not in named or digest in sent:
                raise ValueError(_("malformed arguments"))
            sent.add(digest)
            if digest in self.rows:
                continue
            if self.bytes + row.nbytes > MAX_ARGUMENT_BYTES:
                self.rows.clear()
                self.bytes = 0
            self.rows[digest] = row.copy()  # not a view, which would keep all of ``new``
            self.bytes += row.nbytes
        if not all(d in self.rows for d in digests):
            raise UnknownRows()
        first = self.rows[digests[0]]
        if len(digests) * first.nbytes > left:
            raise _too_large()
        rows = [self.rows[d] for d in digests]
        if any(r.shape != first.shape or r.dtype != first.dtype for r in rows):
            raise ValueError(_("malformed arguments"))
        return np.stack(rows)


def _too_large() -> ValueError:
    return ValueError(_("arguments larger than {size} MiB").format(
        size=MAX_ARGUMENT_BYTES // 2 ** 20))


def refused(wire: Any, fingerprints: Any, function: Callable | None = None) -> bool:
    """Whether the arguments ``wire`` have one of ``fingerprints``, as sent or, with
    ``function``, bound to its parameters with its defaults filled in (``call_fingerprints``
    keeps both): the hash of their values is computed only when one of those has the same
    shapes."""
    if not isinstance(fingerprints, list | tuple | set) or not fingerprints:
        return False
    for call in (wire, _with_defaults(wire, function)):
        if call is None:
            continue
        leaves = _leaves(call)
        shapes = _shapes_digest(leaves)
        if (any(isinstance(f, str) and f.startswith(shapes) for f in fingerprints)
                and _fingerprint(leaves) in fingerprints):
            return True
    return False


def fingerprint(wire: Any) -> str:
    """A hash of a call's arguments as values, as they travel (``[args, kwargs]`` through
    ``to_wire``, ``encode`` and ``decode``), whatever way they are passed: the multiset of its
    numbers and arrays, positional or by keyword, in any order, at float32's precision, without
    their size-1 axes; numbers, arrays, tensors and variables of equal values hash alike, and so
    do a list or tuple of numbers and the array it makes. Strings and None are not hashed (a
    layer's name, a mode: a call that differs from a hidden case's only by them is refused as
    the hidden case is). It begins with the hash of the shapes alone (``refused``)."""
    return _fingerprint(_leaves(wire))


def _with_defaults(wire: Any, function: Callable | None) -> list | None:
    """The call ``wire`` (``[args, kwargs]``) bound to ``function``'s parameters, its defaults
    filled in, as ``[[], {parameter: value}]``; None when it does not bind (or no function)."""
    if function is None or not (isinstance(wire, list) and len(wire) == 2
                                and isinstance(wire[0], list) and isinstance(wire[1], dict)):
        return None
    try:
        bound = inspect.signature(function).bind(*wire[0], **wire[1])
    except (TypeError, ValueError):
        return None
    bound.apply_defaults()
    return [[], dict(bound.arguments)]


def _fingerprint(leaves: list[tuple[bytes, np.ndarray]]) -> str:
    def values(array: np.ndarray) -> bytes:  # + 0: -0.0 hashes as 0.0 does
        return (array.astype(np.float32) + np.float32(0)).tobytes()

    digest = hashlib.sha256()
    for leaf in sorted(hashlib.sha256(shape + b"\0" + values(array)).digest()
                       for shape, array in leaves):
        digest.update(leaf)
    return f"{_shapes_digest(leaves)}:{digest.hexdigest()}"


def _shapes_digest(leaves: list[tuple[bytes, np.ndarray]]) -> str:
    """The hash of the leaves' shapes, in any order."""
    return hashlib.sha256(b"\0".join(sorted(shape for shape, _array in leaves))).hexdigest()[:16]


def _leaves(wire: Any) -> list[tuple[bytes, np.ndarray]]:
    """(shape without its size-1 axes, values) of each number or array of ``wire``
    (``fingerprint``); strings and None are left out."""
    leaves: list[tuple[bytes, np.ndarray]] = []

    def walk(value: Any) -> None:
        if isinstance(value, dict) and len(value) == 1 and (
                next(iter(value)) in ("__tensor__", "__variable__")):
            walk(next(iter(value.values())))
        elif isinstance(value, dict):
            for item in value.values():
                walk(item)
        elif isinstance(value, list | tuple) and _number_array(value) is None:
            for item in value:
                walk(item)
        elif value is not None and not isinstance(value, str):
            array = _number_array(value) if isinstance(value, list | tuple) else np.asarray(value)
            leaves.append((repr(tuple(d for d in array.shape if d != 1)).encode(), array))

    walk(wire)
    return leaves


def _number_array(value: list | tuple) -> np.ndarray | None:
    """The array of numbers a non-empty list or tuple makes (nested, rectangular), else None."""
    if not value:
        return None
    try:
        array = np.asarray(value)
    except ValueError:  # not rectangular
        return None
    return array if array.dtype.kind in "biuf" else None


def call_fingerprints(graded: GradedFunction, inputs: dict,
                      function: Callable | None = None) -> set[str]:
    """The fingerprints of the arguments of every call ``graded.call`` makes of its function
    for ``inputs`` (a function that returns None stands in for the graded one), as made and,
    with ``function`` (the reference's), bound to its parameters with its defaults filled in
    (``refused``)."""
    seen = []

    def recorder(*args, **kwargs):
        seen.append([list(args), kwargs])

    with contextlib.suppress(Exception):  # what call makes of None does not matter here
        graded.call(recorder, inputs)
    prints = set()
    for call in seen:
        with contextlib.suppress(TypeError, ValueError):  # arguments no stand-in could send
            wire = decode(encode(to_wire(call)))
            prints.update(fingerprint(c) for c in (wire, _with_defaults(wire, function))
                          if c is not None)
    return prints


def _reply(value: str, call: int | None = None) -> dict:
    """The reply carrying an encoded answer; an error when the kernel could not read it."""
    if len(value) > MAX_PAYLOAD_BYTES:
        return {"error": _("its answer would be over the {size} MiB an answer may have").format(
            size=MAX_PAYLOAD_BYTES // 2 ** 20)}
    return {"value": value} if call is None else {"value": value, "call": call}


def _gradient(fn: Callable, args: list, kwargs: dict, message: dict) -> list:
    """The gradient of ``fn``'s outputs, weighted by the upstream gradients, with respect to
    the arguments at the flat positions ``wrt``."""
    import tensorflow as tf

    flat = tf.nest.flatten([args, kwargs])
    wrt = message.get("wrt")
    if (not isinstance(wrt, list) or not all(isinstance(i, int) and 0 <= i < len(flat)
                                             and tf.is_tensor(flat[i]) for i in wrt)):
        raise ValueError(_("malformed gradient request"))
    upstream = from_wire(decode(message.get("upstream"), MAX_ARGUMENT_BYTES))
    sources = [flat[i] for i in wrt]
    with tf.GradientTape() as tape:
        tape.watch(sources)
        args, kwargs = tf.nest.pack_sequence_as([args, kwargs], flat)
        outputs = [tf.convert_to_tensor(o) for o in tf.nest.flatten(fn(*args, **kwargs))]
    if not isinstance(upstream, list) or len(upstream) != len(outputs):
        raise ValueError(_("malformed gradient request"))
    grads = tape.gradient(outputs, sources, output_gradients=upstream)
    return [tf.zeros_like(s) if g is None else g for g, s in zip(grads, sources)]


@contextlib.contextmanager
def _bounded_memory(extra: int) -> Iterator[None]:
    """While the block runs, this process may map at most ``extra`` more bytes (MemoryError
    beyond, from numpy and TensorFlow alike)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    with open("/proc/self/statm") as statm:
        mapped = int(statm.read().split()[0]) * _PAGE
    limit = mapped + extra
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    if soft != resource.RLIM_INFINITY:
        limit = min(limit, soft)
    resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


def parse(prompt: str) -> dict | None:
    """A request of the grading harness from the text of an input request; None when it is
    not one (not a JSON object, too large or nested too deeply)."""
    if len(prompt) > MAX_REQUEST_CHARS:
        return None
    try:
        with _bounded_memory(MAX_CALL_MEMORY_BYTES):  # 160 MiB of "[]," are 3 GiB of lists
            message = json.loads(prompt)
    except (ValueError, RecursionError, MemoryError):
        return None
    return message if isinstance(message, dict) else None
