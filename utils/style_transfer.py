"""Neural style transfer helpers: the networks to paint with, images in and out, figures.

Images are float32 arrays or tensors of shape (1, height, width, 3), RGB, values in [0, 1].
As in the classic assignment, VGG19 sees these [0, 1] images directly, not the mean-subtracted
0-255 BGR images it was trained on: the cost weights (alpha=10, beta=40) and the learning rate
of the assignment belong to that scale. With Keras's ``vgg19.preprocess_input`` the activations
would be about 255 times larger, which multiplies the style cost (4th power of the activations)
by about 255^2 relative to the content cost (2nd power), and the weights would need retuning.

VGG19 is the course's network. When its weights are missing, ``load_painting_network`` paints
with another network trained on real photographs that the course data holds: the backbone of
the YOLOv3-tiny detector of assignment 4 (darknet also takes RGB images in [0, 1]).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import keras
import matplotlib.pyplot as plt
import numpy as np
import tensorflow as tf
from PIL import Image

from utils import data, yolo
from utils.i18n import _
from utils.images import load_image

VGG19_WEIGHTS = "pretrained-model/vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5"
STYLE_LAYERS = [("block1_conv1", 0.2), ("block2_conv1", 0.2), ("block3_conv1", 0.2),
                ("block4_conv1", 0.2), ("block5_conv1", 0.2)]  # (layer name, weight)
CONTENT_LAYER = "block5_conv4"
# YOLOv3-tiny's backbone (darknet layers 0 to 12): the leaky-ReLU outputs of its first five
# convolutions (16, 32, 64, 128, 256 channels at strides 1, 2, 4, 8, 16; a 2x2 max-pool between
# them), with the weights of STYLE_LAYERS, and its last convolution (1024 channels, stride 32).
BACKBONE_STYLE_LAYERS = [("leaky_0", 0.2), ("leaky_2", 0.2), ("leaky_4", 0.2), ("leaky_6", 0.2),
                         ("leaky_8", 0.2)]
BACKBONE_CONTENT_LAYER = "leaky_12"


@dataclass(frozen=True)
class PaintingNetwork:
    """A frozen pretrained network to paint with: its name for a reader, the Keras model, its
    style layers ((name, weight) pairs) and its content layer; ``fallback_reason`` says why it
    is not VGG19 (empty for VGG19)."""

    name: str
    model: keras.Model
    style_layers: list[tuple[str, float]]
    content_layer: str
    fallback_reason: str = ""

    def extractor(self):
        """The model from an image to the style layers' activations, then the content layer's."""
        return feature_extractor(self.model,
                                 [name for name, _ in self.style_layers] + [self.content_layer])


def load_vgg19(image_size: tuple[int, int]):
    """VGG19 without its classifier, with Keras's ImageNet weights, frozen.

    The weights file is the one ``keras.applications.VGG19(weights="imagenet")`` downloads into
    Keras's cache; here the course's data layer locates it (local copy, the offline mirror, or
    a download checked against Keras's published MD5) and Keras loads it from that path.
    Raises ``utils.data.DataFileError`` naming the file and the fetch command when it is missing.
    """
    weights = data.fetch(VGG19_WEIGHTS)
    vgg = keras.applications.VGG19(include_top=False, weights=str(weights),
                                   input_shape=(*image_size, 3))
    vgg.trainable = False
    return vgg


def load_yolov3_tiny_backbone(image_size: tuple[int, int]):
    """The backbone of YOLOv3-tiny (darknet layers 0 to 12: seven 3x3 convolutions with batch
    normalisation and leaky ReLU, six max-pools) with the YOLO authors' COCO weights, frozen,
    for images of ``image_size`` (height, width).

    The detector reads its weights at its own size, 416x416; the backbone is a plain chain of
    layers, so each one is re-created (same name and weights) on an input of ``image_size``:
    the detector itself does not take a 300x400 image (its route joins an upsampled 10x13 map
    with a 19x25 one). Raises ``utils.data.DataFileError`` when the detector's files are missing.
    """
    detector = yolo.load_yolov3_tiny().model
    x = inputs = keras.Input(shape=(*image_size, 3), name="image")
    for layer in detector.layers[1:]:  # pad_i, conv_i, bn_i, leaky_i, maxpool_i in order
        clone = layer.__class__.from_config(layer.get_config())
        x = clone(x)
        clone.set_weights(layer.get_weights())
        if layer.name == BACKBONE_CONTENT_LAYER:
            break
    backbone = keras.Model(inputs, x, name="yolov3_tiny_backbone")
    backbone.trainable = False
    return backbone


def load_painting_network(image_size: tuple[int, int]) -> PaintingNetwork:
    """VGG19 when its weights are there; otherwise YOLOv3-tiny's backbone, saying why in
    ``fallback_reason``. Raises ``utils.data.DataFileError`` when neither can be loaded."""
    try:
        return PaintingNetwork("VGG19", load_vgg19(image_size), STYLE_LAYERS, CONTENT_LAYER)
    except data.DataFileError as error:
        reason = "\n".join([str(error), _(
            "Without VGG19's weights, this notebook paints with the backbone of the YOLOv3-tiny "
            "detector of assignment 4 instead (see section 0).")])
    return PaintingNetwork("the YOLOv3-tiny backbone", load_yolov3_tiny_backbone(image_size),
                           BACKBONE_STYLE_LAYERS, BACKBONE_CONTENT_LAYER, reason)


def feature_extractor(network, layer_names: list[str]):
    """A model mapping (1, h, w, 3) images in [0, 1] to the outputs of ``layer_names`` (a list)
    of ``network``."""
    return keras.Model(network.input, [network.get_layer(n).output for n in layer_names],
                       name=f"{network.name}_features")


def load_pair(content_path, style_path, image_size: tuple[int, int]):
    """The content and style images as (1, h, w, 3) float32 in [0, 1], both of ``image_size``.

    Any mode (grayscale, RGBA) and size is accepted: the style image is resized to the content
    image's size, since the costs compare activations of the same shape. Raises
    FileNotFoundError naming a missing file.
    """
    return load_image(content_path, image_size), load_image(style_path, image_size)


def noisy_image(content: np.ndarray, noise: float = 0.25, seed: int = 0) -> tf.Variable:
    """The starting point: the content image plus uniform noise in [-noise, noise], clipped to
    [0, 1], as a float32 tf.Variable of the content's shape."""
    rng = np.random.default_rng(seed)
    noisy = content + rng.uniform(-noise, noise, size=content.shape)
    return tf.Variable(np.clip(noisy, 0.0, 1.0).astype(np.float32))


def clip_0_1(image):
    """Clip pixel values to the valid range [0, 1]."""
    return tf.clip_by_value(image, 0.0, 1.0)


def save_image(image, path: str | Path) -> Path:
    """Write a (1, h, w, 3) image in [0, 1] as an 8-bit picture (format from the suffix)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    pixels = np.clip(np.asarray(image)[0] * 255.0, 0, 255).round().astype(np.uint8)
    Image.fromarray(pixels).save(path)
    return path


def show_images(images: dict[str, np.ndarray]) -> None:
    """Show (1, h, w, 3) images side by side, titled with the dict's keys."""
    fig, axes = plt.subplots(1, len(images), figsize=(4 * len(images), 3.5))
    for ax, (title, image) in zip(np.atleast_1d(axes), images.items()):
        ax.imshow(np.clip(np.asarray(image)[0], 0, 1))
        ax.set_title(title)
        ax.axis("off")
    plt.tight_layout()
    plt.show()


def plot_costs(costs: dict[str, list[float]]) -> None:
    """Plot cost curves per optimisation step, on a log scale (e.g. total, content, style)."""
    fig, ax = plt.subplots(figsize=(6, 3.5))
    for label, values in costs.items():
        ax.plot(values, label=label)
    ax.set_yscale("log")
    ax.set_xlabel("step")
    ax.set_ylabel("cost")
    ax.legend()
    plt.tight_layout()
    plt.show()
