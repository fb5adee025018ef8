"""Figures of assignment 2 (SIGNS): one photograph of each sign, and the network's shapes."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from course.authoring.figures.common import (
    DATA_COLOUR,
    OUT_COLOUR,
    WINDOW_COLOUR,
    diagram_axes,
    tr,
    volume,
)
from utils import data
from utils.signs import _read_h5

FOLDER = "signs_cnn"  # images/<FOLDER>/: the notebook these figures belong to
# (stride, channels out: None keeps them) of the assignment's layers, "SAME" padding.
LAYERS = [(1, 8), (8, None), (1, 16), (4, None)]


def _layer_names() -> list[str]:
    """The labels of LAYERS (in the language being drawn)."""
    return [tr("CONV2D 4x4\n8 filters\nstride 1, RELU"), tr("MAXPOOL 8x8\nstride 8"),
            tr("CONV2D 2x2\n16 filters\nstride 1, RELU"), tr("MAXPOOL 4x4\nstride 4")]


def six_signs():
    """The first test photograph of each label, from datasets/test_signs.h5."""
    images, labels = _read_h5(data.fetch("datasets/test_signs.h5"), "test")
    fig, axes = plt.subplots(1, 6, figsize=(10, 2.1))
    for label, ax in enumerate(axes):
        ax.imshow(images[np.flatnonzero(labels == label)[0]])
        ax.set_title(tr("label {label}").format(label=label), fontsize=10)
        ax.axis("off")
    return fig


def shapes() -> list[tuple[int, int, int]]:
    """The activation shapes (n_H, n_W, n_C) from the 64x64x3 input to the last pooling layer.

    With "SAME" padding the output size is ceil(n / stride) (the formula of assignment 1 with
    the padding that keeps a stride-1 convolution's size)."""
    sizes = [(64, 64, 3)]
    for stride, channels in LAYERS:
        n_H, n_W, n_C = sizes[-1]
        sizes.append((-(-n_H // stride), -(-n_W // stride), channels or n_C))
    return sizes


def layer_shapes():
    sizes, names = shapes(), _layer_names()
    fig, ax = diagram_axes(13, 3.0, (-0.3, 29), (-2.6, 2.6))
    x = 0.0
    colours = [DATA_COLOUR, OUT_COLOUR, WINDOW_COLOUR, OUT_COLOUR, WINDOW_COLOUR]
    for i, (n_H, n_W, n_C) in enumerate(sizes):
        side = 0.6 + 1.8 * np.sqrt(n_H / 64)  # drawing sizes grow with the true sizes
        end = volume(ax, x, side, side, 0.15 * n_C ** 0.8, f"{n_H} x {n_W} x {n_C}", colours[i])
        x = end + 0.3
        if i < len(LAYERS):
            ax.annotate("", xy=(x + 2.4, 0), xytext=(x, 0), arrowprops={"arrowstyle": "-|>"})
            ax.text(x + 1.2, 0.25, names[i], ha="center", va="bottom", fontsize=7.5)
            x += 2.7
    n_H, n_W, n_C = sizes[-1]
    features = n_H * n_W * n_C
    ax.annotate("", xy=(x + 1.4, 0), xytext=(x, 0), arrowprops={"arrowstyle": "-|>"})
    ax.text(x + 0.7, 0.3, tr("FLATTEN"), ha="center", fontsize=7.5)
    end = volume(ax, x + 1.6, 2.4, 0.3, 0, f"{features}", DATA_COLOUR)
    ax.annotate("", xy=(end + 1.4, 0), xytext=(end + 0.1, 0), arrowprops={"arrowstyle": "-|>"})
    ax.text(end + 0.75, 0.3, tr("DENSE\n(softmax\nin the cost)"), ha="center", fontsize=7.5)
    volume(ax, end + 1.6, 1.0, 0.3, 0, tr("6 logits"), OUT_COLOUR)
    return fig
