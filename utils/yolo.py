"""YOLO helpers: decode a detector's raw output, convert and scale boxes, read and draw.

Shapes: a raw output feature map is (m, grid_h, grid_w, anchors * (5 + classes)). The decoded
tensors keep (m, grid_h, grid_w, anchors) in front: box_xy and box_wh (.., 2) are the box
centre and size as fractions of the image (x then y, width then height), box_confidence
(.., 1) and box_class_probs (.., classes) lie in [0, 1]. Corner boxes are
(y_min, x_min, y_max, x_max), the order ``tf.image.non_max_suppression`` expects; after
``scale_boxes`` they are in pixels of the original image.
"""

from __future__ import annotations

import colorsys
from pathlib import Path

import numpy as np
import tensorflow as tf
from PIL import Image, ImageDraw, ImageFont

from utils import darknet, data

YOLOV3_TINY = {"cfg": "pretrained-model/yolov3-tiny/yolov3-tiny.cfg",
               "weights": "pretrained-model/yolov3-tiny/yolov3-tiny.weights",
               "classes": "pretrained-model/yolov3-tiny/coco.names"}


def read_classes(path: str | Path) -> list[str]:
    """Class names, one per line (blank lines ignored)."""
    return [line.strip() for line in Path(path).read_text().splitlines() if line.strip()]


def read_anchors(text_or_path: str | Path) -> np.ndarray:
    """Anchors from "w1,h1, w2,h2, ..." or a file holding it.

    Returns anchors: float32 array of shape (n, 2), (width, height) pairs
    """
    text = str(text_or_path)
    if Path(text).is_file():
        text = Path(text).read_text()
    values = [float(v) for v in text.replace("\n", ",").split(",") if v.strip()]
    if len(values) % 2:
        raise ValueError(f"anchors come in (width, height) pairs, got {len(values)} numbers")
    return np.array(values, dtype=np.float32).reshape(-1, 2)


def yolo_head(features: tf.Tensor | np.ndarray, anchors: np.ndarray, num_classes: int,
              class_activation: str = "softmax") -> tuple[tf.Tensor, ...]:
    """Decode one raw output map into (box_xy, box_wh, box_confidence, box_class_probs).

    features: tensor of shape (m, grid_h, grid_w, n * (5 + num_classes)), a raw output map
    anchors: array of shape (n, 2), widths and heights as fractions of the image (YOLOv2 gives
        them in grid cells: divide by the grid size; YOLOv3 in pixels: divide by the input size)
    Returns (box_xy, box_wh, box_confidence, box_class_probs): tensors of shape
        (m, grid_h, grid_w, n, 2), (m, grid_h, grid_w, n, 2), (m, grid_h, grid_w, n, 1) and
        (m, grid_h, grid_w, n, num_classes)

    Centre: (sigmoid(t_xy) + cell index) / grid size; size: anchor * exp(t_wh); confidence:
    sigmoid; classes: softmax (YOLOv2) or sigmoid (YOLOv3, ``class_activation="sigmoid"``).
    """
    features = tf.convert_to_tensor(features, tf.float32)
    anchors = tf.constant(np.asarray(anchors, np.float32))
    grid_h, grid_w = features.shape[1], features.shape[2]
    features = tf.reshape(features, (-1, grid_h, grid_w, len(anchors), 5 + num_classes))
    col, row = tf.meshgrid(tf.range(grid_w, dtype=tf.float32),
                           tf.range(grid_h, dtype=tf.float32))
    cell = tf.stack([col, row], axis=-1)[None, :, :, None, :]  # (1, gh, gw, 1, 2) as (x, y)
    grid = tf.constant([grid_w, grid_h], tf.float32)
    box_xy = (tf.sigmoid(features[..., :2]) + cell) / grid
    box_wh = tf.exp(features[..., 2:4]) * anchors
    box_confidence = tf.sigmoid(features[..., 4:5])
    logits = features[..., 5:]
    box_class_probs = tf.nn.softmax(logits) if class_activation == "softmax" else tf.sigmoid(
        logits)
    return box_xy, box_wh, box_confidence, box_class_probs


def yolo_boxes_to_corners(box_xy: tf.Tensor, box_wh: tf.Tensor) -> tf.Tensor:
    """Centre (x, y) and size (w, h) -> corners (y_min, x_min, y_max, x_max), same units.

    box_xy: tensor of shape (..., 2), the centres (x, y)
    box_wh: tensor of shape (..., 2), the sizes (width, height)
    Returns boxes: tensor of shape (..., 4)
    """
    box_mins = box_xy - box_wh / 2.0
    box_maxes = box_xy + box_wh / 2.0
    return tf.concat([box_mins[..., 1:2], box_mins[..., 0:1],
                      box_maxes[..., 1:2], box_maxes[..., 0:1]], axis=-1)


def scale_boxes(boxes: tf.Tensor, image_shape: tuple[int, int]) -> tf.Tensor:
    """Corner boxes as fractions of the image -> pixels of an image of (height, width).

    boxes: tensor of shape (..., 4), corners (y_min, x_min, y_max, x_max)
    Returns boxes: tensor of shape (..., 4), in pixels
    """
    height, width = (float(v) for v in image_shape)
    return boxes * tf.constant([height, width, height, width], dtype=boxes.dtype)


def preprocess_image(path: str | Path,
                     model_image_size: tuple[int, int]) -> tuple[Image.Image, np.ndarray]:
    """Read a picture for the detector. FileNotFoundError names a missing path.

    Returns (image, image_data): the PIL image in RGB, and a float32 array of shape
        (1, h, w, 3) in [0, 1], resized to ``model_image_size`` (h, w)
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no image file at {path}")
    with Image.open(path) as image:
        image = image.convert("RGB")
    resized = image.resize((model_image_size[1], model_image_size[0]), Image.BICUBIC)
    return image, (np.asarray(resized, dtype=np.float32) / 255.0)[None]


def class_colors(n: int) -> list[tuple[int, int, int]]:
    """n distinct RGB colours, the same for a class in every picture."""
    return [tuple(int(255 * c) for c in colorsys.hsv_to_rgb(i / n, 0.9, 1.0)) for i in range(n)]


def label_size(width: int) -> int:
    """The font size of the labels drawn on a picture ``width`` pixels wide: 1/40 of it (32 px
    on a 1280-pixel road picture), so that a label stays readable when the picture is shown
    scaled down to the width of a page, and at least 11 px."""
    return max(11, width // 40)


def draw_boxes(image: Image.Image, scores: tf.Tensor | np.ndarray, boxes: tf.Tensor | np.ndarray,
               classes: tf.Tensor | np.ndarray, class_names: list[str]) -> Image.Image:
    """A copy of ``image`` with each box outlined in its class colour and labelled
    "class score".

    scores: array of shape (n,)
    boxes: array of shape (n, 4), pixel corners (y_min, x_min, y_max, x_max)
    classes: int array of shape (n,), indices into ``class_names``
    """
    image = image.copy()
    draw = ImageDraw.Draw(image)
    colors = class_colors(len(class_names))
    thickness = max(2, (image.size[0] + image.size[1]) // 500)
    font = ImageFont.load_default(size=label_size(image.size[0]))
    for score, box, c in zip(np.asarray(scores), np.asarray(boxes), np.asarray(classes)):
        top, left, bottom, right = (float(v) for v in box)
        top, left = max(0.0, top), max(0.0, left)
        bottom, right = min(image.size[1] - 1.0, bottom), min(image.size[0] - 1.0, right)
        label = f"{class_names[int(c)]} {float(score):.2f}"
        draw.rectangle([left, top, right, bottom], outline=colors[int(c)], width=thickness)
        text_left, text_top, text_right, text_bottom = draw.textbbox((0, 0), label, font=font)
        height = text_bottom + text_top // 2 + 4  # the label's box, a margin above and below
        y = top - height if top >= height else top + thickness
        draw.rectangle([left, y, left + text_right - text_left + 6, y + height],
                       fill=colors[int(c)])
        draw.text((left + 3, y + 2 - text_top // 2), label, fill=(0, 0, 0), font=font)
    return image


class Detector:
    """A pretrained darknet YOLO detector and the decoding of its outputs: ``outputs`` runs
    the network on images and returns the boxes of every head, ready for ``yolo_eval``."""

    def __init__(self, cfg_path, weights_path, class_names: list[str]):
        self.model, self.heads = darknet.load_cfg(cfg_path)
        darknet.load_weights(self.model, weights_path)
        self.class_names = class_names
        self.input_size = tuple(self.model.input_shape[1:3])

    def _anchors(self, head: dict, grid: tuple[int, int]) -> np.ndarray:
        anchors = read_anchors(head["anchors"])
        if head["kind"] == "yolo":  # YOLOv3: pixels of the input, a subset per head
            mask = [int(i) for i in head["mask"].split(",")]
            return anchors[mask] / np.array(self.input_size[::-1], np.float32)
        return anchors / np.array(grid[::-1], np.float32)  # YOLOv2: grid cells

    def outputs(self, image_data: np.ndarray) -> tuple[tf.Tensor, ...]:
        """The decoded boxes of every head, flattened into one axis of boxes.

        image_data: float32 array of shape (m, h, w, 3) in [0, 1], (h, w) = ``input_size``
        Returns (box_xy, box_wh, box_confidence, box_class_probs): tensors of shape
            (m, boxes, 2), (m, boxes, 2), (m, boxes, 1) and (m, boxes, classes)
        """
        maps = self.model(image_data, training=False)
        maps = maps if isinstance(maps, (list, tuple)) else [maps]
        decoded = []
        for head, features in zip(self.heads, maps):
            grid = tuple(features.shape[1:3])
            parts = yolo_head(features, self._anchors(head, grid), int(head["classes"]),
                              "sigmoid" if head["kind"] == "yolo" else "softmax")
            decoded.append([tf.reshape(p, (p.shape[0], -1, p.shape[-1])) for p in parts])
        return tuple(tf.concat(list(group), axis=1) for group in zip(*decoded))


def load_yolov3_tiny() -> Detector:
    """The YOLO authors' YOLOv3-tiny COCO detector (416x416, 80 classes) from the course data.

    Raises ``utils.data.DataFileError`` naming each missing file and the fetch command.
    """
    registry = data.load_registry()
    cfg, weights, classes = data.fetch_all([registry[p] for p in YOLOV3_TINY.values()])
    return Detector(cfg, weights, read_classes(classes))
