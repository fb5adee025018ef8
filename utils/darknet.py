"""Darknet networks in Keras 3: build a model from a darknet ``.cfg`` and load its ``.weights``.

The YOLO authors publish their detectors as a ``.cfg`` text file (the layers) and a binary
``.weights`` file. This module reads both, so a detector runs from the original published files:

- ``parse_cfg(text)`` -> list of sections ``(type, {option: value})``;
- ``build_model(sections)`` -> ``(keras.Model, heads)``: convolutional (with batch norm and
  leaky ReLU), maxpool, route, reorg (YOLOv2's passthrough, ``tf.nn.space_to_depth``, as in the
  Keras conversion of YOLOv2 the classic course used), upsample and shortcut layers; the model
  outputs the feature map in front of every ``[region]`` (YOLOv2) or ``[yolo]`` (YOLOv3) layer,
  and ``heads`` holds those layers' options (anchors, mask, classes);
- ``load_weights(model, path)`` reads the weights file into the convolution and batch-norm
  layers, in file order, and checks that the file holds exactly the model's number of floats.

``yolov2_cfg(classes, anchors)`` writes the YOLOv2 architecture (Darknet-19 backbone with the
passthrough layer, 608x608 input) in this format.

Weights file layout: int32 major, minor, revision; images seen (int64 from version 0.2, else
int32); then per convolutional layer: biases [filters] (with batch norm: beta), and with batch
norm gamma, moving mean, moving variance [filters] each; then the kernel
[filters, in_channels, size, size], all float32 little-endian.
"""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

layers = keras.layers
LEAKY_SLOPE = 0.1
BN_EPSILON = 1e-5


def parse_cfg(text: str) -> list[tuple[str, dict[str, str]]]:
    """Sections of a darknet cfg, in order: ``[("net", {...}), ("convolutional", {...}), ...]``."""
    sections = []
    for raw in text.splitlines():
        line = raw.split("#")[0].strip()
        if not line:
            continue
        if line.startswith("["):
            sections.append((line.strip("[]").strip(), {}))
        elif "=" in line:
            if not sections:
                raise ValueError(f"cfg option outside a section: {raw!r}")
            key, value = (part.strip() for part in line.split("=", 1))
            sections[-1][1][key] = value
        else:
            raise ValueError(f"cannot read cfg line {raw!r}")
    if not sections or sections[0][0] not in ("net", "network"):
        raise ValueError("a darknet cfg starts with a [net] section")
    return sections


def _ints(value: str) -> list[int]:
    return [int(v) for v in value.split(",") if v.strip()]


def _conv(x, options: dict, index: int):
    filters, size = int(options["filters"]), int(options["size"])
    stride = int(options.get("stride", 1))
    pad = size // 2 if int(options.get("pad", 0)) else int(options.get("padding", 0))
    bn = int(options.get("batch_normalize", 0))
    if pad:
        x = layers.ZeroPadding2D(pad, name=f"pad_{index}")(x)
    x = layers.Conv2D(filters, size, strides=stride, use_bias=not bn, name=f"conv_{index}")(x)
    if bn:
        x = layers.BatchNormalization(epsilon=BN_EPSILON, name=f"bn_{index}")(x)
    activation = options.get("activation", "linear")
    if activation == "leaky":
        return layers.LeakyReLU(negative_slope=LEAKY_SLOPE, name=f"leaky_{index}")(x)
    if activation != "linear":
        raise ValueError(f"layer {index}: activation {activation!r} is not supported")
    return x


def _maxpool(x, options: dict, index: int):
    size, stride = int(options["size"]), int(options.get("stride", 1))
    # darknet pads size - 1 at the bottom and right, which is Keras's "same" for these sizes
    return layers.MaxPooling2D(size, strides=stride, padding="same", name=f"maxpool_{index}")(x)


def build_model(sections: list[tuple[str, dict[str, str]]],
                name: str = "darknet") -> tuple[keras.Model, list[dict]]:
    """A Keras model for the parsed cfg; returns ``(model, heads)``.

    The model takes RGB images in [0, 1], an array of shape (m, height, width, channels) with
    the sizes of [net]; its outputs are the feature maps that feed each [region]/[yolo]
    section, of shape (m, grid_h, grid_w, anchors * (5 + classes)), whose options are returned
    in ``heads`` (same order).
    """
    net = sections[0][1]
    inputs = keras.Input(shape=(int(net["height"]), int(net["width"]), int(net["channels"])),
                         name="image")
    outputs, heads, x = [], [], inputs
    for index, (kind, options) in enumerate(sections[1:]):
        if kind == "convolutional":
            x = _conv(x, options, index)
        elif kind == "maxpool":
            x = _maxpool(x, options, index)
        elif kind == "route":
            sources = [outputs[i if i >= 0 else index + i] for i in _ints(options["layers"])]
            x = sources[0] if len(sources) == 1 else layers.Concatenate(name=f"route_{index}")(
                sources)
        elif kind == "reorg":
            stride = int(options.get("stride", 2))
            x = layers.Lambda(lambda t, s=stride: tf.nn.space_to_depth(t, s),
                              name=f"reorg_{index}")(x)
        elif kind == "upsample":
            x = layers.UpSampling2D(int(options.get("stride", 2)), name=f"upsample_{index}")(x)
        elif kind == "shortcut":
            x = layers.Add(name=f"shortcut_{index}")([x, outputs[index + int(options["from"])]])
        elif kind in ("yolo", "region"):
            heads.append({"kind": kind, "output": x, **options})
        else:
            raise ValueError(f"layer {index}: darknet layer type [{kind}] is not supported")
        outputs.append(x)
    if not heads:
        raise ValueError("the cfg has no [yolo] or [region] layer")
    model = keras.Model(inputs, [h.pop("output") for h in heads], name=name)
    return model, heads


def load_cfg(path: str | Path, name: str | None = None) -> tuple[keras.Model, list[dict]]:
    """``build_model(parse_cfg(...))`` for a cfg file; the model is named after the file."""
    path = Path(path)
    return build_model(parse_cfg(path.read_text()), name=name or path.stem.replace("-", "_"))


def _conv_layers(model) -> list:
    return sorted((layer for layer in model.layers if isinstance(layer, layers.Conv2D)),
                  key=lambda layer: int(layer.name.split("_")[1]))


def load_weights(model, path: str | Path) -> int:
    """Read a darknet .weights file into ``model`` (built by ``build_model``); returns the
    number of floats read. Raises ValueError when the file holds fewer or more floats than the
    model needs (a cfg that does not belong to the weights); the model is unchanged then."""
    data = Path(path).read_bytes()
    major, minor, _ = np.frombuffer(data, "<i4", 3)
    offset = 12 + (8 if (major * 10 + minor) >= 2 and major < 1000 else 4)
    floats = np.frombuffer(data, "<f4", offset=offset) if len(data) > offset else np.zeros(0)
    position, assignments = 0, []

    def take(count: int) -> np.ndarray:
        nonlocal position
        if position + count > floats.size:
            raise ValueError(f"{path} ends after {floats.size} floats; the model needs more: "
                             "the cfg does not match these weights")
        chunk = floats[position:position + count]
        position += count
        return chunk

    for conv in _conv_layers(model):
        index = conv.name.split("_")[1]
        size, _, channels, filters = conv.kernel.shape
        bias = take(filters)
        if conv.use_bias:
            assignments.append((conv.bias, bias))
        else:
            bn = model.get_layer(f"bn_{index}")
            gamma, mean, variance = take(filters), take(filters), take(filters)
            assignments += [(bn.gamma, gamma), (bn.beta, bias), (bn.moving_mean, mean),
                            (bn.moving_variance, variance)]
        kernel = take(filters * channels * size * size).reshape(filters, channels, size, size)
        assignments.append((conv.kernel, kernel.transpose(2, 3, 1, 0)))
    if position != floats.size:
        raise ValueError(f"{path} holds {floats.size} floats but the model uses {position}: "
                         "the cfg does not match these weights")
    for variable, value in assignments:
        variable.assign(value)
    return position


def yolov2_cfg(classes: int = 80, anchors=(0.57273, 0.677385, 1.87446, 2.06253, 3.33843,
                                             5.47434, 7.88282, 3.52778, 9.77052, 9.16828),
               size: int = 608) -> str:
    """The YOLOv2 detector in darknet cfg format: Darknet-19 (3x3 and 1x1 convolutions with
    batch norm and leaky ReLU, 5 max poolings), two 3x3x1024 convolutions, the passthrough
    (a 1x1x64 convolution of the 26x26 features, reorg to 13x13x256, concatenated), a 3x3x1024
    convolution and a 1x1 output convolution with 5 anchors x (5 + classes) filters.
    The default anchors (in grid cells) are those of the published YOLOv2 COCO model."""
    def conv(filters, size_, bn=True, activation="leaky"):
        return (f"[convolutional]\n{'batch_normalize=1' + chr(10) if bn else ''}"
                f"filters={filters}\nsize={size_}\nstride=1\npad=1\nactivation={activation}\n")
    pool = "[maxpool]\nsize=2\nstride=2\n"
    darknet19 = [conv(32, 3), pool, conv(64, 3), pool, conv(128, 3), conv(64, 1), conv(128, 3),
                 pool, conv(256, 3), conv(128, 1), conv(256, 3), pool, conv(512, 3),
                 conv(256, 1), conv(512, 3), conv(256, 1), conv(512, 3), pool, conv(1024, 3),
                 conv(512, 1), conv(1024, 3), conv(512, 1), conv(1024, 3)]
    n_anchors = len(anchors) // 2
    head = [conv(1024, 3), conv(1024, 3), "[route]\nlayers=-9\n", conv(64, 1),
            "[reorg]\nstride=2\n", "[route]\nlayers=-1,-4\n", conv(1024, 3),
            conv(n_anchors * (5 + classes), 1, bn=False, activation="linear"),
            f"[region]\nanchors={','.join(str(a) for a in anchors)}\nclasses={classes}\n"
            f"num={n_anchors}\n"]
    net = f"[net]\nwidth={size}\nheight={size}\nchannels=3\n"
    return "\n".join([net] + darknet19 + head)
