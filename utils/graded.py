"""Graded functions: how each one is called, what it must return, and how answers are compared.

Every graded function of an assignment has a :class:`GradedFunction` in the assignment's public
test module (``utils/public_tests/<assignment>.py``), registered in that module's ``CHECKS``.
A test case is a set of literal parameters (shapes, seed, stride, ...), and a test has three
steps:

``inputs(**case)``
    the arguments of the case, built from its parameters as plain data: numpy arrays, numbers,
    strings, lists and dicts of them;
``call(fn, inputs)``
    calls the function under test and turns what it returns into plain data (arrays, numbers,
    booleans, strings), noting the facts the comparison needs (is it a tuple? a tf.Variable?);
``compare(case, inputs, got, expected)``
    raises AssertionError with a message that names the function, the case and what differs;
    ``expected`` is the reference solution's answer, obtained through the same ``call``. Each
    subclass checks the answer in ``assert_answer``; when that fails and the answer shows one of
    the function's classic ``mistakes`` (``utils.mistakes``), the message starts with the
    mistake's hint, its cause and its fix, and goes on with what differs.

When a submission is graded, only ``call`` runs in the student's kernel: the grader builds the
inputs, sends them in as data, receives the plain answer back (:func:`encode` / :func:`decode`,
arrays without pickle), runs the reference solution through ``call`` in its own process and
compares there. Tampering with anything inside the kernel can then only make the student's own
answers wrong.

In a student's notebook, ``check(fn, **case)`` runs the three steps in the kernel for immediate
feedback, with the reference answers of the public cases, which are stored with the course
(``public_answers/<assignment>.json``, written by the instructor's tooling from the reference
solution). A failed check raises ``utils.notebook_failures.CheckFailed``, which the notebook
shows as its message alone, in short lines.
Nothing a student can import computes the answer to any other case: no reference code, and no
independent method that would do the student's work.

A function that calls other graded functions (``helpers``) is graded on its own. While it is
graded, each helper that failed its own tests (or whose own helpers did) is a stand-in that
sends its arguments to the grader as data and returns what the grader's reference helper
answers (:func:`run_cases`); with ``helper_gradients``, the stand-in's gradient is asked for the
same way, so that a caller differentiating through its helpers can be graded too, and every
``tf.function`` runs eagerly meanwhile. A helper that passed every test with the student's own
helpers stays the student's own. A helper called on symbolic tensors (a block of a Keras model
being built) cannot be answered as data: its stand-in is the caller's public ``placeholders``
entry instead (something of the helper's output shape, not the helper), and the reference's
answer is computed with the same placeholder. The grader answers only for the failed helpers
of the function it is grading, whose verdicts are already decided. In the notebook, ``check``
first runs the helpers' own tests and says which helper to fix first when one fails.
"""

from __future__ import annotations

import base64
import contextlib
import functools
import hashlib
import io
import json
import sys
import zipfile
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np

from utils.checks import helpers_replaced
from utils.i18n import _
from utils.mistakes import Mistake, recognised
from utils.notebook_failures import CheckFailed, without_course_frames

MAX_PAYLOAD_BYTES = 64 * 2 ** 20  # largest encoded answer the grader reads
_ARRAY_KINDS = "biuf"  # booleans, signed and unsigned integers, floats


class GradedFunction:
    """The test of one graded function; subclasses define the three steps (module docstring)."""

    name: str = ""  # the function's name, also the answer cell's grade id
    helpers: tuple[str, ...] = ()  # graded functions it calls
    helper_gradients: bool = False  # whether ``call`` differentiates through the helpers
    # {helper: a public stand-in of the helper's shape contract}, for helpers called on symbolic
    # tensors (a Keras model being built), which the grader cannot answer as data
    placeholders: dict[str, Callable] = {}
    stand_ins: tuple[str, ...] = ()  # the notebook's names ``call`` replaces while it runs
    default_case: dict = {}  # the case a caller's check uses to test this function first
    mistakes: tuple[Mistake, ...] = ()  # the exercise's classic mistakes, in the order tried
    # parameters whose numbers the grader scales afresh in each run's hidden cases (hand-built
    # cases: signs, zeros and order kept), so that their answers cannot be learnt
    varied: tuple[str, ...] = ()

    def inputs(self, **case) -> dict:
        raise NotImplementedError

    def call(self, fn: Callable, inputs: dict) -> dict:
        raise NotImplementedError

    def assert_answer(self, case: dict, inputs: dict, got: dict, expected: Any) -> None:
        """Raise AssertionError naming the function, the case and what differs, when ``got``
        is not the reference's answer ``expected``."""
        raise NotImplementedError

    def compare(self, case: dict, inputs: dict, got: dict, expected: Any) -> None:
        """``assert_answer``, its message led by the hint of the first classic mistake the
        answer shows, if any."""
        try:
            self.assert_answer(case, inputs, got, expected)
        except AssertionError as failure:
            seen = recognised(self.mistakes, inputs, got, expected)
            if not seen:
                raise
            raise AssertionError(f"{seen[0].hint(self.name)}\n{failure}") from None

    def recompute(self, inputs: dict, got: Any, expected: Any,
                  reference: Callable[[str], Callable]) -> dict:
        """Facts about an answer that the grader establishes itself, in its own process, with
        the reference's functions (``reference(name)``) on the plain data of ``got``; they
        replace what the kernel reported under the same keys before ``compare``. {} here: a
        function whose answer is only values to compare needs none."""
        return {}

    def label(self, case: dict) -> str:
        """``name (key=value, ...)``: how messages name the function and the case."""
        if not case:
            return self.name
        return f"{self.name} ({', '.join(f'{k}={v!r}' for k, v in case.items())})"

    def check(self, fn: Callable, **case) -> None:
        """Test ``fn`` on one case, in the notebook: helpers first, then ``fn`` itself.

        A failure raises CheckFailed with the message; an error of the student's code keeps its
        traceback without the frames of the checks (``utils.notebook_failures``)."""
        __tracebackhide__ = True  # IPython leaves this frame out of tracebacks
        try:
            self._check(fn, **case)
        except AssertionError as failure:
            raise CheckFailed(str(failure)) from None
        except Exception as error:  # noqa: BLE001 (the student's error, shown as raised)
            raise error.with_traceback(without_course_frames(error.__traceback__)) from None

    def _check(self, fn: Callable, **case) -> None:
        checks = CHECKS_BY_MODULE[type(self).__module__]
        for helper in self.helpers:
            self._check_helper(fn, helper, checks[helper])
        expected = public_answer(self, case)
        inputs = self.inputs(**case)
        got = decode(encode(self.call(fn, inputs)))  # the same plain data the grader receives
        self.compare(case, inputs, got, expected)

    def _check_helper(self, fn: Callable, helper: str, graded: "GradedFunction") -> None:
        function = getattr(fn, "python_function", fn)
        if helper not in _names_used(getattr(function, "__code__", None)):
            return  # this version of the function does not call the helper
        namespace = function.__globals__
        if helper not in namespace:
            raise AssertionError(_("{function} calls {helper}, which is not defined: run the "
                                   "cell of {helper} first").format(function=self.name,
                                                                    helper=helper))
        try:
            graded._check(namespace[helper], **graded.default_case)
        except Exception as error:  # noqa: BLE001 (a helper that raises is wrong too)
            why = error if isinstance(error, AssertionError) else _(
                "{helper} raised {error}: {message}").format(
                helper=helper, error=type(error).__name__, message=error)
            raise AssertionError(_("{function} calls {helper}, which is wrong: fix {helper} first "
                                   "(its test fails: {why})").format(
                function=self.name, helper=helper, why=why)) from None


PUBLIC_ANSWERS = Path(__file__).parent / "public_tests" / "public_answers"


def case_key(function: str, case: dict) -> str:
    """How a case is named in the stored answers: the function and its sorted parameters, with
    tuples as lists and numpy types by name (``np.int64`` and ``"int64"`` are the same case)."""
    def canonical(value):
        if isinstance(value, type) and issubclass(value, np.generic):
            return np.dtype(value).name
        if isinstance(value, (list, tuple)):
            return [canonical(v) for v in value]
        if isinstance(value, dict):
            return {k: canonical(v) for k, v in value.items()}
        return value

    return f"{function} {json.dumps(canonical(case), sort_keys=True)}"


def public_answers_path(module: str) -> Path:
    """The stored public answers of a public test module (``utils.public_tests.<name>``)."""
    return PUBLIC_ANSWERS / f"{module.rsplit('.', 1)[-1]}.json"


@functools.lru_cache(maxsize=8)
def _stored(module: str) -> dict[str, str]:
    """{case key: encoded answer} of a public test module's stored answers."""
    path = public_answers_path(module)
    return json.loads(path.read_text())["answers"] if path.is_file() else {}


def public_answer(graded: GradedFunction, case: dict):
    """The reference solution's answer to a public case, as stored with the course."""
    key = case_key(graded.name, case)
    stored = _stored(type(graded).__module__)
    if key in stored:
        return decode(stored[key])
    if hidden_answers is None:
        raise AssertionError(_("{label}: this case is not one of the notebook's public tests, "
                               "so there is no answer to compare with").format(
            label=graded.label(case)))
    return hidden_answers(graded, case)


# The reference answer to a case that is not public (a hidden check of a source notebook):
# only the instructor's tooling computes it, and sets this in the kernels where it runs a source
# notebook (``course.execution.execute_notebook(..., hidden_answers=True)``); None in every other
# kernel, a student's and a grading kernel's included.
hidden_answers: Callable[[GradedFunction, dict], Any] | None = None


def _names_used(code) -> set[str]:
    """The global names a function's code reads, nested functions and lambdas included."""
    if code is None:
        return set()
    names = set(code.co_names)
    for constant in code.co_consts:
        if hasattr(constant, "co_names"):
            names |= _names_used(constant)
    return names


CHECKS_BY_MODULE: dict[str, dict[str, GradedFunction]] = {}


def register(*graded: GradedFunction) -> dict[str, GradedFunction]:
    """``CHECKS`` of a public test module: {function name: its GradedFunction}."""
    checks = {g.name: g for g in graded}
    CHECKS_BY_MODULE[type(graded[0]).__module__] = checks
    return checks


def run_cases(namespace: dict) -> None:
    """The grading harness, run in the student's kernel: ask the grader for its cases, call
    one graded function on them, its failed helpers answered by the grader (or replaced by the
    function's public placeholders), and send the grader the plain results.

    The grader's cases name the public test module, the function, the encoded inputs of each
    case and the helpers the grader answers for (``answered_by_grader``: those that failed
    their tests). Everything travels through :func:`ask_grader`.
    """
    import importlib

    spec = ask_grader({"cases": True})["cases"]
    graded = importlib.import_module(spec["module"]).CHECKS[spec["function"]]
    results = []
    fn = namespace.get(spec["function"])
    stand_ins = {name: graded.placeholders.get(name) or _answered_by_grader(
        name, graded.helper_gradients) for name in spec["answered_by_grader"]
        if name in graded.helpers}
    for encoded in spec["cases"]:
        if fn is None:
            results.append({"error": ["NameError", _(
                "{function} is not defined: did its cell run without an error?").format(
                function=spec["function"])]})
            continue
        try:
            with helpers_replaced(fn, **stand_ins), _eager_functions(bool(stand_ins)):
                results.append({"outputs": encode(graded.call(fn, decode(encoded)))})
        except Exception as error:  # noqa: BLE001 (the student's error is the result)
            results.append({"error": [type(error).__name__, str(error)[:2000]]})
    ask_grader({"results": results})


@contextlib.contextmanager
def _eager_functions(eager: bool) -> Iterator[None]:
    """While the block runs, with ``eager``, every ``tf.function`` runs as plain Python, so
    that a stand-in called inside one (a training step) receives values, not symbols."""
    tf = sys.modules.get("tensorflow")
    if not eager or tf is None:
        yield
        return
    before = tf.config.functions_run_eagerly()
    tf.config.run_functions_eagerly(True)
    try:
        yield
    finally:
        tf.config.run_functions_eagerly(before)


class HelperError(Exception):
    """The grader could not answer a helper's stand-in (the message says why)."""


def ask_grader(message: dict) -> dict:
    """Send ``message`` to the grader over the kernel's input channel; return its reply.

    Requests: ``{"cases": true}`` once, first (the reply carries them),
    ``{"call": helper, "args": ...}`` (encoded; the reply numbers the call),
    ``{"gradient": helper, "of_call": number, "wrt": [...], "upstream": ...}``, and
    ``{"results": [...]}`` once, at the end.
    Raises HelperError with the grader's reason when it does not answer.
    """
    import builtins

    reply = json.loads(builtins.input(json.dumps(message)))
    if "error" in reply:
        raise HelperError(reply["error"])
    return reply


def _answered_by_grader(name: str, gradients: bool) -> Callable:
    """A stand-in for the helper ``name``: its arguments go to the grader, whose reference
    helper's answer comes back (with its gradient, through ``tf.custom_gradient``, when
    ``gradients``)."""
    sent = SentRows()

    def ask(args: tuple, kwargs: dict) -> tuple[Any, int]:
        """(the grader's answer, the number of the call)."""
        wire = to_wire([list(args), kwargs])
        reply = ask_grader({"call": name, "args": encode(sent.pack(wire))})
        if reply.get("resend"):  # the grader no longer has some rows (a new reference process)
            sent.forget()
            reply = ask_grader({"call": name, "args": encode(sent.pack(wire))})
        if "value" not in reply:
            raise HelperError(_("the grader did not answer"))
        return from_wire(decode(reply["value"])), reply.get("call")

    def stand_in(*args, **kwargs):
        if not gradients:
            return ask(args, kwargs)[0]
        import tensorflow as tf

        flat = [tf.convert_to_tensor(x) if hasattr(x, "assign") else x  # variables: read
                for x in tf.nest.flatten([list(args), kwargs])]  # here, where the tape sees it
        wrt = [i for i, x in enumerate(flat) if tf.is_tensor(x) and x.dtype.is_floating
               and _recorded(x)]
        if not wrt:
            return ask(*tf.nest.pack_sequence_as([list(args), kwargs], flat))[0]

        @tf.custom_gradient
        def answered(*tensors):
            for i, tensor in zip(wrt, tensors):
                flat[i] = tensor
            value, call = ask(*tf.nest.pack_sequence_as([list(args), kwargs], flat))
            value = tf.nest.map_structure(tf.convert_to_tensor, value)

            def gradient(*upstream):
                outputs = tf.nest.flatten(value)
                upstream = [tf.zeros_like(o) if u is None else u
                            for u, o in zip(upstream, outputs)]
                reply = ask_grader({"gradient": name, "of_call": call, "wrt": wrt,
                                    "upstream": encode(to_wire(upstream))})
                return from_wire(decode(reply["value"]))

            return value, gradient

        return answered(*[flat[i] for i in wrt])

    stand_in.__name__ = stand_in.__qualname__ = name
    stand_in.__doc__ = (f"{name} while its caller is graded: the grader's reference {name}, "
                        "asked for each call")
    return stand_in


def _recorded(tensor) -> bool:
    """Whether a gradient tape records ``tensor`` (so that its gradient is needed); True
    when TensorFlow cannot tell."""
    try:
        from tensorflow.python.eager import record
    except ImportError:
        return True
    return bool(record.should_record_backprop([tensor]))


ROWS_KEY = "__rows__"  # a stand-in's array sent row by row (SentRows)
MIN_ROW_BYTES = 4096  # the smallest row sent by its digest once the grader has it


def row_digest(row: np.ndarray) -> str:
    """The digest of one row of an array (its dtype, shape and values), by which the stand-in
    names a row the grader has already received."""
    digest = hashlib.blake2b(f"{row.dtype.str}{row.shape}".encode(), digest_size=16)
    digest.update(np.ascontiguousarray(row))
    return digest.hexdigest()


class SentRows:
    """The rows of large arrays that one stand-in has sent the grader. A training loop sends
    the same photographs every epoch, in other mini-batches: ``pack`` sends an array whose
    rows are at least ``MIN_ROW_BYTES`` as ``{ROWS_KEY: [row_digest of each row], "new": the
    rows not sent before}``, and the grader (``helper_calls.ReceivedRows``) rebuilds it from
    the rows it kept. ``forget`` when the grader asks for everything again."""

    def __init__(self):
        self.sent: set[str] = set()

    def pack(self, wire: Any) -> Any:
        """``wire`` (``to_wire``'s) with its large arrays packed."""
        if (isinstance(wire, np.ndarray) and wire.ndim >= 2 and len(wire)
                and wire.dtype.kind in _ARRAY_KINDS and wire[0].nbytes >= MIN_ROW_BYTES):
            digests = [row_digest(row) for row in wire]
            new = {digest: i for i, digest in enumerate(digests) if digest not in self.sent}
            self.sent.update(new)
            return {ROWS_KEY: digests, "new": wire[list(new.values())]}
        if isinstance(wire, dict):
            if ROWS_KEY in wire:
                raise TypeError(_("the key '{key}' is reserved").format(key=ROWS_KEY))
            return {k: self.pack(v) for k, v in wire.items()}
        if isinstance(wire, list):
            return [self.pack(v) for v in wire]
        return wire

    def forget(self) -> None:
        self.sent.clear()


def to_wire(value: Any) -> Any:
    """``value`` with every TensorFlow tensor as ``{"__tensor__": array}`` and every variable
    as ``{"__variable__": array}``, for :func:`encode`; :func:`from_wire` makes them tensors
    and variables again on the other side."""
    if hasattr(value, "numpy") and hasattr(value, "dtype") and not isinstance(
            value, (np.ndarray, np.generic)):
        kind = "__variable__" if hasattr(value, "assign") else "__tensor__"
        try:
            return {kind: np.asarray(value.numpy())}
        except (AttributeError, NotImplementedError, TypeError, ValueError):
            raise TypeError(_("a symbolic tensor (inside a tf.function or a Keras model) "
                              "cannot be sent to the grader; call the helper eagerly")) from None
    if isinstance(value, (list, tuple)):
        return [to_wire(v) for v in value]
    if isinstance(value, dict):
        return {k: to_wire(v) for k, v in value.items()}
    return value


def from_wire(value: Any) -> Any:
    """The inverse of :func:`to_wire`, on decoded data."""
    if isinstance(value, dict):
        if len(value) == 1 and isinstance(next(iter(value.values())), np.ndarray):
            import tensorflow as tf

            if "__tensor__" in value:
                return tf.constant(value["__tensor__"])
            if "__variable__" in value:
                return tf.Variable(value["__variable__"])
        return {k: from_wire(v) for k, v in value.items()}
    if isinstance(value, list):
        return [from_wire(v) for v in value]
    return value


def encode(value: Any) -> str:
    """Plain data as text: JSON with the arrays in a base64 ``.npz`` (no pickle).

    Accepts numpy arrays of booleans or numbers, numpy scalars, None, bool, int, float, str,
    and lists, tuples and str-keyed dicts of these (tuples become lists).
    Raises TypeError naming anything else.
    """
    arrays: dict[str, np.ndarray] = {}

    def plain(v):
        if isinstance(v, np.ndarray) or isinstance(v, np.generic):
            array = np.asarray(v)
            if array.dtype.kind not in _ARRAY_KINDS:
                raise TypeError(_("an array of dtype {dtype} cannot be graded").format(
                    dtype=array.dtype))
            key = f"a{len(arrays)}"
            arrays[key] = array
            return {"__array__": key}
        if v is None or isinstance(v, (bool, int, float, str)):
            return v
        if isinstance(v, (list, tuple)):
            return [plain(x) for x in v]
        if isinstance(v, dict) and all(isinstance(k, str) for k in v):
            if "__array__" in v:
                raise TypeError(_("the key '__array__' is reserved"))
            return {k: plain(x) for k, x in v.items()}
        raise TypeError(_("a {type} cannot be graded; return numbers or arrays").format(
            type=type(v).__name__))

    tree = plain(value)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:  # an .npz with fixed dates: same data, same text
        for key, array in arrays.items():
            with archive.open(zipfile.ZipInfo(f"{key}.npy", date_time=(1980, 1, 1, 0, 0, 0)),
                              "w") as member:
                np.lib.format.write_array(member, array,
                                          allow_pickle=False)
    return json.dumps({"tree": tree, "npz": base64.b64encode(buffer.getvalue()).decode()})


def decode(text: str, max_bytes: int = MAX_PAYLOAD_BYTES) -> Any:
    """The plain data of :func:`encode`, read without trusting it: at most ``max_bytes``
    encoded and once decompressed, each array's header checked against its stored size, arrays
    loaded with ``allow_pickle=False`` and only of boolean or numeric dtypes. ValueError
    otherwise (never another exception, however the text was made)."""
    if not isinstance(text, str) or len(text) > max_bytes:
        raise ValueError(_("an answer larger than {size:g} MiB cannot be graded").format(
            size=max_bytes / 2 ** 20))
    try:
        message = json.loads(text)
        tree = message["tree"]
        arrays = _arrays(base64.b64decode(message["npz"], validate=True), max_bytes)
    except RecursionError:
        raise ValueError(_("malformed answer: nested too deeply")) from None
    except (KeyError, TypeError, ValueError, OSError, EOFError, zipfile.BadZipFile) as error:
        raise ValueError(_("malformed answer ({error}: {message})").format(
            error=type(error).__name__, message=error)) from None
    try:
        return _restore(tree, arrays)
    except RecursionError:
        raise ValueError(_("malformed answer: nested too deeply")) from None


def _arrays(npz: bytes, max_bytes: int) -> dict[str, np.ndarray]:
    """The arrays of an encoded answer's ``.npz``, checked before they are read."""
    arrays = {}
    with zipfile.ZipFile(io.BytesIO(npz)) as archive:
        members = archive.infolist()
        names = [m.filename for m in members]
        if len(set(names)) != len(names):
            raise ValueError(_("an archive entry is repeated"))
        if sum(m.file_size for m in members) > max_bytes:
            raise ValueError(_("larger than {size:g} MiB once decompressed").format(
                size=max_bytes / 2 ** 20))
        for member in members:
            with archive.open(member) as stream:
                version = np.lib.format.read_magic(stream)
                read_header = {(1, 0): np.lib.format.read_array_header_1_0,
                               (2, 0): np.lib.format.read_array_header_2_0}.get(version)
                if read_header is None:
                    raise ValueError(_("an array in format {version}").format(version=version))
                shape, fortran_order, dtype = read_header(stream)
                if dtype.kind not in _ARRAY_KINDS:
                    raise ValueError(_("a non-numeric array (dtype {dtype})").format(
                        dtype=dtype))
                size = int(np.prod(shape, dtype=np.float64)) * dtype.itemsize
                if size > member.file_size:
                    raise ValueError(_("an array larger than its stored data"))
                data = bytearray(stream.read(size))  # writable, as np.load's arrays are
            if len(data) != size:
                raise ValueError(_("an array shorter than its header says"))
            arrays[member.filename.removesuffix(".npy")] = np.frombuffer(data, dtype).reshape(
                shape, order="F" if fortran_order else "C")
    return arrays


def _restore(v: Any, arrays: dict[str, np.ndarray]) -> Any:
    """An encoded answer's tree with its arrays in place."""
    if isinstance(v, dict):
        if set(v) == {"__array__"}:
            array = arrays.get(v["__array__"]) if isinstance(v["__array__"], str) else None
            if not isinstance(array, np.ndarray) or array.dtype.kind not in _ARRAY_KINDS:
                raise ValueError(_("malformed answer: a missing or non-numeric array"))
            return array
        return {k: _restore(x, arrays) for k, x in v.items()}
    if isinstance(v, list):
        return [_restore(x, arrays) for x in v]
    if v is None or isinstance(v, (bool, int, float, str)):
        return v
    raise ValueError(_("malformed answer: a {type}").format(type=type(v).__name__))
