"""Figures of assignment 6 (neural style transfer): the content and style pictures, unrolling a
volume, Gram matrices of real pictures, the algorithm, and the measured effect of the cost
weights and of the style layers on the painting.

The paintings are made by the reference solution's own ``train_step`` with the notebook's
settings (the course's pictures at 300x400, 300 Adam steps with learning rate 0.01, from the
content image with noise), on the network the notebook paints with (VGG19 when its weights are
there, otherwise YOLOv3-tiny's backbone); each figure names the network.
"""

from __future__ import annotations

import functools

import keras
import matplotlib.pyplot as plt
import nbformat
import numpy as np

from course import assignments
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
from course.trusted.reference_solution import run_reference
from utils import data
from utils.images import load_image
from utils.style_transfer import feature_extractor, load_painting_network, noisy_image

FOLDER = "neural_style_transfer"  # images/<FOLDER>/: the notebook these figures belong to

PICTURES = {"content C": "images/style/louvre_small.jpg", "style S": "images/style/monet.jpg"}
CHANNEL_COLOURS = ["#fcbba1", "#c7e9c0", "#c6dbef"]
PAINTING_SIZE, PAINTING_STEPS, LEARNING_RATE = (300, 400), 300, 0.01  # the notebook's full mode
ALPHA, BETA = 10, 40  # the notebook's cost weights


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


@functools.cache
def _network():
    return load_painting_network(PAINTING_SIZE)


@functools.cache
def painting(beta: float = BETA, style_layers: tuple | None = None) -> np.ndarray:
    """The course's pictures painted by the reference ``train_step`` (module docstring) with
    ALPHA and ``beta``, and ``style_layers`` ((name, weight) pairs; the network's own by
    default); the (h, w, 3) image in [0, 1]."""
    network = _network()
    layers = list(style_layers or network.style_layers)
    content, style = (load_image(data.fetch(path), PAINTING_SIZE) for path in PICTURES.values())
    # A fresh namespace of the reference solution: train_step is traced for these settings.
    reference = run_reference(nbformat.read(
        assignments.get("C4W4A2_neural_style_transfer").source_notebook, as_version=4))
    extractor = feature_extractor(network.model,
                                  [name for name, _ in layers] + [network.content_layer])
    reference.update(
        vgg_model_outputs=extractor, a_C=extractor(content), a_S=extractor(style), ALPHA=ALPHA,
        BETA=beta, optimizer=keras.optimizers.Adam(learning_rate=LEARNING_RATE),
        compute_style_cost=functools.partial(reference["compute_style_cost"],
                                             style_layers=layers))
    image = noisy_image(content, noise=0.25, seed=0)
    for _ in range(PAINTING_STEPS):
        reference["train_step"](image)
    return image.numpy()[0]


def _network_name() -> str:
    """The name of the network that painted, in the figure's language."""
    return tr("the YOLOv3-tiny backbone") if _network().fallback_reason else tr("VGG19")


def _paintings(panels: dict[str, np.ndarray], columns: int, setting: str):
    rows = -(-len(panels) // columns)
    fig, axes = plt.subplots(rows, columns, figsize=(3.2 * columns, 2.55 * rows + 0.45))
    for ax, (title, picture) in zip(np.ravel(axes), panels.items()):
        ax.imshow(picture)
        ax.set_title(title, fontsize=9)
        ax.axis("off")
    height, width = PAINTING_SIZE
    fig.suptitle(tr("Painted by {network}, {steps} steps at {height}x{width}: {setting}").format(
        network=_network_name(), steps=PAINTING_STEPS, height=height, width=width,
        setting=setting), fontsize=9)
    fig.tight_layout()
    return fig


def effect_of_alpha_beta():
    """The same painting for four ratios beta / alpha, the course's (40 / 10) among them."""
    betas = {0.1: "0.01", 1: "0.1", BETA: tr("4, the course's"), 40_000: "4000"}
    return _paintings({tr("beta = {beta}: beta / alpha = {ratio}").format(beta=f"{beta:g}",
                                                                          ratio=ratio):
                       painting(beta) for beta, ratio in betas.items()}, 2,
                      tr("alpha = {alpha}, every style layer").format(alpha=ALPHA))


def effect_of_style_layers():
    """The course's painting with its five style layers, with the two shallowest only and with
    the three deepest only (the weights of each set add up to 1)."""
    names = [name for name, _ in _network().style_layers]
    sets = {tr("all five: {layers}").format(layers=", ".join(names)): None,
            tr("shallow: {layers}").format(layers=", ".join(names[:2])):
                tuple((n, 1 / 2) for n in names[:2]),
            tr("deep: {layers}").format(layers=", ".join(names[2:])):
                tuple((n, 1 / 3) for n in names[2:])}
    return _paintings({title: painting(BETA, layers) for title, layers in sets.items()}, 3,
                      tr("alpha = {alpha}, beta = {beta}").format(alpha=ALPHA, beta=BETA))
