"""FaceNet's Inception-ResNet-v1 encoder in Keras 3, and its pretrained weights.

The pretrained encoder is the widely used Keras port of FaceNet (``facenet_keras.h5``, trained on
MS-Celeb-1M). That file was saved by Keras 2.1 with ``Lambda`` layers, which Keras 3 cannot
deserialise, so the architecture is written here with the same layer names, the scaled residual
sums as a proper layer (``ScaledResidual``), and the weights are read by layer name with h5py.

Input: (160, 160, 3) RGB images standardised per image (``standardise``). Output: 128 numbers
per image, not normalised (``utils.faces.img_to_encoding`` L2-normalises them).
"""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import keras

layers = keras.layers

INPUT_SHAPE = (160, 160, 3)
EMBEDDING_SIZE = 128
WEIGHTS_FILE = "pretrained-model/facenet_keras.h5"
BN = {"momentum": 0.995, "epsilon": 0.001, "scale": False}  # batch norm as in the original


@keras.saving.register_keras_serializable(package="cnn_course")
class ScaledResidual(layers.Layer):
    """``shortcut + scale * residual``: the scaled sum that closes an Inception-ResNet block."""

    def __init__(self, scale: float, **kwargs):
        super().__init__(**kwargs)
        self.scale = float(scale)

    def call(self, inputs: list[keras.KerasTensor]) -> keras.KerasTensor:
        """shortcut + scale * residual.

        inputs: [shortcut, residual], tensors of the same shape (batch, h, w, c)
        Returns the sum: tensor of shape (batch, h, w, c)
        """
        shortcut, residual = inputs
        return shortcut + self.scale * residual

    def get_config(self):
        return {**super().get_config(), "scale": self.scale}


def conv_bn(x: keras.KerasTensor, filters: int, kernel_size: int | tuple[int, int], name: str,
            strides: int = 1, padding: str = "same",
            activation: str | None = "relu") -> keras.KerasTensor:
    """Conv2D without bias -> BatchNorm (no gamma) -> activation, named ``name`` and
    ``name_BatchNorm``.

    x: tensor of shape (batch, h, w, c)
    Returns a tensor of shape (batch, h', w', filters): h' = h ("same") or
    h - kernel height + 1 ("valid"), divided by ``strides`` (rounded up); w' the same
    """
    x = layers.Conv2D(filters, kernel_size, strides=strides, padding=padding, use_bias=False,
                      name=name)(x)
    x = layers.BatchNormalization(axis=3, name=f"{name}_BatchNorm", **BN)(x)
    if activation is not None:
        x = layers.Activation(activation, name=f"{name}_Activation")(x)
    return x


def _branch(prefix: str, index: int, name: str) -> str:
    return f"{prefix}_Branch_{index}_{name}"


def stem(x: keras.KerasTensor) -> keras.KerasTensor:
    """Seven convolutions and a max pooling.

    x: tensor of shape (batch, 160, 160, 3)
    Returns a tensor of shape (batch, 17, 17, 256)
    """
    x = conv_bn(x, 32, 3, "Conv2d_1a_3x3", strides=2, padding="valid")
    x = conv_bn(x, 32, 3, "Conv2d_2a_3x3", padding="valid")
    x = conv_bn(x, 64, 3, "Conv2d_2b_3x3")
    x = layers.MaxPooling2D(3, strides=2, name="MaxPool_3a_3x3")(x)
    x = conv_bn(x, 80, 1, "Conv2d_3b_1x1", padding="valid")
    x = conv_bn(x, 192, 3, "Conv2d_4a_3x3", padding="valid")
    return conv_bn(x, 256, 3, "Conv2d_4b_3x3", strides=2, padding="valid")


def block35(x: keras.KerasTensor, index: int, scale: float = 0.17) -> keras.KerasTensor:
    """Inception-ResNet-A: three branches, 1x1 up-projection, scaled sum, ReLU.

    x: tensor of shape (batch, 17, 17, 256)
    Returns a tensor of shape (batch, 17, 17, 256)
    """
    p = f"Block35_{index}"
    b0 = conv_bn(x, 32, 1, _branch(p, 0, "Conv2d_1x1"))
    b1 = conv_bn(x, 32, 1, _branch(p, 1, "Conv2d_0a_1x1"))
    b1 = conv_bn(b1, 32, 3, _branch(p, 1, "Conv2d_0b_3x3"))
    b2 = conv_bn(x, 32, 1, _branch(p, 2, "Conv2d_0a_1x1"))
    b2 = conv_bn(b2, 32, 3, _branch(p, 2, "Conv2d_0b_3x3"))
    b2 = conv_bn(b2, 32, 3, _branch(p, 2, "Conv2d_0c_3x3"))
    return _residual(x, [b0, b1, b2], p, scale, "relu")


def block17(x: keras.KerasTensor, index: int, scale: float = 0.1) -> keras.KerasTensor:
    """Inception-ResNet-B: a 1x1 branch and a factorised 1x7 / 7x1 branch.

    x: tensor of shape (batch, 8, 8, 896)
    Returns a tensor of shape (batch, 8, 8, 896)
    """
    return _factorised(x, f"Block17_{index}", 128, 7, scale, "relu")


def block8(x: keras.KerasTensor, index: int, scale: float = 0.2,
           activation: str | None = "relu") -> keras.KerasTensor:
    """Inception-ResNet-C: a 1x1 branch and a factorised 1x3 / 3x1 branch.

    x: tensor of shape (batch, 3, 3, 1792)
    Returns a tensor of shape (batch, 3, 3, 1792)
    """
    return _factorised(x, f"Block8_{index}", 192, 3, scale, activation)


def _factorised(x, p: str, filters: int, size: int, scale: float, activation: str | None):
    """The B and C blocks: a 1x1 branch and a 1x1 -> 1 x size -> size x 1 branch."""
    b0 = conv_bn(x, filters, 1, _branch(p, 0, "Conv2d_1x1"))
    b1 = conv_bn(x, filters, 1, _branch(p, 1, "Conv2d_0a_1x1"))
    b1 = conv_bn(b1, filters, (1, size), _branch(p, 1, f"Conv2d_0b_1x{size}"))
    b1 = conv_bn(b1, filters, (size, 1), _branch(p, 1, f"Conv2d_0c_{size}x1"))
    return _residual(x, [b0, b1], p, scale, activation)


def _residual(x, branches: list, prefix: str, scale: float, activation: str | None):
    mixed = layers.Concatenate(axis=3, name=f"{prefix}_Concatenate")(branches)
    up = layers.Conv2D(x.shape[-1], 1, padding="same", use_bias=True,
                       name=f"{prefix}_Conv2d_1x1")(mixed)
    x = ScaledResidual(scale, name=f"{prefix}_ScaleSum")([x, up])
    if activation is not None:
        x = layers.Activation(activation, name=f"{prefix}_Activation")(x)
    return x


def reduction_a(x: keras.KerasTensor) -> keras.KerasTensor:
    """Mixed_6a: strided 3x3 conv, 1x1-3x3-3x3/2 branch, max pooling.

    x: tensor of shape (batch, 17, 17, 256)
    Returns a tensor of shape (batch, 8, 8, 896)
    """
    p = "Mixed_6a"
    b0 = conv_bn(x, 384, 3, _branch(p, 0, "Conv2d_1a_3x3"), strides=2, padding="valid")
    b1 = conv_bn(x, 192, 1, _branch(p, 1, "Conv2d_0a_1x1"))
    b1 = conv_bn(b1, 192, 3, _branch(p, 1, "Conv2d_0b_3x3"))
    b1 = conv_bn(b1, 256, 3, _branch(p, 1, "Conv2d_1a_3x3"), strides=2, padding="valid")
    pool = layers.MaxPooling2D(3, strides=2, name=_branch(p, 2, "MaxPool_1a_3x3"))(x)
    return layers.Concatenate(axis=3, name=p)([b0, b1, pool])


def reduction_b(x: keras.KerasTensor) -> keras.KerasTensor:
    """Mixed_7a: three strided branches and max pooling.

    x: tensor of shape (batch, 8, 8, 896)
    Returns a tensor of shape (batch, 3, 3, 1792)
    """
    p = "Mixed_7a"
    b0 = conv_bn(x, 256, 1, _branch(p, 0, "Conv2d_0a_1x1"))
    b0 = conv_bn(b0, 384, 3, _branch(p, 0, "Conv2d_1a_3x3"), strides=2, padding="valid")
    b1 = conv_bn(x, 256, 1, _branch(p, 1, "Conv2d_0a_1x1"))
    b1 = conv_bn(b1, 256, 3, _branch(p, 1, "Conv2d_1a_3x3"), strides=2, padding="valid")
    b2 = conv_bn(x, 256, 1, _branch(p, 2, "Conv2d_0a_1x1"))
    b2 = conv_bn(b2, 256, 3, _branch(p, 2, "Conv2d_0b_3x3"))
    b2 = conv_bn(b2, 256, 3, _branch(p, 2, "Conv2d_1a_3x3"), strides=2, padding="valid")
    pool = layers.MaxPooling2D(3, strides=2, name=_branch(p, 3, "MaxPool_1a_3x3"))(x)
    return layers.Concatenate(axis=3, name=p)([b0, b1, b2, pool])


def inception_resnet_v1(input_shape=INPUT_SHAPE, embedding_size: int = EMBEDDING_SIZE):
    """The FaceNet encoder: stem, 5 x A, reduction A, 10 x B, reduction B, 6 x C, bottleneck.

    Returns an untrained ``keras.Model`` named "inception_resnet_v1" mapping (batch, 160, 160, 3)
    standardised images to (batch, embedding_size) encodings (batch-normalised bottleneck).
    """
    inputs = keras.Input(shape=input_shape, name="input_1")
    x = stem(inputs)
    for i in range(1, 6):
        x = block35(x, i)
    x = reduction_a(x)
    for i in range(1, 11):
        x = block17(x, i)
    x = reduction_b(x)
    for i in range(1, 6):
        x = block8(x, i)
    x = block8(x, 6, scale=1.0, activation=None)
    x = layers.GlobalAveragePooling2D(name="AvgPool")(x)
    x = layers.Dropout(0.2, name="Dropout")(x)
    x = layers.Dense(embedding_size, use_bias=False, name="Bottleneck")(x)
    x = layers.BatchNormalization(name="Bottleneck_BatchNorm", **BN)(x)
    return keras.Model(inputs, x, name="inception_resnet_v1")


def load_weights_by_name(model, path: str | Path) -> int:
    """Set every weight of ``model`` from a Keras 2 h5 file, matching layers by name.

    Each layer's arrays are matched by variable name (kernel, bias, beta, moving_mean, ...).
    Raises ValueError naming the layer when a layer with weights is missing from the file, a
    variable is missing, or a shape differs, and when the file holds weights for a layer the
    model lacks; the model is left unchanged in that case. Returns the number of arrays set.
    """
    assignments = []
    with h5py.File(path, "r") as f:
        group = f["model_weights"] if "model_weights" in f else f
        stored = {}
        for layer_name in group.attrs["layer_names"]:
            layer_name = layer_name.decode() if isinstance(layer_name, bytes) else layer_name
            names = [n.decode() if isinstance(n, bytes) else n
                     for n in group[layer_name].attrs["weight_names"]]
            if names:
                stored[layer_name] = {n.split("/")[-1].split(":")[0]: group[layer_name][n][()]
                                      for n in names}
        model_layers = {layer.name: layer for layer in model.layers if layer.weights}
        extra = sorted(set(stored) - set(model_layers))
        if extra:
            raise ValueError(f"{path} holds weights for layers the model lacks: {extra[:5]}")
        for name, layer in model_layers.items():
            if name not in stored:
                raise ValueError(f"{path} has no weights for layer {name!r}")
            for variable in layer.weights:
                key = variable.path.split("/")[-1]
                if key not in stored[name]:
                    raise ValueError(f"{path}: layer {name!r} has no {key!r} weights "
                                     f"(it has {sorted(stored[name])})")
                value = stored[name][key]
                if tuple(value.shape) != tuple(variable.shape):
                    raise ValueError(f"{path}: layer {name!r} {key} has shape {value.shape}, "
                                     f"the model expects {tuple(variable.shape)}")
                assignments.append((variable, value))
    for variable, value in assignments:
        variable.assign(value)
    return len(assignments)


def load_facenet(path: str | Path | None = None):
    """The pretrained FaceNet encoder, with the weights of ``facenet_keras.h5``.

    ``path`` defaults to the course's copy, located (and fetched when needed) by the data layer,
    which raises ``utils.data.DataFileError`` naming the file and the fetch command when it is
    not available.
    """
    if path is None:
        from utils import data
        path = data.fetch(WEIGHTS_FILE)
    model = inception_resnet_v1()
    load_weights_by_name(model, path)
    model.trainable = False
    return model


def standardise(images: np.ndarray) -> np.ndarray:
    """Per-image standardisation FaceNet was trained with: (x - mean) / max(std, 1/sqrt(size)).

    images: array of shape (batch, height, width, 3), pixel values (any scale)
    Returns standardised: float32 array of shape (batch, height, width, 3)
    """
    images = np.asarray(images, dtype=np.float32)
    axes = tuple(range(1, images.ndim))
    mean = images.mean(axis=axes, keepdims=True)
    std = images.std(axis=axes, keepdims=True)
    floor = 1.0 / np.sqrt(np.prod(images.shape[1:]))
    return (images - mean) / np.maximum(std, floor)
