"""Tests of assignment 3 (residual networks in Keras), one GradedFunction per graded function.

Block tests build the student's block on a Keras input in the kernel, give every batch-norm
layer statistics drawn from the case's seed (by layer name, so the order in which the layers
were created does not matter), run it in inference mode and return the output, the layer names
and the conv kernels. In the notebook, the expected output is the same computation written with
``tf.nn`` operations on GlorotUniform(seed=0) kernels and those statistics, so the wiring (order,
padding, strides, shortcut, activations) is checked, and the kernels are compared with
GlorotUniform(seed=0). The layer names of the classic assignment are checked too.

The ResNet50 test compares the model's layers with those the architecture defines
(``resnet50_layer_plan``): class, output shape and number of parameters of each layer. Keras
orders a model's layers by graph depth, not by the order of the code, so the comparison is of
the two collections, and names are checked separately.

The grader compares the same answers with the reference solution's instead (``utils.graded``),
and grades ResNet50 with the reference blocks swapped in. A function that raises gets a message
naming the function, the case and the likely cause (``utils.public_tests.raised``).
"""

from __future__ import annotations

from collections import Counter

import numpy as np
import tensorflow as tf

from utils.checks import answer, check_close, type_name
from utils.graded import GradedFunction, register
from utils.public_tests.raised import attempt, check_raised

keras = tf.keras
BN_EPSILON = 1e-3  # Keras's default for BatchNormalization
STAGES = ((2, (64, 64, 256), 1, 3), (3, (128, 128, 512), 2, 4), (4, (256, 256, 1024), 2, 6),
          (5, (512, 512, 2048), 2, 3))  # stage, filters, stride of block a, number of blocks


def _fail(fn: str, message: str):
    raise AssertionError(f"{fn}: {message}")


def _glorot(shape) -> np.ndarray:
    return keras.initializers.GlorotUniform(seed=0)(shape=tuple(shape)).numpy()


def _layer_names(fn: str, names: list[str], required: list[str]) -> None:
    missing = [n for n in required if n not in names]
    if missing:
        _fail(fn, f"no layer named {missing}; layers are {sorted(names)}")


def _check_kernels(fn: str, got: dict, expected: dict) -> None:
    """Each kernel has the expected shape and the values of GlorotUniform(seed=0)."""
    for name, kernel in expected.items():
        value = got.get(name)
        if not isinstance(value, np.ndarray):
            _fail(fn, f"layer {name} has no kernel: is it a Conv2D/Dense layer?")
        if value.shape != np.shape(kernel):
            _fail(fn, f"layer {name}'s kernel has shape {value.shape}, expected "
                      f"{np.shape(kernel)}: check its number of filters and window size")
        if not np.allclose(value, kernel):
            _fail(fn, f"layer {name}'s kernel is not GlorotUniform(seed=0): pass "
                      f"kernel_initializer=initializer(seed=0)")


def _bn_axes(model) -> dict[str, int]:
    """{name: normalised axis} of every batch-norm layer of ``model`` (inputs are NHWC)."""
    return {layer.name: int(np.ravel(layer.axis)[0]) % 4 for layer in model.layers
            if isinstance(layer, keras.layers.BatchNormalization)}


def _check_bn_axes(fn: str, axes: dict, names: list[str] | None = None) -> None:
    """Batch norm must normalise the channels (axis 3, also written -1)."""
    for name in names if names is not None else sorted(axes):
        if axes.get(name, 3) != 3:
            _fail(fn, f"layer {name} normalises axis {axes[name]}; batch norm must normalise "
                      f"the channels: BatchNormalization(axis=3)")


# ------------------------------------------------------------------------------------------
# The blocks


def _branches(shortcut: bool) -> list[str]:
    return ["2a", "2b", "2c"] + (["1"] if shortcut else [])


class _Block(GradedFunction):
    """identity_block or convolutional_block on one case (see the module docstring)."""

    shortcut = False

    def _names(self, stage, block):
        return f"res{stage}{block}_branch", f"bn{stage}{block}_branch"

    def inputs(self, input_shape=(4, 4, 6), f=2, filters=(4, 4, 6), stage=1, block="a", s=1,
               seed=1):
        bn_base = self._names(stage, block)[1]
        channels = {"2a": filters[0], "2b": filters[1], "2c": filters[2], "1": filters[2]}
        bn = {}
        for index, branch in enumerate(_branches(self.shortcut)):
            rng = np.random.default_rng([seed, index])
            c = channels[branch]
            bn[bn_base + branch] = [rng.uniform(0.5, 1.5, c), rng.normal(0, 0.2, c),
                                    rng.normal(0, 0.2, c), rng.uniform(0.5, 2.0, c)]
        X = np.random.default_rng(seed).standard_normal((2, *input_shape)).astype(np.float32)
        return {"X": X, "f": f, "filters": list(filters), "stage": stage, "block": block, "s": s,
                "bn": bn}

    def call(self, fn, inputs):
        return attempt(lambda: self._answer(fn, inputs))

    def _answer(self, fn, inputs) -> dict:
        X = inputs["X"]
        kwargs = {"s": inputs["s"]} if self.shortcut else {}
        tensor = keras.Input(shape=X.shape[1:])
        outputs = fn(tensor, inputs["f"], list(inputs["filters"]), inputs["stage"],
                     inputs["block"], **kwargs)
        model = keras.Model(tensor, outputs)
        kernels = {}
        for layer in model.layers:
            statistics = [np.asarray(w, np.float32) for w in inputs["bn"].get(layer.name, [])]
            if (isinstance(layer, keras.layers.BatchNormalization) and statistics
                    and tuple(layer.gamma.shape) == statistics[0].shape):
                layer.set_weights(statistics)
            if isinstance(layer, keras.layers.Conv2D):
                kernels[layer.name] = layer.kernel.numpy()
        return {"names": [layer.name for layer in model.layers], "kernels": kernels,
                "bn_axes": _bn_axes(model), "output": answer(model(X, training=False).numpy())}

    def expected(self, case, inputs):
        """The block in tf.nn operations, on GlorotUniform(seed=0) kernels and zero biases."""
        X, f, (F1, F2, F3), s = inputs["X"], inputs["f"], inputs["filters"], inputs["s"]
        conv_base, bn_base = self._names(inputs["stage"], inputs["block"])
        c_in = X.shape[-1]
        shapes = {"2a": (1, 1, c_in, F1), "2b": (f, f, F1, F2), "2c": (1, 1, F2, F3),
                  "1": (1, 1, c_in, F3)}
        kernels = {conv_base + b: _glorot(shapes[b]) for b in _branches(self.shortcut)}

        def path(branch, x, stride, padding, relu):
            x = tf.nn.conv2d(x, kernels[conv_base + branch], strides=stride, padding=padding)
            gamma, beta, mean, variance = (np.asarray(w, np.float32)
                                           for w in inputs["bn"][bn_base + branch])
            x = gamma * (x - mean) / np.sqrt(variance + BN_EPSILON) + beta
            return tf.nn.relu(x) if relu else x

        stride = s if self.shortcut else 1
        x = path("2a", X, stride, "VALID", True)
        x = path("2b", x, 1, "SAME", True)
        x = path("2c", x, 1, "VALID", False)
        short = path("1", X, stride, "VALID", False) if self.shortcut else X
        return {"kernels": kernels, "output": tf.nn.relu(x + short).numpy()}

    def compare(self, case, inputs, got, expected):
        fn = self.name
        label = f"{fn} (f={inputs['f']}, filters={list(inputs['filters'])}" + (
            f", s={inputs['s']})" if self.shortcut else ")")
        check_raised(label, got)
        conv_base, bn_base = self._names(inputs["stage"], inputs["block"])
        branches = _branches(self.shortcut)
        _layer_names(fn, got["names"], [conv_base + b for b in branches] +
                     [bn_base + b for b in branches])
        _check_bn_axes(fn, got["bn_axes"], [bn_base + b for b in branches])
        _check_kernels(fn, got["kernels"], expected["kernels"])
        check_close(label, "output", got["output"], expected["output"], rtol=1e-4, atol=1e-4)


class IdentityBlock(_Block):
    """identity_block: names, Glorot(seed=0) kernels, and outputs in inference mode."""

    name = "identity_block"

    def inputs(self, input_shape=(4, 4, 6), f=2, filters=(4, 4, 6), stage=1, block="a", seed=1):
        return super().inputs(input_shape, f, filters, stage, block, 1, seed)


class ConvolutionalBlock(_Block):
    """convolutional_block: names, Glorot(seed=0) kernels, outputs with the 1x1 conv shortcut."""

    name = "convolutional_block"
    shortcut = True

    def inputs(self, input_shape=(4, 4, 6), f=2, filters=(2, 4, 6), stage=1, block="a", s=2,
               seed=1):
        return super().inputs(input_shape, f, filters, stage, block, s, seed)


# ------------------------------------------------------------------------------------------
# ResNet50


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


def _layer_key(entry) -> tuple:
    """(class name, output shape, parameters) of a plan entry or of an answer's layer."""
    name, shape, params = entry
    return str(name), tuple(int(d) for d in shape), int(params)


class ResNet50Check(GradedFunction):
    """ResNet50: layers, shapes, parameter count, names, softmax head, output probabilities."""

    name = "ResNet50"
    helpers = ("identity_block", "convolutional_block")

    def inputs(self, input_shape=(64, 64, 3), classes=6):
        X = np.random.default_rng(0).uniform(0, 1, (2, *input_shape)).astype(np.float32)
        return {"input_shape": list(input_shape), "classes": classes, "X": X}

    def call(self, fn, inputs):
        return attempt(lambda: self._answer(fn, inputs))

    @staticmethod
    def _answer(fn, inputs) -> dict:
        classes = inputs["classes"]
        model = fn(input_shape=tuple(inputs["input_shape"]), classes=classes)
        if not isinstance(model, keras.Model):
            return {"is_model": False, "type": type(model).__name__}
        names = [layer.name for layer in model.layers]
        head = model.get_layer(f"fc{classes}") if f"fc{classes}" in names else None
        activation = getattr(head, "activation", None)
        return {"is_model": True, "names": names, "bn_axes": _bn_axes(model),
                "layers": [[type(layer).__name__, [int(d) for d in layer.output.shape[1:]],
                            int(layer.count_params())] for layer in model.layers],
                "count_params": int(model.count_params()),
                "head_softmax": activation is keras.activations.softmax,
                "head_kernel": answer(head.kernel.numpy()) if head is not None
                and hasattr(head, "kernel") else None,
                "probabilities": answer(model(inputs["X"], training=False).numpy())}

    def expected(self, case, inputs):
        plan = resnet50_layer_plan(tuple(inputs["input_shape"]), inputs["classes"])
        flat = plan[-2][1][0]
        return {"layers": [list(entry) for entry in plan],
                "count_params": sum(params for _, _, params in plan),
                "head_kernel": _glorot((flat, inputs["classes"]))}

    def compare(self, case, inputs, got, expected):
        fn, classes = self.name, inputs["classes"]
        check_raised(self.label(case), got)
        if not got["is_model"]:
            _fail(fn, f"should return a keras Model, got {got['type']}")
        _check_bn_axes(fn, got["bn_axes"])
        layers = Counter(_layer_key(entry) for entry in got["layers"])
        plan = Counter(_layer_key(entry) for entry in expected["layers"])
        if layers != plan:
            missing, extra = list((plan - layers).elements()), list((layers - plan).elements())
            _fail(fn, f"the layers differ from ResNet50's (class, output shape, parameters): "
                      f"missing {missing[:3]}{' ...' if len(missing) > 3 else ''}, "
                      f"unexpected {extra[:3]}{' ...' if len(extra) > 3 else ''}")
        if got["count_params"] != expected["count_params"]:
            _fail(fn, f"{got['count_params']:,} parameters, expected "
                      f"{expected['count_params']:,}")
        head = f"fc{classes}"
        _layer_names(fn, got["names"], ["conv1", "bn_conv1", "avg_pool", head, "res2a_branch1",
                                        "res5c_branch2c"])
        if not got["head_softmax"]:
            _fail(fn, f"the last layer {head} should use the softmax activation")
        _check_kernels(fn, {head: got["head_kernel"]}, {head: expected["head_kernel"]})
        probabilities = got["probabilities"]
        if not isinstance(probabilities, np.ndarray) or probabilities.ndim != 2:
            _fail(fn, f"the output should be a batch of probabilities, got "
                      f"{type_name(probabilities)}")
        check_close(fn, "sum of the output probabilities", probabilities.sum(axis=1),
                    np.ones(len(inputs["X"])), rtol=1e-4, atol=1e-4)


CHECKS = register(IdentityBlock(), ConvolutionalBlock(), ResNet50Check())
check_identity_block = CHECKS["identity_block"].check
check_convolutional_block = CHECKS["convolutional_block"].check
check_resnet50 = CHECKS["ResNet50"].check
