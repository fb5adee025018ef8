"""Checks for assignment 1 (convolution step by step).

Each ``check_*`` function takes the student's function and the case to test (shapes, stride,
padding, seed), computes the expected answer independently (``np.pad``, the im2col functions of
``utils.conv_fast``, or central-difference gradients), and raises AssertionError with a
specific message on the first difference. The notebook's public tests call them with the cases
shown to students; the hidden tests call them with other cases.

A function is graded on its own: while it runs, the graded helpers it may call (zero_pad,
conv_single_step, create_mask_from_window, distribute_value) are the reference versions below.
"""

from __future__ import annotations

import numpy as np

from utils.checks import (check_close, check_ndarray, check_scalar, check_shape,
                          check_unchanged, helpers_replaced, numeric_gradient)
from utils.conv_fast import conv_forward_fast, output_size, pool_forward_fast


def _reference_zero_pad(X, pad):
    return np.pad(X, ((0, 0), (pad, pad), (pad, pad), (0, 0)))


def _reference_conv_single_step(a_slice_prev, W, b):
    return np.sum(a_slice_prev * W) + np.sum(b)


def _reference_create_mask_from_window(x):
    return x == np.max(x)


def _reference_distribute_value(dz, shape):
    return np.full(shape, dz / (shape[0] * shape[1]))


def check_zero_pad(zero_pad, shape=(4, 3, 3, 2), pad=3, seed=1, dtype=np.float64) -> None:
    """zero_pad(X, pad) must pad the two spatial axes (1 and 2) with ``pad`` zeros per side."""
    rng = np.random.default_rng(seed)
    X = (rng.standard_normal(shape) * 10).astype(dtype)
    before = X.copy()
    X_pad = zero_pad(X, pad)
    expected = np.pad(X, ((0, 0), (pad, pad), (pad, pad), (0, 0)))
    check_close("zero_pad", "output", X_pad, expected, rtol=0, atol=0)
    if X_pad.dtype != X.dtype:
        raise AssertionError(f"zero_pad: output dtype {X_pad.dtype} differs from input dtype "
                             f"{X.dtype}")
    check_unchanged("zero_pad", "X", before, X)


def check_conv_single_step(conv_single_step, n_C_prev=3, f=4, seed=1) -> None:
    """conv_single_step(a_slice, W, b) must return the scalar sum(a_slice * W) + b."""
    rng = np.random.default_rng(seed)
    a_slice = rng.standard_normal((f, f, n_C_prev))
    W = rng.standard_normal((f, f, n_C_prev))
    b = rng.standard_normal((1, 1, 1))
    Z = conv_single_step(a_slice, W, b)
    check_scalar("conv_single_step", "result", Z, float(np.sum(a_slice * W) + b.item()))
    Z_no_weights = conv_single_step(a_slice, np.zeros_like(W), b)
    check_scalar("conv_single_step", "result with all-zero filter (should equal the bias)",
                 Z_no_weights, b.item())


def _conv_case(m, n_H_prev, n_W_prev, n_C_prev, f, n_C, seed):
    rng = np.random.default_rng(seed)
    return (rng.standard_normal((m, n_H_prev, n_W_prev, n_C_prev)),
            rng.standard_normal((f, f, n_C_prev, n_C)),
            rng.standard_normal((1, 1, 1, n_C)))


def check_conv_forward(conv_forward, m=2, n_H_prev=5, n_W_prev=7, n_C_prev=4, f=3, n_C=8,
                       stride=2, pad=1, seed=1) -> None:
    """conv_forward must match the vectorised convolution and return (A_prev, W, b, hparameters)."""
    A_prev, W, b = _conv_case(m, n_H_prev, n_W_prev, n_C_prev, f, n_C, seed)
    hparameters = {"stride": stride, "pad": pad}
    saved = A_prev.copy()
    with helpers_replaced(conv_forward, zero_pad=_reference_zero_pad,
                          conv_single_step=_reference_conv_single_step):
        result = conv_forward(A_prev, W, b, hparameters)
    if not (isinstance(result, tuple) and len(result) == 2):
        raise AssertionError("conv_forward: should return the tuple (Z, cache)")
    Z, cache = result
    expected = conv_forward_fast(A_prev, W, b, stride, pad)
    check_close(f"conv_forward (stride={stride}, pad={pad})", "Z", Z, expected)
    check_unchanged("conv_forward", "A_prev", saved, A_prev)
    if not (isinstance(cache, tuple) and len(cache) == 4 and cache[0] is A_prev
            and cache[1] is W and cache[2] is b and cache[3] is hparameters):
        raise AssertionError("conv_forward: cache should be the tuple (A_prev, W, b, hparameters)")


def check_pool_forward(pool_forward, mode="max", m=2, n_H_prev=5, n_W_prev=5, n_C=3, f=3,
                       stride=1, seed=1) -> None:
    """pool_forward must match the vectorised pooling and return (A_prev, hparameters)."""
    rng = np.random.default_rng(seed)
    A_prev = rng.standard_normal((m, n_H_prev, n_W_prev, n_C))
    hparameters = {"f": f, "stride": stride}
    saved = A_prev.copy()
    result = pool_forward(A_prev, hparameters, mode=mode)
    if not (isinstance(result, tuple) and len(result) == 2):
        raise AssertionError("pool_forward: should return the tuple (A, cache)")
    A, cache = result
    expected = pool_forward_fast(A_prev, f, stride, mode)
    check_close(f"pool_forward (mode={mode!r}, f={f}, stride={stride})", "A", A, expected)
    check_unchanged("pool_forward", "A_prev", saved, A_prev)
    if not (isinstance(cache, tuple) and len(cache) == 2 and cache[0] is A_prev
            and cache[1] is hparameters):
        raise AssertionError("pool_forward: cache should be the tuple (A_prev, hparameters)")


def check_conv_backward(conv_backward, m=2, n_H_prev=4, n_W_prev=5, n_C_prev=3, f=2, n_C=4,
                        stride=2, pad=1, seed=1) -> None:
    """conv_backward's gradients must match central differences of L = sum(Z * dZ).

    Z comes from the vectorised convolution, so this check does not depend on the student's
    conv_forward.
    """
    A_prev, W, b = _conv_case(m, n_H_prev, n_W_prev, n_C_prev, f, n_C, seed)
    hparameters = {"stride": stride, "pad": pad}
    n_H = output_size(n_H_prev, f, stride, pad)
    n_W = output_size(n_W_prev, f, stride, pad)
    dZ = np.random.default_rng(seed + 1).standard_normal((m, n_H, n_W, n_C))

    def loss():
        return float(np.sum(conv_forward_fast(A_prev, W, b, stride, pad) * dZ))

    expected = {"dA_prev": numeric_gradient(loss, A_prev), "dW": numeric_gradient(loss, W),
                "db": numeric_gradient(loss, b)}
    with helpers_replaced(conv_backward, zero_pad=_reference_zero_pad):
        result = conv_backward(dZ, (A_prev, W, b, hparameters))
    if not (isinstance(result, tuple) and len(result) == 3):
        raise AssertionError("conv_backward: should return the tuple (dA_prev, dW, db)")
    name = f"conv_backward (stride={stride}, pad={pad})"
    for what, got in zip(("dA_prev", "dW", "db"), result):
        check_close(name, what, got, expected[what], rtol=1e-5, atol=1e-6)


def check_create_mask_from_window(create_mask_from_window, shape=(2, 3), seed=1) -> None:
    """The mask must be True exactly where the window holds its maximum."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape)
    mask = create_mask_from_window(x)
    check_shape("create_mask_from_window", "mask", mask, shape)
    expected = x == x.max()
    if not np.array_equal(np.asarray(mask, dtype=bool), expected):
        raise AssertionError(f"create_mask_from_window: for x =\n{x}\nthe mask should be\n"
                             f"{expected}\ngot\n{mask}")


def check_distribute_value(distribute_value, dz=2.0, shape=(2, 2)) -> None:
    """dz must be spread evenly over a matrix of ``shape``."""
    a = distribute_value(dz, shape)
    expected = np.full(shape, dz / (shape[0] * shape[1]))
    check_close("distribute_value", "output", a, expected)


def check_pool_backward(pool_backward, mode="max", m=2, n_H_prev=5, n_W_prev=3, n_C=2, f=2,
                        stride=1, seed=1) -> None:
    """pool_backward's dA_prev must match central differences of L = sum(A * dA).

    Inputs are random floats, so ties inside a window (where max pooling has no gradient) do
    not occur.
    """
    rng = np.random.default_rng(seed)
    A_prev = rng.standard_normal((m, n_H_prev, n_W_prev, n_C))
    hparameters = {"f": f, "stride": stride}
    n_H = output_size(n_H_prev, f, stride)
    n_W = output_size(n_W_prev, f, stride)
    dA = rng.standard_normal((m, n_H, n_W, n_C))

    def loss():
        return float(np.sum(pool_forward_fast(A_prev, f, stride, mode) * dA))

    expected = numeric_gradient(loss, A_prev)
    with helpers_replaced(pool_backward,
                          create_mask_from_window=_reference_create_mask_from_window,
                          distribute_value=_reference_distribute_value):
        dA_prev = pool_backward(dA, (A_prev, hparameters), mode=mode)
    check_ndarray("pool_backward", "dA_prev", dA_prev)
    check_close(f"pool_backward (mode={mode!r}, f={f}, stride={stride})", "dA_prev", dA_prev,
                expected, rtol=1e-5, atol=1e-6)
