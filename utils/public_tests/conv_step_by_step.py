"""Tests of assignment 1 (convolution step by step), one GradedFunction per graded function.

Answers are compared with the reference solution's: stored for the public cases, computed by
the grader for all cases (``utils.graded``). The tests of the course check the reference
solution itself against independent methods (im2col, central differences).

The notebook calls ``check_<function>(<function>, **case)``; the cases' parameters (shapes,
stride, padding, seed) are literals, so the grader can run the same cases from the data side.

Each GradedFunction lists the classic mistakes of its exercise (``mistakes``, see
``utils.mistakes``). Some ``call``s also run the student's function on probes, related inputs
whose reference answers are what a mistake gives: the other pooling mode, an upstream gradient
of ones, no padding. A probe that raises counts as no answer.
"""

from __future__ import annotations

import numpy as np

from utils.checks import answer, check_close, check_ndarray, check_scalar, check_shape
from utils.conv_fast import output_size
from utils.graded import GradedFunction, register
from utils.i18n import N_, _
from utils.mistakes import Mistake, close, differs, scalar, scaled_by, shape, unstrided
from utils.student_errors import capture


def _inputs_unchanged(fn: str, got: dict) -> None:
    if not got["inputs_unchanged"]:
        raise AssertionError(_("{function}: modified its input in place; work on a copy "
                               "instead").format(function=fn))


def _same(before: dict, after: dict) -> bool:
    return all(np.array_equal(before[k], after[k]) for k in before)


def _probe(fn, *args, **kwargs):
    """The first array ``fn`` returns (its output, with or without a cache) as plain data, or
    None when it raises."""
    result, raised = capture(fn, *args, **kwargs)
    if raised is not None:
        return None
    return answer(result[0] if isinstance(result, tuple) and result else result)


def _other(mode: str) -> str:
    return "average" if mode == "max" else "max"


class ZeroPad(GradedFunction):
    """zero_pad(X, pad): pad the two spatial axes (1 and 2) with ``pad`` zeros per side."""

    name = "zero_pad"

    def inputs(self, shape=(4, 3, 3, 2), pad=3, seed=1, dtype="float64"):
        rng = np.random.default_rng(seed)
        return {"X": (rng.standard_normal(shape) * 10).astype(np.dtype(dtype)), "pad": pad}

    def call(self, fn, inputs):
        X = inputs["X"].copy()
        X_pad = fn(X, inputs["pad"])
        return {"X_pad": answer(X_pad), "inputs_unchanged": bool(np.array_equal(X, inputs["X"]))}

    def assert_answer(self, case, inputs, got, expected):
        _inputs_unchanged("zero_pad", got)
        check_close(self.label(case), _("output"), got["X_pad"], expected["X_pad"], rtol=0,
                    atol=0)
        if got["X_pad"].dtype != inputs["X"].dtype:
            raise AssertionError(_("{function}: output dtype {got} differs from input dtype "
                                   "{expected}").format(function=self.label(case),
                                                        got=got["X_pad"].dtype,
                                                        expected=inputs["X"].dtype))

    @staticmethod
    def _other_axes(inputs, got, expected):
        (m, _, _, n_C), got_shape = inputs["X"].shape, shape(got["X_pad"])
        return (got_shape is not None and len(got_shape) == 4
                and (got_shape[0], got_shape[3]) != (m, n_C))

    @staticmethod
    def _one_side(inputs, got, expected):
        (m, n_H, n_W, n_C), pad = inputs["X"].shape, inputs["pad"]
        return pad > 0 and shape(got["X_pad"]) == (m, n_H + pad, n_W + pad, n_C)

    @staticmethod
    def _border(inputs, got, expected):
        X, pad, X_pad = inputs["X"], inputs["pad"], got["X_pad"]
        if pad == 0 or shape(X_pad) != expected["X_pad"].shape:
            return False
        inside = X_pad[:, pad:pad + X.shape[1], pad:pad + X.shape[2]]
        return close(inside, X) and np.any(X_pad != expected["X_pad"])

    @staticmethod
    def _dtype(inputs, got, expected):
        return (close(got["X_pad"], expected["X_pad"], rtol=0, atol=0)
                and got["X_pad"].dtype != inputs["X"].dtype)

    mistakes = (
        Mistake("other_axes", N_("the batch or channel axis is padded too"),
                N_("pad only the height and width: (0, 0) for the batch and the channels"),
                _other_axes),
        Mistake("one_side", N_("only one side of the height and width is padded"),
                N_("(pad, pad) puts pad zeros before and pad zeros after"), _one_side),
        Mistake("border", N_("the border is not zeros"),
                N_('pad with mode="constant", which pads with zeros'), _border),
        Mistake("dtype", N_("the output's dtype is not the input's"),
                N_("np.pad keeps X's dtype, and np.zeros needs dtype=X.dtype"), _dtype),
    )


class ConvSingleStep(GradedFunction):
    """conv_single_step(a_slice, W, b): the scalar sum of a_slice * W, plus the bias b."""

    name = "conv_single_step"

    def inputs(self, n_C_prev=3, f=4, seed=1):
        rng = np.random.default_rng(seed)
        return {"a_slice": rng.standard_normal((f, f, n_C_prev)),
                "W": rng.standard_normal((f, f, n_C_prev)), "b": rng.standard_normal((1, 1, 1))}

    def call(self, fn, inputs):
        a_slice, W, b = inputs["a_slice"], inputs["W"], inputs["b"]
        return {"Z": answer(fn(a_slice, W, b)),
                "Z_zero_filter": answer(fn(a_slice, np.zeros_like(W), b))}

    def assert_answer(self, case, inputs, got, expected):
        check_scalar(self.label(case), _("result"), got["Z"], float(expected["Z"]))
        check_scalar(self.label(case), _("result with all-zero filter (should equal the bias)"),
                     got["Z_zero_filter"], float(expected["Z_zero_filter"]))

    @staticmethod
    def _no_bias(inputs, got, expected):
        Z, bias = scalar(got["Z"]), inputs["b"].item()
        return Z is not None and close(Z, float(expected["Z"]) - bias) and close(
            got["Z_zero_filter"], 0.0)

    @staticmethod
    def _array(inputs, got, expected):
        return (shape(got["Z"]) == inputs["b"].shape
                and close(got["Z"].item(), float(expected["Z"])))

    @staticmethod
    def _not_summed(inputs, got, expected):
        Z, bias = got["Z"], inputs["b"].item()
        return (shape(Z) == inputs["a_slice"].shape
                and close(Z.sum(), float(expected["Z"]) + (Z.size - 1) * bias))

    @staticmethod
    def _mean(inputs, got, expected):
        bias, n = inputs["b"].item(), inputs["a_slice"].size
        return n > 1 and close(scalar(got["Z"]), (float(expected["Z"]) - bias) / n + bias)

    mistakes = (
        Mistake("no_bias", N_("the bias b is missing"),
                N_("add b.item() (b is a (1, 1, 1) array) to the sum"), _no_bias),
        Mistake("array", N_("the result is an array of shape (1, 1, 1), not a number"),
                N_("add the bias as a number, b.item()"), _array),
        Mistake("not_summed", N_("the element-wise products are returned without their sum"),
                N_("add them all up with np.sum(a_slice_prev * W)"), _not_summed),
        Mistake("mean", N_("the products are averaged"),
                N_("a convolution adds them up: np.sum, not np.mean"), _mean),
    )


def _conv_case(m, n_H_prev, n_W_prev, n_C_prev, f, n_C, seed):
    rng = np.random.default_rng(seed)
    return {"A_prev": rng.standard_normal((m, n_H_prev, n_W_prev, n_C_prev)),
            "W": rng.standard_normal((f, f, n_C_prev, n_C)),
            "b": rng.standard_normal((1, 1, 1, n_C))}


class ConvForward(GradedFunction):
    """conv_forward(A_prev, W, b, hparameters): (Z, cache), with the reference solution's Z
    and cache = (A_prev, W, b, hparameters); the inputs left unchanged."""

    name = "conv_forward"
    helpers = ("zero_pad", "conv_single_step")

    def inputs(self, m=2, n_H_prev=5, n_W_prev=7, n_C_prev=4, f=3, n_C=8, stride=2, pad=1,
               seed=1):
        return {**_conv_case(m, n_H_prev, n_W_prev, n_C_prev, f, n_C, seed),
                "hparameters": {"stride": stride, "pad": pad}}

    def call(self, fn, inputs):
        """Z and the cache, and ``Z_unpadded``: Z of the probe with ``pad=0``, whose windows
        are those of the unpadded input."""
        A_prev, W, b = (inputs[k].copy() for k in ("A_prev", "W", "b"))
        hparameters = dict(inputs["hparameters"])
        result = fn(A_prev, W, b, hparameters)
        if not (isinstance(result, tuple) and len(result) == 2):
            return {"returns_pair": False}
        Z, cache = result
        unpadded = _probe(fn, *(inputs[k].copy() for k in ("A_prev", "W", "b")),
                          {**inputs["hparameters"], "pad": 0})
        return {"returns_pair": True, "Z": answer(Z), "Z_unpadded": unpadded,
                "inputs_unchanged": _same({k: inputs[k] for k in ("A_prev", "W", "b")},
                                          {"A_prev": A_prev, "W": W, "b": b}),
                "cache_ok": (isinstance(cache, tuple) and len(cache) == 4 and cache[0] is A_prev
                             and cache[1] is W and cache[2] is b and cache[3] is hparameters)}

    def assert_answer(self, case, inputs, got, expected):
        if not got["returns_pair"]:
            raise AssertionError(_("{function}: should return the tuple ({names})").format(
                function="conv_forward", names="Z, cache"))
        stride, pad = inputs["hparameters"]["stride"], inputs["hparameters"]["pad"]
        name = f"conv_forward (stride={stride}, pad={pad})"
        _inputs_unchanged("conv_forward", got)
        check_close(name, "Z", got["Z"], expected["Z"])
        if not got["cache_ok"]:
            raise AssertionError(_("{function}: cache should be the tuple ({names})").format(
                function="conv_forward", names="A_prev, W, b, hparameters"))

    @staticmethod
    def _stride(inputs, got, expected):
        return unstrided(got["Z"], expected["Z"], inputs["hparameters"]["stride"])

    @staticmethod
    def _padding_unused(inputs, got, expected):
        """The windows that lie inside the unpadded input are those of the probe without
        padding, at the same places."""
        Z, inside = got["Z"], expected["Z_unpadded"]
        return (inputs["hparameters"]["pad"] > 0 and shape(Z) == expected["Z"].shape
                and differs(Z, expected["Z"])
                and close(Z[:, :inside.shape[1], :inside.shape[2]], inside))

    @staticmethod
    def _size_without_padding(inputs, got, expected):
        h, (m, n_H_prev, n_W_prev, _), (f, _, _, n_C) = (inputs["hparameters"],
                                                        inputs["A_prev"].shape, inputs["W"].shape)
        return h["pad"] > 0 and shape(got["Z"]) == (m, output_size(n_H_prev, f, h["stride"]),
                                                    output_size(n_W_prev, f, h["stride"]), n_C)

    mistakes = (
        Mistake("stride", N_("the windows move by 1, not by the stride"),
                N_("window (h, w) starts at row h * stride and column w * stride"), _stride),
        Mistake("padding_unused", N_("the padding is not used: the windows come from A_prev"),
                N_("slice them from the padded input that zero_pad(A_prev, pad) returns"),
                _padding_unused),
        Mistake("size_without_padding", N_("the output size leaves out the padding"),
                N_("add 2 * pad to n_H_prev and to n_W_prev in the formula of n_H and n_W"),
                _size_without_padding),
    )


class PoolForward(GradedFunction):
    """pool_forward(A_prev, hparameters, mode): (A, cache), with the reference solution's A
    and cache = (A_prev, hparameters); A_prev left unchanged."""

    name = "pool_forward"

    def inputs(self, mode="max", m=2, n_H_prev=5, n_W_prev=5, n_C=3, f=3, stride=1, seed=1):
        rng = np.random.default_rng(seed)
        return {"A_prev": rng.standard_normal((m, n_H_prev, n_W_prev, n_C)),
                "hparameters": {"f": f, "stride": stride}, "mode": mode}

    def call(self, fn, inputs):
        """A and the cache, and ``A_other_mode``: A of the other pooling mode (a probe)."""
        A_prev, hparameters = inputs["A_prev"].copy(), dict(inputs["hparameters"])
        result = fn(A_prev, hparameters, mode=inputs["mode"])
        if not (isinstance(result, tuple) and len(result) == 2):
            return {"returns_pair": False}
        A, cache = result
        other = _probe(fn, inputs["A_prev"].copy(), dict(inputs["hparameters"]),
                       mode=_other(inputs["mode"]))
        return {"returns_pair": True, "A": answer(A), "A_other_mode": other,
                "inputs_unchanged": bool(np.array_equal(A_prev, inputs["A_prev"])),
                "cache_ok": (isinstance(cache, tuple) and len(cache) == 2 and cache[0] is A_prev
                             and cache[1] is hparameters)}

    def assert_answer(self, case, inputs, got, expected):
        if not got["returns_pair"]:
            raise AssertionError(_("{function}: should return the tuple ({names})").format(
                function="pool_forward", names="A, cache"))
        _inputs_unchanged("pool_forward", got)
        h = inputs["hparameters"]
        check_close(f"pool_forward (mode={inputs['mode']!r}, f={h['f']}, stride={h['stride']})",
                    "A", got["A"], expected["A"])
        if not got["cache_ok"]:
            raise AssertionError(_("{function}: cache should be the tuple ({names})").format(
                function="pool_forward", names="A_prev, hparameters"))

    @staticmethod
    def _mode_swapped(mode: str):
        """A recogniser: in ``mode``, the answer is the other mode's."""
        def seen(inputs, got, expected):
            return (inputs["mode"] == mode and differs(got["A"], expected["A"])
                    and close(got["A"], expected["A_other_mode"]))
        return seen

    @staticmethod
    def _stride(inputs, got, expected):
        return unstrided(got["A"], expected["A"], inputs["hparameters"]["stride"])

    @staticmethod
    def _channels(inputs, got, expected):
        pooled = np.max if inputs["mode"] == "max" else np.mean
        across = pooled(expected["A"], axis=-1, keepdims=True)
        return (inputs["A_prev"].shape[-1] > 1 and differs(got["A"], expected["A"])
                and close(got["A"], np.broadcast_to(across, expected["A"].shape)))

    mistakes = (
        Mistake("max_averaged", N_("the windows are averaged in max mode"),
                N_('take np.max of each window when mode == "max"'), _mode_swapped("max")),
        Mistake("average_maxed", N_("the windows' maximum is taken in average mode"),
                N_('take np.mean of each window when mode == "average"'), _mode_swapped("average")),
        Mistake("stride", N_("the windows move by 1, not by the stride"),
                N_("window (h, w) starts at row h * stride and column w * stride"), _stride),
        Mistake("channels", N_("each window is pooled over all the channels at once"),
                N_("pool one channel at a time: A_prev[i, rows, columns, c]"), _channels),
    )


class ConvBackward(GradedFunction):
    """conv_backward(dZ, cache): the reference solution's gradients (dA_prev, dW, db) of
    L = sum(Z * dZ)."""

    name = "conv_backward"
    helpers = ("zero_pad",)

    def inputs(self, m=2, n_H_prev=4, n_W_prev=5, n_C_prev=3, f=2, n_C=4, stride=2, pad=1,
               seed=1):
        case = _conv_case(m, n_H_prev, n_W_prev, n_C_prev, f, n_C, seed)
        shape = (m, output_size(n_H_prev, f, stride, pad), output_size(n_W_prev, f, stride, pad),
                 n_C)
        return {**case, "hparameters": {"stride": stride, "pad": pad},
                "dZ": np.random.default_rng(seed + 1).standard_normal(shape)}

    def call(self, fn, inputs):
        cache = tuple(inputs[k].copy() for k in ("A_prev", "W", "b")) + (
            dict(inputs["hparameters"]),)
        result = fn(inputs["dZ"].copy(), cache)
        if not (isinstance(result, tuple) and len(result) == 3):
            return {"returns_triple": False}
        return {"returns_triple": True, **{k: answer(v) for k, v in
                                           zip(("dA_prev", "dW", "db"), result)}}

    def assert_answer(self, case, inputs, got, expected):
        if not got["returns_triple"]:
            raise AssertionError(_("{function}: should return the tuple ({names})").format(
                function="conv_backward", names="dA_prev, dW, db"))
        h = inputs["hparameters"]
        name = f"conv_backward (stride={h['stride']}, pad={h['pad']})"
        for what in ("dA_prev", "dW", "db"):
            check_close(name, what, got[what], expected[what], rtol=1e-5, atol=1e-6)

    @staticmethod
    def _db_overwritten(inputs, got, expected):
        last = inputs["dZ"][-1, -1, -1].reshape(1, 1, 1, -1)
        return differs(got["db"], expected["db"]) and close(got["db"], last)

    @staticmethod
    def _averaged(inputs, got, expected):
        m = inputs["dZ"].shape[0]
        return (m > 1 and scaled_by(got["dW"], expected["dW"], 1 / m)
                and close(got["db"], expected["db"] / m))

    @staticmethod
    def _dW_from_W(inputs, got, expected):
        return (differs(got["dW"], expected["dW"])
                and close(got["dW"], inputs["W"] * expected["db"].reshape(1, 1, 1, -1)))

    @staticmethod
    def _still_padded(inputs, got, expected):
        (m, n_H, n_W, n_C), pad = inputs["A_prev"].shape, inputs["hparameters"]["pad"]
        return pad > 0 and shape(got["dA_prev"]) == (m, n_H + 2 * pad, n_W + 2 * pad, n_C)

    mistakes = (
        Mistake("db_overwritten", N_("db holds only the last dZ: it is overwritten"),
                N_("accumulate db[:, :, :, c] with += over every example and position"),
                _db_overwritten),
        Mistake("averaged", N_("dW and db are divided by the number of examples m"),
                N_("the gradients of L = sum(Z * dZ) add up the examples: do not divide"),
                _averaged),
        Mistake("dW_from_W", N_("dW adds up W * dZ instead of the input windows"),
                N_("dW[:, :, :, c] adds up a_slice * dZ[i, h, w, c]"), _dW_from_W),
        Mistake("still_padded", N_("dA_prev still has the padding"),
                N_("crop each da_prev_pad to its unpadded rows and columns"), _still_padded),
    )


class CreateMaskFromWindow(GradedFunction):
    """The mask must be True exactly where the window holds its maximum."""

    name = "create_mask_from_window"
    varied = ("window",)

    def inputs(self, shape=(2, 3), seed=1, window=None):
        if window is not None:
            return {"x": np.asarray(window, float)}
        return {"x": np.random.default_rng(seed).standard_normal(shape)}

    def call(self, fn, inputs):
        """The mask, and that of -x (a probe: the reference's marks the minimum of x)."""
        return {"mask": answer(fn(inputs["x"].copy())), "mask_of_negated": _probe(fn, -inputs["x"])}

    def assert_answer(self, case, inputs, got, expected):
        x = inputs["x"]
        check_shape("create_mask_from_window", _("mask"), got["mask"], x.shape)
        wrong = np.asarray(got["mask"], dtype=bool) != expected["mask"]
        if wrong.any():
            raise AssertionError(_(
                "{function}: for x =\n{x}\nthe mask should be True only where x is at its "
                "maximum; {count} of {size} entries are wrong; got\n{got}").format(
                function="create_mask_from_window", x=x, count=int(wrong.sum()),
                size=wrong.size, got=got["mask"]))

    @staticmethod
    def _minimum(inputs, got, expected):
        return (differs(got["mask"], expected["mask"], rtol=0, atol=0)
                and close(got["mask"], expected["mask_of_negated"], rtol=0, atol=0))

    @staticmethod
    def _number(inputs, got, expected):
        return shape(got["mask"]) != inputs["x"].shape and scalar(got["mask"]) is not None

    @staticmethod
    def _one_axis(inputs, got, expected):
        """Several entries marked, exactly one in each row or in each column."""
        mask = got["mask"]
        return (shape(mask) == inputs["x"].shape and mask.sum() > expected["mask"].sum()
                and any(bool(np.all(mask.sum(axis=axis) == 1)) for axis in range(mask.ndim)))

    mistakes = (
        Mistake("minimum", N_("the mask marks the minimum"), N_("compare x with np.max(x)"),
                _minimum),
        Mistake("number", N_("a single number is returned, not a mask"),
                N_("return an array of x's shape, True where x equals its maximum"), _number),
        Mistake("one_axis", N_("x is compared with its maximum along one axis"),
                N_("np.max(x) without an axis gives the whole window's maximum"), _one_axis),
    )


class DistributeValue(GradedFunction):
    """dz must be spread evenly over a matrix of ``shape``."""

    name = "distribute_value"
    varied = ("dz",)

    def inputs(self, dz=2.0, shape=(2, 2)):
        return {"dz": dz, "shape": list(shape)}

    def call(self, fn, inputs):
        return {"a": answer(fn(inputs["dz"], tuple(inputs["shape"])))}

    def assert_answer(self, case, inputs, got, expected):
        check_close(self.label(case), _("output"), got["a"], expected["a"])

    @staticmethod
    def _one_side(inputs, got, expected):
        n_H, n_W = inputs["shape"]
        return any(scaled_by(got["a"], expected["a"], side) for side in (n_H, n_W))

    @staticmethod
    def _copied(inputs, got, expected):
        n_H, n_W = inputs["shape"]
        return n_H * n_W > max(n_H, n_W) and scaled_by(got["a"], expected["a"], n_H * n_W)

    @staticmethod
    def _number(inputs, got, expected):
        return (shape(got["a"]) != tuple(inputs["shape"])
                and close(scalar(got["a"]), expected["a"].flat[0]))

    mistakes = (
        Mistake("one_side", N_("dz is divided by one side of the window only"),
                N_("divide it by n_H * n_W, the number of entries"), _one_side),
        Mistake("copied", N_("dz is copied into every entry"),
                N_("share it: each entry gets dz / (n_H * n_W)"), _copied),
        Mistake("number", N_("a single number is returned"),
                N_("return an array of the window's shape, every entry that number"), _number),
    )


class PoolBackward(GradedFunction):
    """pool_backward(dA, cache, mode): the reference solution's dA_prev, the gradient of
    L = sum(A * dA).

    Inputs are random floats, so ties inside a window (where max pooling has no gradient) do
    not occur.
    """

    name = "pool_backward"
    helpers = ("create_mask_from_window", "distribute_value")

    def inputs(self, mode="max", m=2, n_H_prev=5, n_W_prev=3, n_C=2, f=2, stride=1, seed=1):
        rng = np.random.default_rng(seed)
        A_prev = rng.standard_normal((m, n_H_prev, n_W_prev, n_C))
        dA = rng.standard_normal((m, output_size(n_H_prev, f, stride),
                                  output_size(n_W_prev, f, stride), n_C))
        return {"A_prev": A_prev, "dA": dA, "hparameters": {"f": f, "stride": stride},
                "mode": mode}

    def call(self, fn, inputs):
        """dA_prev, and two probes: ``dA_prev_other_mode`` (the other pooling mode) and
        ``dA_prev_unit`` (an upstream gradient dA of ones)."""
        def cache():
            return inputs["A_prev"].copy(), dict(inputs["hparameters"])
        return {"dA_prev": answer(fn(inputs["dA"].copy(), cache(), mode=inputs["mode"])),
                "dA_prev_other_mode": _probe(fn, inputs["dA"].copy(), cache(),
                                             mode=_other(inputs["mode"])),
                "dA_prev_unit": _probe(fn, np.ones_like(inputs["dA"]), cache(),
                                       mode=inputs["mode"])}

    def assert_answer(self, case, inputs, got, expected):
        h = inputs["hparameters"]
        check_ndarray("pool_backward", "dA_prev", got["dA_prev"])
        check_close(f"pool_backward (mode={inputs['mode']!r}, f={h['f']}, "
                    f"stride={h['stride']})", "dA_prev", got["dA_prev"], expected["dA_prev"],
                    rtol=1e-5, atol=1e-6)

    @staticmethod
    def _upstream_dropped(inputs, got, expected):
        return (differs(got["dA_prev"], expected["dA_prev"])
                and close(got["dA_prev"], expected["dA_prev_unit"]))

    @staticmethod
    def _mode_swapped(mode: str):
        """A recogniser: in ``mode``, the answer is the other mode's."""
        def seen(inputs, got, expected):
            return (inputs["mode"] == mode and differs(got["dA_prev"], expected["dA_prev"])
                    and close(got["dA_prev"], expected["dA_prev_other_mode"]))
        return seen

    mistakes = (
        Mistake("upstream_dropped", N_("dA_prev does not depend on dA"),
                N_("multiply the mask by dA[i, h, w, c], or share dA[i, h, w, c] out in average "
                "mode"), _upstream_dropped),
        Mistake("max_averaged", N_("the gradient is shared evenly in max mode"),
                N_("in max mode it goes to the window's maximum: mask * dA[i, h, w, c]"),
                _mode_swapped("max")),
        Mistake("average_maxed", N_("the gradient goes to the window's maximum in average mode"),
                N_("in average mode every entry gets its share: distribute_value"),
                _mode_swapped("average")),
    )


CHECKS = register(ZeroPad(), ConvSingleStep(), ConvForward(), PoolForward(), ConvBackward(),
                  CreateMaskFromWindow(), DistributeValue(), PoolBackward())
check_zero_pad = CHECKS["zero_pad"].check
check_conv_single_step = CHECKS["conv_single_step"].check
check_conv_forward = CHECKS["conv_forward"].check
check_pool_forward = CHECKS["pool_forward"].check
check_conv_backward = CHECKS["conv_backward"].check
check_create_mask_from_window = CHECKS["create_mask_from_window"].check
check_distribute_value = CHECKS["distribute_value"].check
check_pool_backward = CHECKS["pool_backward"].check
