"""Figures of assignment 4 (YOLO): the box encoding, anchor boxes, IoU, the post-processing
of the YOLOv3-tiny detector on the road picture, step by step, and the picture patches that
most activate units of a shallow, a middle and a deep layer of the detector."""

from __future__ import annotations

from dataclasses import dataclass

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.colors import to_rgba
from matplotlib.patches import Patch, Rectangle
from PIL import Image

from course.authoring.figures.common import (
    DATA_COLOUR,
    DPI,
    NOTE_COLOUR,
    OUT_COLOUR,
    WINDOW_COLOUR,
    box,
    diagram_axes,
    tr,
)
from course.trusted.reference_solution import reference_functions
from utils import data
from utils.yolo import load_yolov3_tiny, preprocess_image, scale_boxes, yolo_boxes_to_corners

FOLDER = "car_detection"  # images/<FOLDER>/: the notebook these figures belong to

ROAD_PICTURE = "images/road/test.jpg"
# Lower than the notebook's 0.3, with which non-max suppression removes no box of this picture:
# here it has duplicates to remove.
SCORE_THRESHOLD = 0.1
MAX_BOXES = 100  # above the number of filtered boxes: only the IoU threshold removes boxes


def box_encoding():
    """The target vector of one anchor box and the output volume of YOLOv2 (19x19, 5 anchors,
    80 classes) with its flattening."""
    fig, ax = diagram_axes(12, 4.2, (-0.5, 24), (-4.2, 4.2))
    entries = ["p_c", "b_x", "b_y", "b_h", "b_w", "c_1", "c_2", "...", "c_80"]
    colours = [WINDOW_COLOUR] + [DATA_COLOUR] * 4 + [OUT_COLOUR] * 4
    for i, (entry, colour) in enumerate(zip(entries, colours)):
        ax.add_patch(Rectangle((0, 3 - i * 0.8), 1.6, 0.8, facecolor=colour, edgecolor="black"))
        ax.text(0.8, 3.4 - i * 0.8, entry, ha="center", va="center", fontsize=9)
    notes = {0: tr("is there an object? (confidence)"), 1: tr("centre, as a fraction of the cell"),
             3: tr("height and width, relative to\nthe anchor (may exceed 1 cell)"),
             6: tr("class probabilities (80 COCO classes)")}
    for i, note in notes.items():
        ax.text(1.9, 3.4 - i * 0.8, note, va="center", fontsize=8.5)
    ax.text(0.8, 4.0, tr("one anchor box: 5 + 80 = 85 numbers"), ha="left", fontsize=9)
    box(ax, (14.5, 1.8), tr("image 608 x 608 x 3"), DATA_COLOUR, width=4.5)
    box(ax, (14.5, 0.2), tr("deep CNN (YOLOv2)"), NOTE_COLOUR, width=4.5)
    box(ax, (14.5, -1.4), tr("19 x 19 x 5 x 85\n(grid x grid x anchors x numbers)"),
        OUT_COLOUR, width=5.5, height=1.0)
    box(ax, (14.5, -3.2), tr("flattened: 19 x 19 x 425"), OUT_COLOUR, width=5.5)
    for y0, y1 in ((1.4, 0.6), (-0.2, -0.9), (-1.9, -2.8)):
        ax.annotate("", xy=(14.5, y1), xytext=(14.5, y0), arrowprops={"arrowstyle": "-|>"})
    ax.text(20.0, -1.4, tr("YOLOv3-tiny here:\n13 x 13 x 3 x 85 and\n26 x 26 x 3 x 85\n"
                           "(= 13 x 13 x 255, 26 x 26 x 255)"), fontsize=8.5, va="center")
    return fig


def anchor_boxes():
    """Two objects whose centres fall in the same grid cell, and two anchor shapes."""
    fig, (ax, inset) = plt.subplots(1, 2, figsize=(9, 4), gridspec_kw={"width_ratios": [1, 1.2]})
    for k in range(4):
        ax.axhline(k * 3, color="grey", lw=0.6)
        ax.axvline(k * 3, color="grey", lw=0.6)
    ax.add_patch(Rectangle((3, 3), 3, 3, facecolor=NOTE_COLOUR, edgecolor="black", zorder=0))
    ax.add_patch(Rectangle((3.8, 0.4), 1.4, 8.0, fill=False, edgecolor="#3182bd", lw=2))
    ax.add_patch(Rectangle((1.6, 3.3), 5.6, 2.6, fill=False, edgecolor="#e6550d", lw=2))
    ax.plot([4.5, 4.4], [4.4, 4.6], "o", color="black", ms=4)
    ax.text(4.0, 8.6, tr("person"), color="#3182bd", fontsize=9)
    ax.text(1.7, 6.05, tr("car"), color="#e6550d", fontsize=9)
    ax.set_xlim(0, 9)
    ax.set_ylim(0, 9)
    ax.set_aspect("equal")
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title(tr("both centres (dots) fall in the shaded cell"), fontsize=9)
    inset.add_patch(Rectangle((0.5, 0.3), 1.2, 3.4, fill=False, edgecolor="#3182bd", lw=2))
    inset.add_patch(Rectangle((2.4, 1.3), 3.2, 1.4, fill=False, edgecolor="#e6550d", lw=2))
    inset.text(1.1, 3.9, tr("anchor 1"), ha="center", fontsize=9)
    inset.text(4.0, 3.0, tr("anchor 2"), ha="center", fontsize=9)
    inset.text(3.0, -0.4, tr("the cell predicts one box per anchor:\ny = (85 numbers of anchor "
                             "1, 85 of anchor 2)\nthe person goes to anchor 1, the car to anchor "
                             "2\n(the anchor whose shape has the larger IoU)"),
               ha="center", va="top", fontsize=8.5)
    inset.set_xlim(0, 6)
    inset.set_ylim(0, 4.5)
    inset.set_aspect("equal")
    inset.axis("off")
    return fig


def iou_picture():
    """Two boxes, their intersection and union, with the value computed from the corners."""
    box1, box2 = (1.0, 1.0, 4.0, 3.0), (2.5, 2.0, 5.5, 4.5)  # (x1, y1, x2, y2)
    xi1, yi1 = max(box1[0], box2[0]), max(box1[1], box2[1])
    xi2, yi2 = min(box1[2], box2[2]), min(box1[3], box2[3])
    inter = max(xi2 - xi1, 0) * max(yi2 - yi1, 0)
    area1 = (box1[2] - box1[0]) * (box1[3] - box1[1])
    area2 = (box2[2] - box2[0]) * (box2[3] - box2[1])
    fig, ax = plt.subplots(figsize=(6.5, 3.6))
    for (x1, y1, x2, y2), colour, name in ((box1, "#3182bd", tr("box 1")),
                                           (box2, "#e6550d", tr("box 2"))):
        ax.add_patch(Rectangle((x1, y1), x2 - x1, y2 - y1, fill=False, edgecolor=colour, lw=2))
        ax.text(x1, y1 - 0.08, f"{name} ({x1:g}, {y1:g}, {x2:g}, {y2:g})", color=colour,
                va="bottom", fontsize=8.5)
    ax.add_patch(Rectangle((xi1, yi1), xi2 - xi1, yi2 - yi1, facecolor="#fdd0a2",
                           edgecolor="black", hatch="//"))
    union = area1 + area2 - inter
    numbers = {"width": xi2 - xi1, "height": yi2 - yi1, "inter": inter, "area1": area1,
               "area2": area2, "union": union}
    ax.text(5.8, 2.5, tr("intersection = {width} x {height} = {inter}\n"
                         "union = {area1} + {area2} - {inter} = {union}\n"
                         "IoU = {inter} / {union} = {iou}").format(
                **{name: f"{value:g}" for name, value in numbers.items()},
                iou=f"{inter / union:.3f}"), va="center", fontsize=9)
    ax.set_xlim(0, 10.5)
    ax.set_ylim(0, 5.2)
    ax.set_aspect("equal")
    ax.invert_yaxis()  # image coordinates: y grows downwards
    ax.set_xlabel("x")
    ax.set_ylabel(tr("y (downwards, as in an image)"))
    return fig


def _road_outputs():
    """The detector, the road picture and its decoded outputs (numpy, batch axis removed)."""
    detector = load_yolov3_tiny()
    image, image_data = preprocess_image(data.fetch(ROAD_PICTURE), detector.input_size)
    outputs = [np.asarray(t)[0] for t in detector.outputs(image_data)]
    return detector, image, outputs


def class_grid():
    """The 13x13 grid of the detector's first head over the road picture, each cell coloured by
    the class with the best score p_c * c_i over its three anchors."""
    detector, image, (_, _, confidence, probs) = _road_outputs()
    cells = 13 * 13 * 3  # the first head's boxes come first, row by row, 3 anchors per cell
    scores = (confidence[:cells] * probs[:cells]).reshape(13, 13, 3, -1).max(axis=2)
    best = scores.argmax(axis=-1)
    classes, counts = np.unique(best, return_counts=True)
    frequent = classes[np.argsort(-counts, kind="stable")][:6]
    palette = plt.cm.tab10(np.arange(len(frequent)))
    colours = np.full(best.shape + (4,), to_rgba("lightgrey"))
    for colour, c in zip(palette, frequent):
        colours[best == c] = colour
    fig, ax = plt.subplots(figsize=(7, 4.3))
    ax.imshow(image)
    ax.imshow(colours, alpha=0.45, extent=(0, image.width, image.height, 0))
    for k in range(14):
        ax.axhline(k * image.height / 13, color="white", lw=0.5)
        ax.axvline(k * image.width / 13, color="white", lw=0.5)
    handles = [Patch(color=colour, label=detector.class_names[c])
               for colour, c in zip(palette, frequent)]
    ax.legend(handles=handles + [Patch(color="lightgrey", label=tr("other classes"))],
              loc="upper right", fontsize=7, framealpha=0.9)
    ax.axis("off")
    ax.set_title(tr("13 x 13 grid: each cell coloured by its best class (before any "
                    "threshold)"), fontsize=10)
    return fig


def filtering_steps():
    """All boxes, the boxes with a score of at least 0.3, and the boxes left by per-class
    non-max suppression (the notebook's yolo_eval, reference solution)."""
    steps = reference_functions("C4W3A1_car_detection", ["yolo_filter_boxes", "yolo_eval"])
    detector, image, (box_xy, box_wh, confidence, probs) = _road_outputs()
    shape = (image.height, image.width)
    all_boxes = np.asarray(scale_boxes(yolo_boxes_to_corners(box_xy, box_wh), shape))
    _, kept, _ = steps["yolo_filter_boxes"](confidence, yolo_boxes_to_corners(box_xy, box_wh),
                                            probs, SCORE_THRESHOLD)
    kept = np.asarray(scale_boxes(kept, shape))
    _, final, _ = steps["yolo_eval"]((box_xy[None], box_wh[None], confidence[None], probs[None]),
                                     shape, MAX_BOXES, SCORE_THRESHOLD, 0.5)
    panels = [(all_boxes, tr("all {count} boxes").format(count=len(all_boxes)), 0.1),
              (kept, tr("score >= {minimum}: {count} boxes").format(
                  minimum=SCORE_THRESHOLD, count=len(kept)), 1.0),
              (np.asarray(final), tr("non-max suppression (IoU 0.5): {count} boxes").format(
                  count=len(final)), 1.5)]
    fig, axes = plt.subplots(1, 3, figsize=(12, 2.6))
    for ax, (boxes, title, width) in zip(axes, panels):
        ax.imshow(image)
        for top, left, bottom, right in boxes:
            ax.add_patch(Rectangle((left, top), right - left, bottom - top, fill=False,
                                   edgecolor="#ffff33", lw=width))
        ax.set_xlim(0, image.width)
        ax.set_ylim(image.height, 0)
        ax.set_title(title, fontsize=10)
        ax.axis("off")
    return fig


# The units' favourite patches: every course picture of a scene (the road, the style pictures,
# the faces; a picture stored at two sizes once) through the detector; for each unit its
# largest activation in each picture, and the 9 pictures where it is largest, each cut to the
# unit's receptive field.
UNIT_PICTURES = ("images/road/", "images/style/", "images/faces/")
COPIES = ("images/style/content300.jpg", "images/style/louvre_small.jpg",  # smaller copies,
          "images/style/monet_800600.jpg", "images/style/claude-monet.jpg")  # counted once
UNIT_LAYERS = ("leaky_2", "leaky_6", "leaky_10")  # after convolutions 2, 4 and 6 of 13
UNITS = range(6)  # the first six units (channels) of each layer: not chosen by their looks
TOP = 9
PATCH = 40  # pixels of a patch in the figure


@dataclass(frozen=True)
class TopPatches:
    """The most activating patches of some units of one layer: ``patches[u]`` holds the TOP
    patches (PATCH x PATCH x 3, uint8, strongest first) of unit ``UNITS[u]``; the receptive
    field is ``field`` x ``field`` pixels of the 416x416 input."""

    layer: str
    convolution: int  # its rank among the detector's convolutions, from 1
    convolutions: int  # how many the detector has
    field: int
    patches: np.ndarray  # (len(UNITS), TOP, PATCH, PATCH, 3)


def receptive_field(model, layer: str) -> tuple[int, int, int]:
    """(first row, last row, stride) of the input pixels that the unit at row 0 of ``layer``
    reads, measured: the rows where the gradient of a unit in the middle of the map with
    respect to the input is not zero, shifted to row 0 (columns are the same)."""
    import keras
    import tensorflow as tf

    probe = keras.Model(model.input, model.get_layer(layer).output)
    size = model.input_shape[1]
    image = tf.Variable(np.random.default_rng(0).random((1, size, size, 3), dtype=np.float32))
    with tf.GradientTape() as tape:
        maps = probe(image, training=False)
        centre = maps.shape[1] // 2
        unit = maps[0, centre, centre, 0]
    rows = np.nonzero(np.abs(np.asarray(tape.gradient(unit, image))[0]).sum(axis=(1, 2)))[0]
    stride = size // maps.shape[1]
    return int(rows[0]) - centre * stride, int(rows[-1]) - centre * stride, stride


def _cut(picture: np.ndarray, top: int, left: int, field: int) -> np.ndarray:
    """The field x field patch of ``picture`` at (top, left), grey outside the picture, resized
    to PATCH x PATCH."""
    patch = np.full((field, field, 3), 128, np.uint8)
    rows = slice(max(top, 0), min(top + field, picture.shape[0]))
    cols = slice(max(left, 0), min(left + field, picture.shape[1]))
    patch[rows.start - top:rows.stop - top, cols.start - left:cols.stop - left] = \
        picture[rows, cols]
    resample = Image.NEAREST if field < PATCH else Image.BILINEAR
    return np.asarray(Image.fromarray(patch).resize((PATCH, PATCH), resample))


def top_patches() -> list[TopPatches]:
    """The TOP patches of UNITS of every layer of UNIT_LAYERS over the UNIT_PICTURES."""
    import keras

    detector = load_yolov3_tiny()
    model = detector.model
    probe = keras.Model(model.input, [model.get_layer(name).output for name in UNIT_LAYERS])
    paths = sorted(path for path in data.load_registry()
                   if path.startswith(UNIT_PICTURES) and path not in COPIES)
    pictures, best = [], []  # best[picture][layer]: (value, flat position) per unit
    for path in paths:
        _, image_data = preprocess_image(data.fetch(path), detector.input_size)
        pictures.append((image_data[0] * 255).round().astype(np.uint8))
        maps = [np.asarray(m)[0][..., list(UNITS)] for m in probe(image_data, training=False)]
        best.append([(m.reshape(-1, len(UNITS)).max(0), m.reshape(-1, len(UNITS)).argmax(0),
                      m.shape[1]) for m in maps])
    convolutions = sorted(int(layer.name.split("_")[1]) for layer in model.layers
                          if isinstance(layer, keras.layers.Conv2D))
    results = []
    for k, layer in enumerate(UNIT_LAYERS):
        first, last, stride = receptive_field(model, layer)
        field = last - first + 1
        patches = np.zeros((len(UNITS), TOP, PATCH, PATCH, 3), np.uint8)
        for u in range(len(UNITS)):
            values = np.array([b[k][0][u] for b in best])
            for rank, i in enumerate(np.argsort(-values, kind="stable")[:TOP]):
                row, col = divmod(int(best[i][k][1][u]), best[i][k][2])
                patches[u, rank] = _cut(pictures[i], first + row * stride,
                                        first + col * stride, field)
        results.append(TopPatches(layer, convolutions.index(int(layer.split("_")[1])) + 1,
                                  len(convolutions), field, patches))
    return results


def unit_patches():
    """For six units of a shallow, a middle and a deep layer of YOLOv3-tiny, the 9 patches of
    the course's pictures that activate each unit most, cut to its receptive field."""
    layers = top_patches()
    inches = 3 * PATCH / DPI  # a mosaic of 3 x 3 patches at its own size
    fig, axes = plt.subplots(len(layers), len(UNITS),
                             figsize=((inches + 0.1) * len(UNITS) + 0.6,
                                      (inches + 0.3) * len(layers)),
                             gridspec_kw={"wspace": 0.08, "hspace": 0.3})
    for row, found in zip(axes, layers):
        for u, ax in enumerate(row):
            tiles = np.pad(found.patches[u], ((0, 0), (1, 1), (1, 1), (0, 0)),
                           constant_values=255)  # a white line between the patches
            side = int(np.sqrt(TOP))
            mosaic = np.concatenate([np.concatenate(list(tiles[r * side:(r + 1) * side]), axis=1)
                                     for r in range(side)], axis=0)
            ax.imshow(mosaic)
            ax.set_xticks([])
            ax.set_yticks([])
            ax.set_title(tr("unit {unit}").format(unit=UNITS[u]), fontsize=8)
        row[0].set_ylabel(tr("convolution {n} of {total}\nfield {field} x {field}").format(
            n=found.convolution, total=found.convolutions, field=found.field), fontsize=8)
    return fig
