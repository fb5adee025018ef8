"""Draw the explanatory figures of the notebooks into images/ (``python -m utils.course figures``).

Each figure is drawn from numbers computed here, so it always agrees with the text: a padded
grid, a convolution window and its output, the window corners, max and average pooling.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.patches import Rectangle  # noqa: E402

from utils.conv_fast import conv_forward_fast, pool_forward_fast  # noqa: E402
from utils.course.assignments import REPO_ROOT  # noqa: E402

CONV_DIR = REPO_ROOT / "images" / "conv_step_by_step"
PAD_COLOUR, DATA_COLOUR, WINDOW_COLOUR, OUT_COLOUR = "#eeeeee", "#9ecae1", "#fd8d3c", "#74c476"


def _grid(ax, values: np.ndarray, colours: np.ndarray, title: str, fmt: str = "{:g}") -> None:
    """Draw a 2D array as labelled squares; colours has one colour string per entry."""
    n_rows, n_cols = values.shape
    for r in range(n_rows):
        for c in range(n_cols):
            ax.add_patch(Rectangle((c, n_rows - 1 - r), 1, 1, facecolor=colours[r, c],
                                   edgecolor="black", linewidth=0.8))
            ax.text(c + 0.5, n_rows - 0.5 - r, fmt.format(values[r, c]), ha="center",
                    va="center", fontsize=9)
    ax.set_xlim(-0.1, n_cols + 0.1)
    ax.set_ylim(-0.1, n_rows + 0.1)
    ax.set_aspect("equal")
    ax.axis("off")
    ax.set_title(title, fontsize=10)


def _save(fig, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100, bbox_inches="tight", metadata={"Software": None})
    plt.close(fig)
    return path


def zero_padding() -> Path:
    image = np.arange(1, 10).reshape(3, 3)
    padded = np.pad(image, 2)
    fig, (left, right) = plt.subplots(1, 2, figsize=(7, 3.2),
                                      gridspec_kw={"width_ratios": [3, 7]})
    _grid(left, image, np.full(image.shape, DATA_COLOUR), "input, 3 x 3")
    colours = np.full(padded.shape, PAD_COLOUR, dtype=object)
    colours[2:5, 2:5] = DATA_COLOUR
    _grid(right, padded, colours, "zero_pad(input, pad=2), 7 x 7")
    return _save(fig, CONV_DIR / "zero_padding.png")


def convolution_window() -> Path:
    image = np.array([[1, 2, 0, 1, 3], [0, 1, 3, 2, 1], [2, 0, 1, 0, 2], [1, 3, 2, 1, 0],
                      [0, 1, 0, 2, 1]], dtype=float)
    kernel = np.array([[1, 0, -1], [1, 0, -1], [1, 0, -1]], dtype=float)
    out = conv_forward_fast(image[None, :, :, None], kernel[:, :, None, None],
                            np.zeros((1, 1, 1, 1)), stride=1, pad=0)[0, :, :, 0]
    fig, axes = plt.subplots(1, 3, figsize=(9, 3.2), gridspec_kw={"width_ratios": [5, 3, 3]})
    colours = np.full(image.shape, DATA_COLOUR, dtype=object)
    colours[1:4, 0:3] = WINDOW_COLOUR
    _grid(axes[0], image, colours, "input 5 x 5: window at h=1, w=0")
    _grid(axes[1], kernel, np.full(kernel.shape, WINDOW_COLOUR), "filter W, 3 x 3 (b = 0)")
    out_colours = np.full(out.shape, OUT_COLOUR, dtype=object)
    out_colours[1, 0] = WINDOW_COLOUR
    _grid(axes[2], out, out_colours, "output Z, 3 x 3:\nZ[1, 0] = sum(window * W) + b")
    return _save(fig, CONV_DIR / "convolution_window.png")


def window_corners() -> Path:
    n, f, stride, h, w = 7, 3, 2, 1, 2
    fig, ax = plt.subplots(figsize=(4.5, 4.5))
    colours = np.full((n, n), DATA_COLOUR, dtype=object)
    vs, hs = h * stride, w * stride
    colours[vs:vs + f, hs:hs + f] = WINDOW_COLOUR
    _grid(ax, np.zeros((n, n)), colours, "", fmt="")
    ax.set_title(f"output position h={h}, w={w}, with f={f}, stride={stride}", fontsize=10, pad=16)
    for c in range(n):
        ax.text(c + 0.5, n + 0.25, str(c), ha="center", fontsize=8)
    for r in range(n):
        ax.text(-0.3, n - 0.5 - r, str(r), va="center", ha="right", fontsize=8)
    ax.annotate(f"vert_start = h*stride = {vs}\nvert_end = vert_start + f = {vs + f}\n"
                f"horiz_start = w*stride = {hs}\nhoriz_end = horiz_start + f = {hs + f}",
                xy=(0.5, -0.05), xycoords="axes fraction", ha="center", va="top", fontsize=9)
    return _save(fig, CONV_DIR / "window_corners.png")


def pooling() -> Path:
    x = np.array([[1, 3, 2, 1], [4, 6, 5, 0], [3, 1, 1, 0], [1, 2, 2, 4]], dtype=float)
    maxed = pool_forward_fast(x[None, :, :, None], 2, 2, "max")[0, :, :, 0]
    averaged = pool_forward_fast(x[None, :, :, None], 2, 2, "average")[0, :, :, 0]
    block = np.array([["#9ecae1", "#fdae6b"], ["#a1d99b", "#dadaeb"]], dtype=object)
    fig, axes = plt.subplots(1, 3, figsize=(9, 3.2), gridspec_kw={"width_ratios": [4, 2, 2]})
    _grid(axes[0], x, np.kron(block, np.ones((2, 2), dtype=object)), "input 4 x 4")
    _grid(axes[1], maxed, block, "max pooling\nf=2, stride=2")
    _grid(axes[2], averaged, block, "average pooling\nf=2, stride=2", fmt="{:.2f}")
    return _save(fig, CONV_DIR / "pooling.png")


def draw_all() -> list[Path]:
    """Draw every figure; return the files written."""
    return [zero_padding(), convolution_window(), window_corners(), pooling()]
