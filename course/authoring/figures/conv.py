"""Figures of assignment 1 (convolution step by step), computed with ``utils.conv_fast``.

Each figure is drawn from numbers computed here, so it always agrees with the text: a padded
grid, a convolution window and its output, the window corners, max and average pooling, edge
detection on a real photograph, cross-correlation against convolution, a convolution over a
volume, and how many windows cover each input position (the sums of the backward pass).
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.colors import to_hex

from course.authoring.figures.common import (
    DATA_COLOUR,
    OUT_COLOUR,
    PAD_COLOUR,
    WINDOW_COLOUR,
    diagram_axes,
    grid,
    tr,
    volume,
)
from utils import data
from utils.conv_fast import conv_forward_fast, pool_forward_fast
from utils.images import load_image

EDGE_PICTURE = "images/style/louvre_small.jpg"
VERTICAL = np.array([[1, 0, -1], [1, 0, -1], [1, 0, -1]], dtype=float)
SOBEL_X = np.array([[1, 0, -1], [2, 0, -2], [1, 0, -1]], dtype=float)
FOLDER = "conv_step_by_step"  # images/<FOLDER>/: the notebook these figures belong to


def _correlate(image: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """The course's convolution (a cross-correlation, stride 1, no padding) of a 2D array."""
    return conv_forward_fast(image[None, :, :, None], kernel[:, :, None, None],
                             np.zeros((1, 1, 1, 1)), stride=1, pad=0)[0, :, :, 0]


def zero_padding():
    image = np.arange(1, 10).reshape(3, 3)
    padded = np.pad(image, 2)
    fig, (left, right) = plt.subplots(1, 2, figsize=(7, 3.2),
                                      gridspec_kw={"width_ratios": [3, 7]})
    grid(left, image, DATA_COLOUR, tr("input, 3 x 3"))
    colours = np.full(padded.shape, PAD_COLOUR, dtype=object)
    colours[2:5, 2:5] = DATA_COLOUR
    grid(right, padded, colours, tr("zero_pad(input, pad=2), 7 x 7"))
    return fig


def convolution_window():
    image = np.array([[1, 2, 0, 1, 3], [0, 1, 3, 2, 1], [2, 0, 1, 0, 2], [1, 3, 2, 1, 0],
                      [0, 1, 0, 2, 1]], dtype=float)
    out = _correlate(image, VERTICAL)
    fig, axes = plt.subplots(1, 3, figsize=(9, 3.2), gridspec_kw={"width_ratios": [5, 3, 3]})
    colours = np.full(image.shape, DATA_COLOUR, dtype=object)
    colours[1:4, 0:3] = WINDOW_COLOUR
    grid(axes[0], image, colours, tr("input 5 x 5: window at h=1, w=0"))
    grid(axes[1], VERTICAL, WINDOW_COLOUR, tr("filter W, 3 x 3 (b = 0)"))
    out_colours = np.full(out.shape, OUT_COLOUR, dtype=object)
    out_colours[1, 0] = WINDOW_COLOUR
    grid(axes[2], out, out_colours, tr("output Z, 3 x 3:\nZ[1, 0] = sum(window * W) + b"))
    return fig


def window_corners():
    n, f, stride, h, w = 7, 3, 2, 1, 2
    fig, ax = plt.subplots(figsize=(4.5, 4.5))
    colours = np.full((n, n), DATA_COLOUR, dtype=object)
    vs, hs = h * stride, w * stride
    colours[vs:vs + f, hs:hs + f] = WINDOW_COLOUR
    grid(ax, np.zeros((n, n)), colours, "", fmt="")
    ax.set_title(tr("output position h={h}, w={w}, with f={f}, stride={stride}").format(
        h=h, w=w, f=f, stride=stride), fontsize=10, pad=16)
    for c in range(n):
        ax.text(c + 0.5, n + 0.25, str(c), ha="center", fontsize=8)
    for r in range(n):
        ax.text(-0.3, n - 0.5 - r, str(r), va="center", ha="right", fontsize=8)
    ax.annotate(f"vert_start = h*stride = {vs}\nvert_end = vert_start + f = {vs + f}\n"
                f"horiz_start = w*stride = {hs}\nhoriz_end = horiz_start + f = {hs + f}",
                xy=(0.5, -0.05), xycoords="axes fraction", ha="center", va="top", fontsize=9)
    return fig


def pooling():
    x = np.array([[1, 3, 2, 1], [4, 6, 5, 0], [3, 1, 1, 0], [1, 2, 2, 4]], dtype=float)
    maxed = pool_forward_fast(x[None, :, :, None], 2, 2, "max")[0, :, :, 0]
    averaged = pool_forward_fast(x[None, :, :, None], 2, 2, "average")[0, :, :, 0]
    block = np.array([["#9ecae1", "#fdae6b"], ["#a1d99b", "#dadaeb"]], dtype=object)
    fig, axes = plt.subplots(1, 3, figsize=(9, 3.2), gridspec_kw={"width_ratios": [4, 2, 2]})
    grid(axes[0], x, np.kron(block, np.ones((2, 2), dtype=object)), tr("input 4 x 4"))
    grid(axes[1], maxed, block, tr("max pooling\nf=2, stride=2"))
    grid(axes[2], averaged, block, tr("average pooling\nf=2, stride=2"), fmt="{:.2f}")
    return fig


def edge_detection():
    """A real photograph (grey levels) and its feature maps for four 3x3 filters."""
    grey = load_image(data.fetch(EDGE_PICTURE), (300, 400))[0].mean(axis=-1)
    maps = {tr("vertical edges\n[[1,0,-1]] x 3 rows"): _correlate(grey, VERTICAL),
            tr("horizontal edges\n(the transpose)"): _correlate(grey, VERTICAL.T)}
    sobel_x, sobel_y = _correlate(grey, SOBEL_X), _correlate(grey, SOBEL_X.T)
    maps[tr("Sobel, both directions\nsqrt(Gx^2 + Gy^2)")] = np.hypot(sobel_x, sobel_y)
    fig, axes = plt.subplots(1, 4, figsize=(11, 2.5))
    axes[0].imshow(grey, cmap="gray")
    axes[0].set_title(tr("input: 300 x 400 grey levels"), fontsize=9)
    for ax, (title, feature_map) in zip(axes[1:], maps.items()):
        limit = np.percentile(np.abs(feature_map), 99)  # a few very strong edges saturate
        if feature_map.min() < 0:
            ax.imshow(feature_map, cmap="RdBu_r", vmin=-limit, vmax=limit)
        else:
            ax.imshow(feature_map, cmap="gray_r", vmin=0, vmax=limit)
        ax.set_title(f"{title}\n{feature_map.shape[0]} x {feature_map.shape[1]}", fontsize=9)
    for ax in axes:
        ax.axis("off")
    return fig


def flipped_convolution():
    """Cross-correlation (deep learning's "convolution") against the flipped-kernel convolution
    of mathematics, on a small input with an asymmetric filter."""
    x = np.array([[3, 0, 1, 2], [1, 5, 8, 9], [2, 7, 2, 5], [0, 1, 3, 1]], dtype=float)
    kernel = np.array([[1, 2, 0], [0, 1, 0], [-1, 0, 0]], dtype=float)
    flipped = kernel[::-1, ::-1]
    fig, axes = plt.subplots(1, 5, figsize=(13, 2.8), gridspec_kw={"width_ratios": [4, 3, 2, 3, 2]})
    grid(axes[0], x, DATA_COLOUR, tr("input 4 x 4"))
    grid(axes[1], kernel, WINDOW_COLOUR, tr("filter K"))
    grid(axes[2], _correlate(x, kernel), OUT_COLOUR, tr("cross-correlation\nwith K (this course)"))
    grid(axes[3], flipped, WINDOW_COLOUR, tr("K flipped\n(rows and columns)"))
    grid(axes[4], _correlate(x, flipped), OUT_COLOUR, tr("convolution of\nmathematics"))
    return fig


def volume_convolution():
    """A 6x6x3 volume, two 3x3x3 filters, two 4x4 outputs stacked into 4x4x2."""
    fig, ax = diagram_axes(9, 3.2, (-0.5, 16.5), (-3.6, 3.2))
    end = volume(ax, 0, 3.6, 3.6, 1.5, tr("input 6 x 6 x 3"))
    ax.text(end + 0.5, 0, "*", fontsize=18, va="center")
    end = volume(ax, end + 1.3, 1.8, 1.8, 1.5, tr("filter 1: 3 x 3 x 3"), WINDOW_COLOUR)
    end = volume(ax, end + 0.6, 1.8, 1.8, 1.5, tr("filter 2: 3 x 3 x 3"), "#fdd0a2")
    ax.text(end + 0.4, 0, "→", fontsize=18, va="center")
    volume(ax, end + 1.4, 2.4, 2.4, 1.0, tr("output 4 x 4 x 2:\none 4 x 4 map per filter\n"
                                            "(+ its bias, then ReLU)"), OUT_COLOUR)
    ax.text(8, 2.7, tr("each filter spans all 3 channels: 3 x 3 x 3 = 27 weights + 1 bias; "
                       "n_C filters give n_C output channels"), ha="center", fontsize=9)
    return fig


def backward_overlap():
    """How many windows (f = 3, stride 1) read each position of a 6x6 input: the number of
    terms that the backward pass adds up into dA at that position."""
    n, f = 6, 3
    counts = np.zeros((n, n))
    for h in range(n - f + 1):
        for w in range(n - f + 1):
            counts[h:h + f, w:w + f] += 1
    fig, axes = plt.subplots(1, 2, figsize=(8.5, 3.6))
    colours = np.full((n, n), DATA_COLOUR, dtype=object)
    colours[0:3, 0:3] = WINDOW_COLOUR
    colours[0:3, 1:4] = "#fdae6b"
    colours[0:3, 1:3] = "#e6550d"
    grid(axes[0], np.zeros((n, n)), colours, tr("two neighbouring windows share 6 positions"),
         fmt="")
    shades = np.vectorize(lambda k: to_hex(plt.cm.Blues(0.15 + 0.6 * k / counts.max())))(counts)
    grid(axes[1], counts, shades.astype(object),
         tr("windows that read each input position\n(f = 3, stride 1, 4 x 4 output)"))
    return fig


SCHARR_X = np.array([[3, 0, -3], [10, 0, -10], [3, 0, -3]], dtype=float)
STEP_EDGE = np.repeat([[10, 10, 10, 0, 0, 0]], 6, axis=0).astype(float)  # the lecture's 6x6
GRATING_WAVELENGTH = 4  # pixels: a fine pattern, where the filters' direction errors show
SIGNAL_ROW = 150  # the row of the grey Louvre picture used as a 1D signal
VIDEO_FRAMES = [f"images/road/{i:04d}.jpg" for i in range(13, 18)]  # consecutive pictures
VIDEO_SIZE = (90, 160)  # (height, width) of the frames for the 3D convolution
TIME_DERIVATIVE = np.stack([-np.ones((3, 3)), np.zeros((3, 3)), np.ones((3, 3))]) / 9


def edge_polarity():
    """The lecture's 6x6 step edge, light on the left and then dark on the left, through the
    same vertical-edge filter: +30 for a light-to-dark edge, -30 for dark-to-light."""
    fig, axes = plt.subplots(2, 3, figsize=(9, 6.2), gridspec_kw={"width_ratios": [6, 3, 4]})
    for row, (image, title) in enumerate(((STEP_EDGE, tr("light to dark (10 | 0)")),
                                          (STEP_EDGE[:, ::-1], tr("dark to light (0 | 10)")))):
        out = _correlate(image, VERTICAL)
        shades = np.where(image > 0, "#f7f7f7", "#969696").astype(object)
        grid(axes[row, 0], image, shades, title)
        grid(axes[row, 1], VERTICAL, WINDOW_COLOUR, tr("vertical-edge filter"))
        out_colours = np.where(out > 0, "#fc9272", np.where(out < 0, "#9ecae1", OUT_COLOUR))
        grid(axes[row, 2], out, out_colours.astype(object),
             tr("output: {value:+g} on the edge").format(value=out[:, 1:3].mean()))
    return fig


def _direction_errors(kernel: np.ndarray, angles: np.ndarray) -> np.ndarray:
    """For a grating of GRATING_WAVELENGTH pixels turned by each angle (radians), the RMS error
    in degrees of the edge direction that ``kernel`` (x derivative) and its transpose (y) give,
    weighted by the gradient's strength."""
    rows, cols = np.mgrid[0:64, 0:64].astype(float)
    errors = []
    for angle in angles:
        image = np.sin(2 * np.pi * (cols * np.cos(angle) + rows * np.sin(angle))
                       / GRATING_WAVELENGTH)
        gx, gy = -_correlate(image, kernel), -_correlate(image, kernel.T)
        # an edge's direction is defined up to a half turn: compare angles modulo 180 degrees
        error = np.angle(np.exp(2j * (np.arctan2(gy, gx) - angle))) / 2
        errors.append(np.degrees(np.sqrt(np.average(error ** 2, weights=np.hypot(gx, gy)))))
    return np.array(errors)


def sobel_scharr():
    """Three hand-designed vertical-edge filters and the error of the edge direction they
    estimate (with their transposes for the other direction) on a fine grating turned from 0
    to 90 degrees."""
    filters = {tr("vertical edge"): VERTICAL, "Sobel": SOBEL_X, "Scharr": SCHARR_X}
    angles = np.radians(np.arange(0, 91))
    fig, axes = plt.subplots(1, 4, figsize=(12, 3.0), gridspec_kw={"width_ratios": [3, 3, 3, 6],
                                                                   "wspace": 0.45})
    for ax, (name, kernel) in zip(axes, filters.items()):
        grid(ax, kernel, WINDOW_COLOUR, name)
        errors = _direction_errors(kernel, angles)
        axes[3].plot(np.degrees(angles), errors,
                     label=tr("{name}: at most {error:.1f} degrees").format(name=name,
                                                                            error=errors.max()))
    axes[3].set_xlabel(tr("direction of the edges (degrees)"))
    axes[3].set_ylabel(tr("direction error (degrees)"))
    axes[3].set_ylim(0, 1.5 * axes[3].get_ylim()[1])
    axes[3].set_title(tr("on a grating of period {period} pixels").format(
        period=GRATING_WAVELENGTH), fontsize=9)
    axes[3].legend(fontsize=8, loc="upper center")
    return fig


def dense_versus_conv():
    """Parameters of a fully connected layer of 1000 units against a convolution layer of 10
    3x3 filters, for a 32x32, a 64x64 and a 1000x1000 RGB picture."""
    sizes = [32, 64, 1000]
    dense = [(n * n * 3 + 1) * 1000 for n in sizes]
    conv = [(3 * 3 * 3 + 1) * 10 for _ in sizes]
    fig, ax = plt.subplots(figsize=(7.5, 3.4))
    x = np.arange(len(sizes))
    for offset, counts, colour, label in ((-0.2, dense, WINDOW_COLOUR,
                                           tr("fully connected, 1000 units")),
                                          (0.2, conv, OUT_COLOUR,
                                           tr("convolution, 10 filters 3x3"))):
        bars = ax.bar(x + offset, counts, 0.38, color=colour, edgecolor="black", label=label)
        for bar, count in zip(bars, counts):
            ax.text(bar.get_x() + bar.get_width() / 2, count * 1.6, f"{count:,}", ha="center",
                    fontsize=8)
    ax.set_yscale("log")
    ax.set_ylim(10, 1e11)
    ax.set_xticks(x, [tr("{n} x {n} x 3 picture").format(n=n) for n in sizes])
    ax.set_ylabel(tr("parameters (log scale)"))
    ax.legend(fontsize=8, loc="upper left")
    return fig


def _grey_louvre() -> np.ndarray:
    return load_image(data.fetch(EDGE_PICTURE), (300, 400))[0].mean(axis=-1)


def conv_1d_3d():
    """A 1D convolution (a row of the grey Louvre picture and the filter [1, 0, -1]) and a 3D
    convolution (five consecutive road pictures and a 3x3x3 filter that subtracts the picture
    before from the picture after)."""
    from scipy.signal import correlate

    signal = _grey_louvre()[SIGNAL_ROW]
    edges = correlate(signal, np.array([1.0, 0.0, -1.0]), mode="valid")
    frames = np.stack([load_image(data.fetch(path), VIDEO_SIZE)[0].mean(axis=-1)
                       for path in VIDEO_FRAMES])
    change = correlate(frames, TIME_DERIVATIVE, mode="valid")
    fig = plt.figure(figsize=(12, 5.6))
    top = fig.add_gridspec(2, 1, height_ratios=[1, 1.15], hspace=0.45)
    line = top[0].subgridspec(1, 2, wspace=0.25)
    ax = fig.add_subplot(line[0])
    ax.plot(signal, color="black", lw=0.8)
    ax.set_title(tr("1D input: row {row} of the grey Louvre picture, {n} values").format(
        row=SIGNAL_ROW, n=len(signal)), fontsize=9)
    ax = fig.add_subplot(line[1])
    ax.plot(edges, color=WINDOW_COLOUR, lw=0.8)
    ax.axhline(0, color="grey", lw=0.5)
    ax.set_title(tr("1D output with the filter [1, 0, -1]: {n} values").format(n=len(edges)),
                 fontsize=9)
    pictures = top[1].subgridspec(1, 4, wspace=0.05)
    middle = len(VIDEO_FRAMES) // 2
    for k, offset in enumerate((-1, 0, 1)):
        ax = fig.add_subplot(pictures[k])
        ax.imshow(frames[middle + offset], cmap="gray")
        ax.set_title(tr("picture t{offset:+d} of {n}").format(offset=offset, n=len(frames))
                     if offset else tr("picture t of {n}").format(n=len(frames)), fontsize=9)
        ax.axis("off")
    ax = fig.add_subplot(pictures[3])
    out = change[middle - 1]
    limit = np.percentile(np.abs(out), 99.5)
    ax.imshow(out, cmap="RdBu_r", vmin=-limit, vmax=limit)
    ax.set_title(tr("3D output at t: {shape}").format(
        shape=" x ".join(str(n) for n in change.shape)), fontsize=9)
    ax.axis("off")
    fig.text(0.5, 0.49, tr("3D input: {t} pictures of {h} x {w} grey levels; filter 3 x 3 x 3 "
                           "(the mean of 3 x 3 pixels at t+1 minus the same at t-1)").format(
        t=len(frames), h=VIDEO_SIZE[0], w=VIDEO_SIZE[1]), ha="center", fontsize=9)
    return fig
