"""Tests of assignment 1 (convolution step by step), one GradedFunction per graded function.

Answers are compared with the reference solution's: stored for the public cases, computed by
the grader for all cases (``utils.graded``). The tests of the course check the reference
solution itself against independent methods (im2col, central differences).

The notebook calls ``check_<function>(<function>, **case)``; the cases' parameters (shapes,
stride, padding, seed) are literals, so the grader can run the same cases from the data side.
"""

from __future__ import annotations

import numpy as np

from utils.checks import (answer, check_close, check_ndarray, check_scalar, check_shape)
from utils.conv_fast import conv_forward_fast, output_size
from utils.graded import GradedFunction, register


def _inputs_unchanged(fn: str, got: dict) -> None:
    if not got["inputs_unchanged"]:
        raise AssertionError(f"{fn}: modified its input in place; work on a copy instead")


def _same(before: dict, after: dict) -> bool:
    return all(np.array_equal(before[k], after[k]) for k in before)


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

    def compare(self, case, inputs, got, expected):
        _inputs_unchanged("zero_pad", got)
        check_close(self.label(case), "output", got["X_pad"], expected["X_pad"], rtol=0, atol=0)
        if got["X_pad"].dtype != inputs["X"].dtype:
            raise AssertionError(f"zero_pad: output dtype {got['X_pad'].dtype} differs from "
                                 f"input dtype {inputs['X'].dtype}")


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

    def compare(self, case, inputs, got, expected):
        bias = inputs["b"].item()
        if (np.ndim(got["Z"]) == 0 and isinstance(got["Z"], (float, np.ndarray))
                and np.isclose(float(got["Z"]), float(expected["Z"]) - bias)):
            raise AssertionError("conv_single_step: the bias b is missing: add b (a (1, 1, 1) "
                                 "array, so use b.item() or np.squeeze(b)) to the sum")
        check_scalar(self.label(case), "result", got["Z"], float(expected["Z"]))
        check_scalar(self.label(case), "result with all-zero filter (should equal the bias)",
                     got["Z_zero_filter"], float(expected["Z_zero_filter"]))


def _conv_case(m, n_H_prev, n_W_prev, n_C_prev, f, n_C, seed):
    rng = np.random.default_rng(seed)
    return {"A_prev": rng.standard_normal((m, n_H_prev, n_W_prev, n_C_prev)),
            "W": rng.standard_normal((f, f, n_C_prev, n_C)),
            "b": rng.standard_normal((1, 1, 1, n_C))}


class ConvForward(GradedFunction):
    """conv_forward must match the vectorised convolution and return (Z, cache)."""

    name = "conv_forward"
    helpers = ("zero_pad", "conv_single_step")

    def inputs(self, m=2, n_H_prev=5, n_W_prev=7, n_C_prev=4, f=3, n_C=8, stride=2, pad=1,
               seed=1):
        return {**_conv_case(m, n_H_prev, n_W_prev, n_C_prev, f, n_C, seed),
                "hparameters": {"stride": stride, "pad": pad}}

    def call(self, fn, inputs):
        A_prev, W, b = (inputs[k].copy() for k in ("A_prev", "W", "b"))
        hparameters = dict(inputs["hparameters"])
        result = fn(A_prev, W, b, hparameters)
        if not (isinstance(result, tuple) and len(result) == 2):
            return {"returns_pair": False}
        Z, cache = result
        return {"returns_pair": True, "Z": answer(Z),
                "inputs_unchanged": _same({k: inputs[k] for k in ("A_prev", "W", "b")},
                                          {"A_prev": A_prev, "W": W, "b": b}),
                "cache_ok": (isinstance(cache, tuple) and len(cache) == 4 and cache[0] is A_prev
                             and cache[1] is W and cache[2] is b and cache[3] is hparameters)}

    def compare(self, case, inputs, got, expected):
        if not got["returns_pair"]:
            raise AssertionError("conv_forward: should return the tuple (Z, cache)")
        stride, pad = inputs["hparameters"]["stride"], inputs["hparameters"]["pad"]
        name = f"conv_forward (stride={stride}, pad={pad})"
        Z = got["Z"]
        if stride > 1 and isinstance(Z, np.ndarray) and Z.shape == expected["Z"].shape:
            unstrided = conv_forward_fast(inputs["A_prev"], inputs["W"], inputs["b"], 1, pad)
            if np.allclose(Z, unstrided[:, :Z.shape[1], :Z.shape[2]]):
                raise AssertionError(f"{name}: the windows do not move by the stride: window "
                                     f"(h, w) starts at row h * stride and column w * stride")
        _inputs_unchanged("conv_forward", got)
        check_close(name, "Z", Z, expected["Z"])
        if not got["cache_ok"]:
            raise AssertionError("conv_forward: cache should be the tuple "
                                 "(A_prev, W, b, hparameters)")


class PoolForward(GradedFunction):
    """pool_forward must match the vectorised pooling and return (A, cache)."""

    name = "pool_forward"

    def inputs(self, mode="max", m=2, n_H_prev=5, n_W_prev=5, n_C=3, f=3, stride=1, seed=1):
        rng = np.random.default_rng(seed)
        return {"A_prev": rng.standard_normal((m, n_H_prev, n_W_prev, n_C)),
                "hparameters": {"f": f, "stride": stride}, "mode": mode}

    def call(self, fn, inputs):
        A_prev, hparameters = inputs["A_prev"].copy(), dict(inputs["hparameters"])
        result = fn(A_prev, hparameters, mode=inputs["mode"])
        if not (isinstance(result, tuple) and len(result) == 2):
            return {"returns_pair": False}
        A, cache = result
        return {"returns_pair": True, "A": answer(A),
                "inputs_unchanged": bool(np.array_equal(A_prev, inputs["A_prev"])),
                "cache_ok": (isinstance(cache, tuple) and len(cache) == 2 and cache[0] is A_prev
                             and cache[1] is hparameters)}

    def compare(self, case, inputs, got, expected):
        if not got["returns_pair"]:
            raise AssertionError("pool_forward: should return the tuple (A, cache)")
        _inputs_unchanged("pool_forward", got)
        h = inputs["hparameters"]
        check_close(f"pool_forward (mode={inputs['mode']!r}, f={h['f']}, stride={h['stride']})",
                    "A", got["A"], expected["A"])
        if not got["cache_ok"]:
            raise AssertionError("pool_forward: cache should be the tuple (A_prev, hparameters)")


class ConvBackward(GradedFunction):
    """conv_backward's gradients must match central differences of L = sum(Z * dZ)."""

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

    def compare(self, case, inputs, got, expected):
        if not got["returns_triple"]:
            raise AssertionError("conv_backward: should return the tuple (dA_prev, dW, db)")
        h = inputs["hparameters"]
        name = f"conv_backward (stride={h['stride']}, pad={h['pad']})"
        for what in ("dA_prev", "dW", "db"):
            check_close(name, what, got[what], expected[what], rtol=1e-5, atol=1e-6)


class CreateMaskFromWindow(GradedFunction):
    """The mask must be True exactly where the window holds its maximum."""

    name = "create_mask_from_window"
    varied = ("window",)

    def inputs(self, shape=(2, 3), seed=1, window=None):
        if window is not None:
            return {"x": np.asarray(window, float)}
        return {"x": np.random.default_rng(seed).standard_normal(shape)}

    def call(self, fn, inputs):
        return {"mask": answer(fn(inputs["x"].copy()))}

    def compare(self, case, inputs, got, expected):
        x = inputs["x"]
        check_shape("create_mask_from_window", "mask", got["mask"], x.shape)
        wrong = np.asarray(got["mask"], dtype=bool) != expected["mask"]
        if wrong.any():
            raise AssertionError(f"create_mask_from_window: for x =\n{x}\nthe mask should be "
                                 f"True only where x is at its maximum; {int(wrong.sum())} of "
                                 f"{wrong.size} entries are wrong; got\n{got['mask']}")


class DistributeValue(GradedFunction):
    """dz must be spread evenly over a matrix of ``shape``."""

    name = "distribute_value"
    varied = ("dz",)

    def inputs(self, dz=2.0, shape=(2, 2)):
        return {"dz": dz, "shape": list(shape)}

    def call(self, fn, inputs):
        return {"a": answer(fn(inputs["dz"], tuple(inputs["shape"])))}

    def compare(self, case, inputs, got, expected):
        check_close(self.label(case), "output", got["a"], expected["a"])


class PoolBackward(GradedFunction):
    """pool_backward's dA_prev must match central differences of L = sum(A * dA).

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
        cache = (inputs["A_prev"].copy(), dict(inputs["hparameters"]))
        return {"dA_prev": answer(fn(inputs["dA"].copy(), cache, mode=inputs["mode"]))}

    def compare(self, case, inputs, got, expected):
        h = inputs["hparameters"]
        check_ndarray("pool_backward", "dA_prev", got["dA_prev"])
        check_close(f"pool_backward (mode={inputs['mode']!r}, f={h['f']}, "
                    f"stride={h['stride']})", "dA_prev", got["dA_prev"], expected["dA_prev"],
                    rtol=1e-5, atol=1e-6)


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
