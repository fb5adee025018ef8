"""Neural style transfer helpers: the VGG19 feature extractor, images in and out, figures.

Images are float32 arrays or tensors of shape (1, height, width, 3), RGB, values in [0, 1].
As in the classic assignment, VGG19 sees these [0, 1] images directly, not the mean-subtracted
0-255 BGR images it was trained on: the cost weights (alpha=10, beta=40) and the learning rate
of the assignment belong to that scale. With Keras's ``vgg19.preprocess_input`` the activations
would be about 255 times larger, which multiplies the style cost (4th power of the activations)
by about 255^2 relative to the content cost (2nd power), and the weights would need retuning.
"""

from __future__ import annotations

from pathlib import Path

import keras
import matplotlib.pyplot as plt
import numpy as np
import tensorflow as tf
from PIL import Image

from utils import data
from utils.images import load_image

VGG19_WEIGHTS = "pretrained-model/vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5"
STYLE_LAYERS = [("block1_conv1", 0.2), ("block2_conv1", 0.2), ("block3_conv1", 0.2),
                ("block4_conv1", 0.2), ("block5_conv1", 0.2)]  # (layer name, weight)
CONTENT_LAYER = "block5_conv4"


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


def feature_extractor(vgg, layer_names: list[str]):
    """A model mapping (1, h, w, 3) images in [0, 1] to the outputs of ``layer_names`` (a list)."""
    return keras.Model(vgg.input, [vgg.get_layer(n).output for n in layer_names],
                       name="vgg19_features")


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
