"""Assignment 1's helpers: the vectorised reference and the checks that grade students.

The checks must pass the reference solution and fail typical mistakes with a message that
names the function and what is wrong.
"""

import os
from typing import Callable

import nbformat
import numpy as np
import pytest

from course import assignments
from course.trusted import cases
from course.trusted.reference_solution import reference_functions
from utils import checks
from utils.conv_fast import conv_forward_fast, output_size, pool_forward_fast, validate_conv_inputs
from utils.public_tests import conv_step_by_step as t

FUNCTIONS = ["zero_pad", "conv_single_step", "conv_forward", "pool_forward", "conv_backward",
             "create_mask_from_window", "distribute_value", "pool_backward"]


@pytest.fixture(scope="module")
def ref():
    """The reference solution's functions, loaded from the source notebook."""
    return reference_functions("C4W1A1_conv_step_by_step", FUNCTIONS)


def naive_conv(A, W, b, stride, pad):
    """Direct definition of the convolution, for checking the im2col version."""
    A = np.pad(A, ((0, 0), (pad, pad), (pad, pad), (0, 0)))
    f, n_C = W.shape[0], W.shape[3]
    n_H = (A.shape[1] - f) // stride + 1
    n_W = (A.shape[2] - f) // stride + 1
    Z = np.empty((A.shape[0], n_H, n_W, n_C))
    for h in range(n_H):
        for w in range(n_W):
            window = A[:, h * stride:h * stride + f, w * stride:w * stride + f, :]
            Z[:, h, w, :] = np.einsum("mijc,ijcn->mn", window, W) + b.reshape(-1)
    return Z


@pytest.mark.parametrize("shape,f,stride,pad", [((2, 5, 7, 3), 3, 2, 1), ((1, 6, 6, 2), 1, 1, 0),
                                                ((3, 9, 4, 1), 4, 3, 2)])
def test_im2col_convolution_matches_the_definition(shape, f, stride, pad):
    rng = np.random.default_rng(0)
    A = rng.standard_normal(shape)
    W = rng.standard_normal((f, f, shape[3], 5))
    b = rng.standard_normal((1, 1, 1, 5))
    np.testing.assert_allclose(conv_forward_fast(A, W, b, stride, pad),
                               naive_conv(A, W, b, stride, pad), rtol=1e-10, atol=1e-10)


def test_im2col_convolution_matches_tensorflow():
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import tensorflow as tf
    rng = np.random.default_rng(1)
    A = rng.standard_normal((2, 8, 8, 3)).astype(np.float32)
    W = rng.standard_normal((3, 3, 3, 4)).astype(np.float32)
    b = np.zeros((1, 1, 1, 4), np.float32)
    expected = tf.nn.conv2d(A, W, strides=2, padding="VALID").numpy()
    np.testing.assert_allclose(conv_forward_fast(A, W, b, 2, 0), expected, rtol=1e-4, atol=1e-4)


def test_pooling_by_hand():
    x = np.array([[1, 3, 2, 1], [4, 6, 5, 0], [3, 1, 1, 0], [1, 2, 2, 4]], float)[None, :, :, None]
    assert pool_forward_fast(x, 2, 2, "max")[0, :, :, 0].tolist() == [[6, 5], [3, 4]]
    assert pool_forward_fast(x, 2, 2, "average")[0, :, :, 0].tolist() == [[3.5, 2], [1.75, 1.75]]


def test_output_size_formula():
    assert output_size(5, 3, 2, 1) == 3
    assert output_size(7, 3, 2, 1) == 4
    assert output_size(4, 2, 2) == 2


@pytest.mark.parametrize("args,message", [
    (((2, 5, 5, 3), (3, 3, 4, 8), (1, 1, 1, 8), {"stride": 1, "pad": 0}), "A_prev has 3 channels"),
    (((2, 5, 5, 3), (3, 3, 3, 8), (8,), {"stride": 1, "pad": 0}), "b must have shape"),
    (((2, 5, 5, 3), (3, 3, 3, 8), (1, 1, 1, 8), {"stride": 0, "pad": 0}), "stride must be"),
    (((2, 5, 5, 3), (3, 3, 3, 8), (1, 1, 1, 8), {"pad": 0}), "hparameters lacks"),
    (((2, 2, 5, 3), (3, 3, 3, 8), (1, 1, 1, 8), {"stride": 1, "pad": 0}), "does not fit"),
    (((5, 5, 3), (3, 3, 3, 8), (1, 1, 1, 8), {"stride": 1, "pad": 0}), "A_prev must have shape"),
])
def test_bad_convolution_inputs_get_clear_errors(args, message):
    A, W, b, hparameters = args
    with pytest.raises(ValueError, match=message):
        validate_conv_inputs(np.zeros(A), np.zeros(W), np.zeros(b), hparameters)


def test_reference_solution_passes_every_check(ref):
    t.check_zero_pad(ref["zero_pad"])
    t.check_conv_single_step(ref["conv_single_step"])
    t.check_conv_forward(ref["conv_forward"])
    for mode in ("max", "average"):
        t.check_pool_forward(ref["pool_forward"], mode=mode)
        t.check_pool_backward(ref["pool_backward"], mode=mode)
    t.check_conv_backward(ref["conv_backward"])
    t.check_create_mask_from_window(ref["create_mask_from_window"])
    t.check_distribute_value(ref["distribute_value"])


def test_wrong_shape_message_names_both_shapes():
    def conv_forward(A_prev, W, b, hparameters):
        return np.zeros((2, 5, 7, 8)), (A_prev, W, b, hparameters)
    with pytest.raises(AssertionError, match=r"conv_forward \(stride=2, pad=1\): wrong Z shape "
                                             r"\(2, 5, 7, 8\), expected \(2, 3, 4, 8\)"):
        t.check_conv_forward(conv_forward)


def test_wrong_value_message_gives_the_index(ref):
    def conv_forward(A_prev, W, b, hparameters):
        Z, cache = ref["conv_forward"](A_prev, W, b, hparameters)
        Z[1, 2, 3, 4] += 1.0
        return Z, cache
    with pytest.raises(AssertionError, match=r"wrong Z values at 1 of 192 entries; "
                                             r"first at index \(1, 2, 3, 4\)"):
        t.check_conv_forward(conv_forward)


def test_mutated_input_is_reported():
    def zero_pad(X, pad):
        X[...] = np.round(X)
        return np.pad(X, ((0, 0), (pad, pad), (pad, pad), (0, 0)))
    with pytest.raises(AssertionError, match="zero_pad: modified its input in place"):
        t.check_zero_pad(zero_pad)


def test_array_instead_of_scalar_is_reported():
    with pytest.raises(AssertionError, match="conv_single_step: result should be a single number"):
        t.check_conv_single_step(lambda a, W, b: np.sum(a * W) + b)


def test_backward_check_catches_a_missing_accumulation(ref):
    def pool_backward(dA, cache, mode="max"):
        return ref["pool_backward"](dA, cache, mode) * (1 if mode == "max" else 0.5)
    t.check_pool_backward(pool_backward, mode="max")
    with pytest.raises(AssertionError, match="pool_backward \\(mode='average'.*wrong dA_prev"):
        t.check_pool_backward(pool_backward, mode="average")


def test_helpers_are_replaced_only_while_grading(ref):
    namespace = {"np": np}
    exec("def helper(x):\n    return 'student'\n\ndef caller():\n    return helper(0)\n",  # noqa: S102
         namespace)
    with checks.helpers_replaced(namespace["caller"], helper=lambda x: "reference",
                                 never_defined=lambda: None):
        assert namespace["caller"]() == "reference"
        assert "never_defined" in namespace  # a helper lost to a syntax error is stood in for
    assert namespace["caller"]() == "student"
    assert "never_defined" not in namespace


def test_a_caller_is_told_to_fix_its_wrong_helper_first(ref):
    namespace = {"np": np, "validate_conv_inputs": validate_conv_inputs,
                 "conv_single_step": ref["conv_single_step"]}
    exec("def zero_pad(X, pad):\n    return X\n", namespace)  # noqa: S102 (a student's answer)
    namespace["conv_forward"] = type(ref["conv_forward"])(
        ref["conv_forward"].__code__, namespace)  # the reference code, with this zero_pad
    with pytest.raises(AssertionError, match=r"conv_forward calls zero_pad, which is wrong: fix "
                                             r"zero_pad first \(its test fails: zero_pad: "):
        t.check_conv_forward(namespace["conv_forward"])


def test_a_caller_that_does_not_use_a_helper_is_not_held_up_by_it():
    def conv_forward(A_prev, W, b, hparameters):  # never calls zero_pad or conv_single_step
        return (conv_forward_fast(A_prev, W, b, hparameters["stride"], hparameters["pad"]),
                (A_prev, W, b, hparameters))
    t.check_conv_forward(conv_forward)


def test_a_missing_bias_and_a_missing_stride_are_named(ref):
    with pytest.raises(AssertionError, match="conv_single_step: the bias b is missing"):
        t.check_conv_single_step(lambda a, W, b: float(np.sum(a * W)))

    def conv_forward(A_prev, W, b, hparameters):
        h = hparameters
        n_H = (A_prev.shape[1] - W.shape[0] + 2 * h["pad"]) // h["stride"] + 1
        n_W = (A_prev.shape[2] - W.shape[0] + 2 * h["pad"]) // h["stride"] + 1
        Z = conv_forward_fast(A_prev, W, b, 1, h["pad"])[:, :n_H, :n_W]
        return Z, (A_prev, W, b, hparameters)
    with pytest.raises(AssertionError,
                       match=r"^conv_forward: the windows move by 1, not by the stride"):
        t.check_conv_forward(conv_forward)


def test_conv_backward_without_padding_is_a_public_case():
    """A backward pass that slices [pad:-pad] fails on pad=0: the public tests show it."""
    def conv_backward(dZ, cache):
        A_prev, W, b, h = cache
        pad = h["pad"]
        dA, dW, db = _sliced_backward(dZ, A_prev, W, h["stride"], pad)
        return dA, dW, db
    t.check_conv_backward(conv_backward)  # pad=1: right
    with pytest.raises(AssertionError, match=r"conv_backward \(stride=1, pad=0\)"):
        t.check_conv_backward(conv_backward, stride=1, pad=0)


def _sliced_backward(dZ, A_prev, W, stride, pad):
    """The classic bug: crop the padded gradient with [pad:-pad], empty when pad is 0."""
    f = W.shape[0]
    A = np.pad(A_prev, ((0, 0), (pad, pad), (pad, pad), (0, 0)))
    dA = np.zeros_like(A)
    dW, db = np.zeros_like(W), np.zeros((1, 1, 1, W.shape[3]))
    for i, h, w, c in np.ndindex(dZ.shape):
        window = (i, slice(h * stride, h * stride + f), slice(w * stride, w * stride + f))
        dA[window] += W[..., c] * dZ[i, h, w, c]
        dW[..., c] += A[window] * dZ[i, h, w, c]
        db[..., c] += dZ[i, h, w, c]
    return dA[:, pad:-pad, pad:-pad, :], dW, db


def numeric_gradient(loss: Callable[[], float], x: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    """Central-difference gradient of ``loss()`` with respect to every entry of ``x``.

    ``x`` (float64) is perturbed in place and restored; ``loss`` must read it.
    Returns an array of x's shape. Cost: 2 * x.size calls of ``loss``.
    """
    grad = np.zeros_like(x, dtype=np.float64)
    for index in np.ndindex(x.shape):
        saved = x[index]
        x[index] = saved + eps
        plus = loss()
        x[index] = saved - eps
        minus = loss()
        x[index] = saved
        grad[index] = (plus - minus) / (2 * eps)
    return grad


def test_numeric_gradient_of_a_quadratic():
    x = np.array([1.0, -2.0, 3.0])
    np.testing.assert_allclose(numeric_gradient(lambda: float(np.sum(x ** 2)), x), 2 * x,
                               rtol=1e-6)


def _independent(function: str, inputs: dict) -> dict:
    """Answers computed without the reference solution: im2col, central differences, and the
    definitions (a zero border, the argmax, an even share)."""
    if function == "zero_pad":
        X, pad = inputs["X"], inputs["pad"]
        X_pad = np.zeros((X.shape[0], X.shape[1] + 2 * pad, X.shape[2] + 2 * pad, X.shape[3]),
                         X.dtype)
        X_pad[:, pad:pad + X.shape[1], pad:pad + X.shape[2], :] = X
        return {"X_pad": X_pad}
    if function == "conv_single_step":
        weighted = float(np.dot(inputs["a_slice"].ravel(), inputs["W"].ravel()))
        return {"Z": weighted + inputs["b"].item(), "Z_zero_filter": inputs["b"].item()}
    if function == "create_mask_from_window":
        x = inputs["x"]
        mask = np.zeros(x.shape, bool)
        mask[np.unravel_index(np.argmax(x), x.shape)] = True
        return {"mask": mask}
    if function == "distribute_value":
        return {"a": np.full(inputs["shape"], inputs["dz"] / np.prod(inputs["shape"]))}
    h = inputs["hparameters"]
    if function == "conv_forward":
        return {"Z": conv_forward_fast(inputs["A_prev"], inputs["W"], inputs["b"], h["stride"],
                                       h["pad"])}
    if function == "pool_forward":
        return {"A": pool_forward_fast(inputs["A_prev"], h["f"], h["stride"], inputs["mode"])}
    A_prev = inputs["A_prev"].copy()
    if function == "conv_backward":
        W, b = inputs["W"].copy(), inputs["b"].copy()

        def loss():
            return float(np.sum(conv_forward_fast(A_prev, W, b, h["stride"], h["pad"])
                                * inputs["dZ"]))
        return {"dA_prev": numeric_gradient(loss, A_prev),
                "dW": numeric_gradient(loss, W), "db": numeric_gradient(loss, b)}

    def pool_loss():
        return float(np.sum(pool_forward_fast(A_prev, h["f"], h["stride"], inputs["mode"])
                            * inputs["dA"]))
    return {"dA_prev": numeric_gradient(pool_loss, A_prev)}


def test_the_reference_answers_agree_with_independent_methods(ref):
    """Every case the grader uses, public and hidden: the reference solution's answer (what
    students are compared with) equals the independent computation."""
    source = nbformat.read(assignments.get("C4W1A1_conv_step_by_step").source_notebook, 4)
    for tests in cases.read(source):
        graded = t.CHECKS[tests.function]
        for case in tests.cases:
            inputs = graded.inputs(**case.params)
            answer = graded.call(ref[tests.function], inputs)
            for key, value in _independent(tests.function, inputs).items():
                np.testing.assert_allclose(answer[key], value, rtol=1e-5, atol=1e-6,
                                           err_msg=f"{tests.function} {case.params} {key}")
