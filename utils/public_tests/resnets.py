"""Checks for assignment 3 (residual networks in Keras).

Block checks build the student's block on a Keras input, give every batch-norm layer random
statistics, run it in inference mode, and compare with the same computation written with
``tf.nn`` operations on the layers' own weights, so the wiring (order, padding, strides,
shortcut, activations) is checked, not the weights. They also check the layer names of the
classic assignment and that every kernel is GlorotUniform(seed=0).

The ResNet50 check compares the model's layers with those the architecture defines
(``resnet50_layer_plan``): class, output shape and number of parameters of each layer. Keras
orders a model's layers by graph depth, not by the order of the code, so the comparison is of
the two collections, and names are checked separately.

``GRADING_HELPERS`` is empty for students; the grader's hidden tests fill it with reference
blocks so that ResNet50 is graded on its own.
"""

from __future__ import annotations

from collections import Counter

import numpy as np
import tensorflow as tf

from utils.checks import check_close, helpers_replaced

keras = tf.keras
GRADING_HELPERS: dict = {}
BN_EPSILON = 1e-3  # Keras's default for BatchNormalization
STAGES = ((2, (64, 64, 256), 1, 3), (3, (128, 128, 512), 2, 4), (4, (256, 256, 1024), 2, 6),
          (5, (512, 512, 2048), 2, 3))  # stage, filters, stride of block a, number of blocks


def _fail(fn: str, message: str):
    raise AssertionError(f"{fn}: {message}")


def _layers_by_name(fn: str, model, names: list[str]) -> dict:
    found = {layer.name: layer for layer in model.layers}
    missing = [n for n in names if n not in found]
    if missing:
        _fail(fn, f"no layer named {missing}; layers are {sorted(found)}")
    return found


def _randomise_batch_norms(model, seed: int) -> None:
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            c = layer.gamma.shape[0]
            layer.set_weights([rng.uniform(0.5, 1.5, c), rng.normal(0, 0.2, c),
                               rng.normal(0, 0.2, c), rng.uniform(0.5, 2.0, c)])


def _conv_bn(x, conv, bn, stride: int, padding: str, relu: bool):
    kernel, bias = (w.numpy() for w in conv.weights)
    x = tf.nn.conv2d(x, kernel, strides=stride, padding=padding) + bias
    gamma, beta, mean, variance = (w.numpy() for w in bn.weights)
    x = gamma * (x - mean) / np.sqrt(variance + BN_EPSILON) + beta
    return tf.nn.relu(x) if relu else x


def _check_glorot(fn: str, layers: dict, names: list[str]) -> None:
    for name in names:
        kernel = layers[name].kernel.numpy()
        expected = keras.initializers.GlorotUniform(seed=0)(shape=kernel.shape).numpy()
        if not np.allclose(kernel, expected):
            _fail(fn, f"layer {name}'s kernel is not GlorotUniform(seed=0): pass "
                      f"kernel_initializer=initializer(seed=0)")


def _check_block(fn: str, block, shortcut: bool, input_shape, f: int, filters, stage: int,
                 block_name: str, s: int, seed: int) -> None:
    conv_base, bn_base = f"res{stage}{block_name}_branch", f"bn{stage}{block_name}_branch"
    branches = ["2a", "2b", "2c"] + (["1"] if shortcut else [])
    inputs = keras.Input(shape=input_shape)
    kwargs = {"s": s} if shortcut else {}
    outputs = block(inputs, f, filters, stage, block_name, **kwargs)
    model = keras.Model(inputs, outputs)
    layers = _layers_by_name(fn, model, [conv_base + b for b in branches] +
                             [bn_base + b for b in branches])
    _check_glorot(fn, layers, [conv_base + b for b in branches])
    _randomise_batch_norms(model, seed)
    X = np.random.default_rng(seed).standard_normal((2, *input_shape)).astype(np.float32)

    def path(branch, x, stride, padding, relu):
        return _conv_bn(x, layers[conv_base + branch], layers[bn_base + branch], stride, padding,
                        relu)

    x = path("2a", X, s, "VALID", True)
    x = path("2b", x, 1, "SAME", True)
    x = path("2c", x, 1, "VALID", False)
    short = path("1", X, s, "VALID", False) if shortcut else X
    expected = tf.nn.relu(x + short).numpy()
    got = model(X, training=False).numpy()
    check_close(f"{fn} (f={f}, filters={list(filters)}, s={s})", "output", got, expected,
                rtol=1e-4, atol=1e-4)


def check_identity_block(identity_block, input_shape=(4, 4, 6), f=2, filters=(4, 4, 6), stage=1,
                         block="a", seed=1) -> None:
    """identity_block: names, Glorot(seed=0) kernels, and outputs in inference mode."""
    _check_block("identity_block", identity_block, False, input_shape, f, filters, stage, block,
                 1, seed)


def check_convolutional_block(convolutional_block, input_shape=(4, 4, 6), f=2, filters=(2, 4, 6),
                              stage=1, block="a", s=2, seed=1) -> None:
    """convolutional_block: names, Glorot(seed=0) kernels, outputs with the 1x1 conv shortcut."""
    _check_block("convolutional_block", convolutional_block, True, input_shape, f, filters, stage,
                 block, s, seed)


def resnet50_layer_plan(input_shape=(64, 64, 3), classes=6) -> list[tuple[str, tuple, int]]:
    """The layers of ResNet50 in order: (class name, output shape without batch, parameters)."""
    h, w, c = input_shape
    plan = [("InputLayer", (h, w, c), 0)]
    h, w = h + 6, w + 6
    plan.append(("ZeroPadding2D", (h, w, c), 0))

    def conv(f, c_out, stride, padding):
        nonlocal h, w, c
        if padding == "valid":
            h, w = (h - f) // stride + 1, (w - f) // stride + 1
        plan.append(("Conv2D", (h, w, c_out), f * f * c * c_out + c_out))
        c = c_out

    def bn(relu=True):
        plan.append(("BatchNormalization", (h, w, c), 4 * c))
        if relu:
            plan.append(("Activation", (h, w, c), 0))

    conv(7, 64, 2, "valid")
    bn()
    h, w = (h - 3) // 2 + 1, (w - 3) // 2 + 1
    plan.append(("MaxPooling2D", (h, w, c), 0))
    for _, (f1, f2, f3), stride, blocks in STAGES:
        for index in range(blocks):
            s = stride if index == 0 else 1
            h_in, w_in, c_in = h, w, c
            conv(1, f1, s, "valid")
            bn()
            conv(3, f2, 1, "same")
            bn()
            conv(1, f3, 1, "valid")
            bn(relu=False)
            if index == 0:
                h, w, c = h_in, w_in, c_in
                conv(1, f3, s, "valid")
                bn(relu=False)
            plan += [("Add", (h, w, c), 0), ("Activation", (h, w, c), 0)]
    h, w = h // 2, w // 2
    plan.append(("AveragePooling2D", (h, w, c), 0))
    plan.append(("Flatten", (h * w * c,), 0))
    plan.append(("Dense", (classes,), h * w * c * classes + classes))
    return plan


def check_resnet50(ResNet50, input_shape=(64, 64, 3), classes=6) -> None:
    """ResNet50: layers, shapes, parameter count, names, softmax output, seeding."""
    fn = "ResNet50"
    with helpers_replaced(ResNet50, **GRADING_HELPERS):
        model = ResNet50(input_shape=input_shape, classes=classes)
    if not isinstance(model, keras.Model):
        _fail(fn, f"should return a keras Model, got {type(model).__name__}")
    got = Counter((type(layer).__name__, tuple(layer.output.shape[1:]), layer.count_params())
                  for layer in model.layers)
    plan = Counter(resnet50_layer_plan(input_shape, classes))
    if got != plan:
        missing, extra = list((plan - got).elements()), list((got - plan).elements())
        _fail(fn, f"the layers differ from ResNet50's (class, output shape, parameters): "
                  f"missing {missing[:3]}{' ...' if len(missing) > 3 else ''}, "
                  f"unexpected {extra[:3]}{' ...' if len(extra) > 3 else ''}")
    expected_params = sum(p * n for (_, _, p), n in plan.items())
    if model.count_params() != expected_params:
        _fail(fn, f"{model.count_params():,} parameters, expected {expected_params:,}")
    _layers_by_name(fn, model, ["conv1", "bn_conv1", "avg_pool", f"fc{classes}", "res2a_branch1",
                                "res5c_branch2c"])
    head = model.get_layer(f"fc{classes}")
    if head.activation is not keras.activations.softmax:
        _fail(fn, f"the last layer fc{classes} should use the softmax activation")
    _check_glorot(fn, {head.name: head}, [head.name])
    X = np.random.default_rng(0).uniform(0, 1, (2, *input_shape)).astype(np.float32)
    probabilities = model(X, training=False).numpy()
    check_close(fn, "sum of the output probabilities", probabilities.sum(axis=1), np.ones(2),
                rtol=1e-4, atol=1e-4)
