"""Vectorised convolution and pooling (im2col), the fast counterpart of assignment 1's loops.

Shapes follow the assignment:
    A_prev: (m, n_H_prev, n_W_prev, n_C_prev) activations
    W:      (f, f, n_C_prev, n_C) filters
    b:      (1, 1, 1, n_C) biases
    output: (m, n_H, n_W, n_C) with n_H = (n_H_prev + 2 * pad - f) // stride + 1 (same for n_W).

The notebook uses these to show how much faster one matrix product is than four nested Python
loops; the tests use them as an independent reference for the students' loop implementations.
"""

from __future__ import annotations

import numpy as np

from utils.i18n import _


def output_size(n_prev: int, f: int, stride: int, pad: int = 0) -> int:
    """Spatial size of a convolution or pooling output: floor((n_prev + 2*pad - f) / stride) + 1."""
    if f > n_prev + 2 * pad:
        raise ValueError(_("window of size {f} does not fit in an input of size {n_prev} "
                           "padded by {pad} on each side").format(f=f, n_prev=n_prev, pad=pad))
    return (n_prev + 2 * pad - f) // stride + 1


def im2col(A: np.ndarray, f: int, stride: int) -> np.ndarray:
    """All f x f windows of A, one per output position.

    A: array of shape (m, n_H_prev, n_W_prev, n_C), already padded
    Returns windows: array of shape (m, n_H, n_W, f, f, n_C), a strided view of A (no copy)
    """
    m, n_H_prev, n_W_prev, n_C = A.shape
    n_H = output_size(n_H_prev, f, stride)
    n_W = output_size(n_W_prev, f, stride)
    s_m, s_h, s_w, s_c = A.strides
    return np.lib.stride_tricks.as_strided(
        A,
        shape=(m, n_H, n_W, f, f, n_C),
        strides=(s_m, s_h * stride, s_w * stride, s_h, s_w, s_c),
        writeable=False,
    )


def _check_int(name: str, value, minimum: int) -> None:
    if not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(_("{name} must be an integer >= {minimum}, got {value!r}").format(
            name=name, minimum=minimum, value=value))


def validate_conv_inputs(A_prev: np.ndarray, W: np.ndarray, b: np.ndarray,
                         hparameters: dict) -> None:
    """Raise ValueError with a clear message when the convolution's inputs do not fit together.

    A_prev: array of shape (m, n_H_prev, n_W_prev, n_C_prev)
    W: array of shape (f, f, n_C_prev, n_C)
    b: array of shape (1, 1, 1, n_C)
    """
    if np.ndim(A_prev) != 4:
        raise ValueError(_("{name} must have shape {expected}, got shape {shape}").format(
            name="A_prev", expected="(m, n_H_prev, n_W_prev, n_C_prev)", shape=np.shape(A_prev)))
    if np.ndim(W) != 4 or W.shape[0] != W.shape[1]:
        raise ValueError(_("{name} must have shape {expected}, got shape {shape}").format(
            name="W", expected="(f, f, n_C_prev, n_C)", shape=np.shape(W)))
    if W.shape[2] != A_prev.shape[3]:
        raise ValueError(_("A_prev has {channels} channels but W expects {expected} (W has "
                           "shape {shape})").format(channels=A_prev.shape[3],
                                                    expected=W.shape[2], shape=W.shape))
    if np.shape(b) != (1, 1, 1, W.shape[3]):
        raise ValueError(_("{name} must have shape {expected}, got shape {shape}").format(
            name="b", expected=(1, 1, 1, W.shape[3]), shape=np.shape(b)))
    missing = {"stride", "pad"} - set(hparameters)
    if missing:
        raise ValueError(_("hparameters lacks {missing}: it needs {needed}").format(
            missing=sorted(missing), needed="'stride', 'pad'"))
    _check_int("stride", hparameters["stride"], 1)
    _check_int("pad", hparameters["pad"], 0)
    for message, n_prev in (
            (_("the {f}x{f} filter does not fit in the input height {n_prev} padded by {pad} on "
               "each side"), A_prev.shape[1]),
            (_("the {f}x{f} filter does not fit in the input width {n_prev} padded by {pad} on "
               "each side"), A_prev.shape[2])):
        if W.shape[0] > n_prev + 2 * hparameters["pad"]:
            raise ValueError(message.format(f=W.shape[0], n_prev=n_prev,
                                            pad=hparameters["pad"]))


def validate_pool_inputs(A_prev: np.ndarray, hparameters: dict, mode: str) -> None:
    """Raise ValueError with a clear message when the pooling's inputs do not fit together.

    A_prev: array of shape (m, n_H_prev, n_W_prev, n_C)
    """
    if np.ndim(A_prev) != 4:
        raise ValueError(_("{name} must have shape {expected}, got shape {shape}").format(
            name="A_prev", expected="(m, n_H_prev, n_W_prev, n_C)", shape=np.shape(A_prev)))
    missing = {"f", "stride"} - set(hparameters)
    if missing:
        raise ValueError(_("hparameters lacks {missing}: it needs {needed}").format(
            missing=sorted(missing), needed="'f', 'stride'"))
    _check_int("f", hparameters["f"], 1)
    _check_int("stride", hparameters["stride"], 1)
    if hparameters["f"] > min(A_prev.shape[1], A_prev.shape[2]):
        raise ValueError(_("the {f}x{f} window does not fit in an input of {n_H}x{n_W}").format(
            f=hparameters["f"], n_H=A_prev.shape[1], n_W=A_prev.shape[2]))
    if mode not in ("max", "average"):
        raise ValueError(_("mode must be 'max' or 'average', got {mode!r}").format(mode=mode))


def conv_forward_fast(A_prev: np.ndarray, W: np.ndarray, b: np.ndarray, stride: int,
                      pad: int) -> np.ndarray:
    """Convolution of A_prev with filters W plus bias b, as one tensor contraction.

    A_prev: array of shape (m, n_H_prev, n_W_prev, n_C_prev)
    W: array of shape (f, f, n_C_prev, n_C)
    b: array of shape (1, 1, 1, n_C)
    Returns Z: array of shape (m, n_H, n_W, n_C), in the dtype numpy's promotion gives
    """
    validate_conv_inputs(A_prev, W, b, {"stride": stride, "pad": pad})
    f = W.shape[0]
    A_pad = np.pad(A_prev, ((0, 0), (pad, pad), (pad, pad), (0, 0)))
    windows = im2col(A_pad, f, stride)
    return np.tensordot(windows, W, axes=([3, 4, 5], [0, 1, 2])) + b.reshape(-1)


def pool_forward_fast(A_prev: np.ndarray, f: int, stride: int, mode: str = "max") -> np.ndarray:
    """Max or average pooling over f x f windows with the given stride, channel by channel.

    A_prev: array of shape (m, n_H_prev, n_W_prev, n_C)
    Returns A: array of shape (m, n_H, n_W, n_C)
    """
    validate_pool_inputs(A_prev, {"f": f, "stride": stride}, mode)
    windows = im2col(A_prev, f, stride)
    return windows.max(axis=(3, 4)) if mode == "max" else windows.mean(axis=(3, 4))
