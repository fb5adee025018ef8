"""Figures of assignment 6 (neural style transfer): the content and style pictures, unrolling a
volume, Gram matrices of real pictures, and the algorithm."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from course.authoring.figures.common import (
    DATA_COLOUR,
    NOTE_COLOUR,
    OUT_COLOUR,
    WINDOW_COLOUR,
    arrow,
    box,
    diagram_axes,
    grid,
    tr,
)
from utils import data
from utils.images import load_image

FOLDER = "neural_style_transfer"  # images/<FOLDER>/: the notebook these figures belong to

PICTURES = {"content C": "images/style/louvre_small.jpg", "style S": "images/style/monet.jpg"}
CHANNEL_COLOURS = ["#fcbba1", "#c7e9c0", "#c6dbef"]


def _pictures() -> dict[str, np.ndarray]:
    return {name: load_image(data.fetch(path), (300, 400))[0] for name, path in PICTURES.items()}


def _picture_names() -> dict[str, str]:
    """The names of PICTURES (in the language being drawn)."""
    return {"content C": tr("content C"), "style S": tr("style S")}


def content_and_style():
    fig, axes = plt.subplots(1, 2, figsize=(7, 2.8))
    for ax, (name, picture) in zip(axes, _pictures().items()):
        ax.imshow(picture)
        ax.set_title(tr("{name}: {file}").format(name=_picture_names()[name],
                                                 file=PICTURES[name].split('/')[-1]), fontsize=10)
        ax.axis("off")
    return fig


def unrolling():
    """Activations of shape (n_H, n_W, n_C) = (2, 3, 3) unrolled into A of shape (n_C, n_H n_W)."""
    a = np.arange(1, 19).reshape(2, 3, 3)  # a[h, w, c]
    unrolled = a.reshape(6, 3).T  # (n_H n_W, n_C) first, then transpose: one row per channel
    fig, ax = diagram_axes(11.5, 3.2, (-0.5, 18.2), (-1.6, 3.6))
    for c in range(3):
        grid(ax, a[:, :, c], CHANNEL_COLOURS[c], tr("channel {c}").format(c=c),
             origin=(c * 3.5, 0))
    arrow(ax, (10.6, 1.0), (11.4, 1.0), text=tr("unroll"))
    grid(ax, unrolled, np.array([[CHANNEL_COLOURS[c]] * 6 for c in range(3)], dtype=object),
         "A = a.reshape(n_H*n_W, n_C).T", origin=(11.6, -0.5))
    ax.text(8.5, -1.3, tr("activations (n_H, n_W, n_C) = (2, 3, 3) → A of shape (n_C, n_H n_W) = "
                          "(3, 6): row i holds channel i at every position"),
            ha="center", fontsize=9)
    return fig


def gram_colours():
    """G = A A^T / (n_H n_W) of the pictures' RGB channels: the style of the input layer."""
    fig, axes = plt.subplots(1, 2, figsize=(8, 3.4))
    for ax, (name, picture) in zip(axes, _pictures().items()):
        A = picture.reshape(-1, 3).T
        gram = A @ A.T / A.shape[1]
        ax.imshow(gram, cmap="Blues", vmin=0, vmax=0.5)
        for i in range(3):
            for j in range(3):
                ax.text(j, i, f"{gram[i, j]:.3f}", ha="center", va="center", fontsize=9)
        ax.set_xticks(range(3), ["R", "G", "B"])
        ax.set_yticks(range(3), ["R", "G", "B"])
        ax.set_title(tr("{name}: G / (n_H n_W)").format(name=_picture_names()[name]), fontsize=10)
    return fig


def algorithm():
    """C and S give fixed targets; G's pixels follow the gradient of the total cost."""
    fig, ax = diagram_axes(12, 4.4, (-0.5, 22), (-3.6, 2.6))
    box(ax, (1.2, 1.7), tr("content C"), DATA_COLOUR, width=2.2)
    box(ax, (1.2, 0), tr("generated G\n(C + noise)"), WINDOW_COLOUR, width=2.2, height=1.0)
    box(ax, (1.2, -1.7), tr("style S"), DATA_COLOUR, width=2.2)
    box(ax, (6.5, 0), tr("VGG19\n(frozen)"), NOTE_COLOUR, width=2.2, height=3.8)
    for y in (1.7, 0, -1.7):
        arrow(ax, (2.3, y), (5.4, y))
    box(ax, (11.5, 1.2), tr("J_content: block5_conv4\nof C and G"), OUT_COLOUR, width=4.2,
        height=1.0)
    box(ax, (11.5, -1.2), tr("J_style: Gram matrices of\n5 layers of S and G"), OUT_COLOUR,
        width=4.2, height=1.0)
    arrow(ax, (7.6, 0.6), (9.4, 1.2))
    arrow(ax, (7.6, -0.6), (9.4, -1.2))
    box(ax, (17, 0), "J(G) = alpha J_content\n+ beta J_style", OUT_COLOUR, width=4.0, height=1.0)
    arrow(ax, (13.6, 1.2), (15.0, 0.3))
    arrow(ax, (13.6, -1.2), (15.0, -0.3))
    ax.plot([17, 17, -0.3, -0.3], [-0.5, -2.8, -2.8, 0], color="#d62728", lw=1.2)
    arrow(ax, (-0.3, 0), (0.1, 0), colour="#d62728")
    ax.text(9.0, -3.3, tr("Adam updates the pixels of G with dJ/dG "
                          "(the network's weights never change)"),
            ha="center", color="#d62728", fontsize=9)
    return fig
