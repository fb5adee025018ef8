"""Tests of assignment 3 (residual networks in Keras), one GradedFunction per graded function.

Answers are compared with the reference solution's: stored for the public cases, computed by
the grader for all cases (``utils.graded``), which grades ResNet50 with the reference blocks
swapped in.

Block tests build the student's block on a Keras input in the kernel, give every batch-norm
layer statistics drawn from the case's seed (by layer name, so the order in which the layers
were created does not matter), run it in inference mode and return the output, the layer names,
the batch-norm axes and the conv kernels; the output checks the wiring (order, padding, strides,
shortcut, activations), the kernels the GlorotUniform(seed=0) initializer. The layer names of
the classic assignment are checked too. The same model runs once more with the last batch norm
of the main path silenced (gamma and beta zero), a probe whose output shows how the shortcut
and the last ReLU are wired. Batch normalization is checked in both modes: the block is also
called on the case's batch itself, eagerly, with ``training=True`` (each batch normalised with
its own statistics) and ``training=False`` (with the moving averages, fresh ones here), and
both outputs are compared with the reference's. (Inside a Keras model the mode of the model's
call decides, whatever ``training`` the block was built with.)

The ResNet50 test compares the model's layers with the reference's: class, output shape and
number of parameters of each layer, and its output probabilities (every kernel is seeded, so
the same network gives the same probabilities). Keras orders a model's layers by graph depth,
not by the order of the code, so the comparison is of the two collections, and names are
checked separately.

A function that raises gets a message naming the function, its input, the line that raised and
the likely cause (``utils.student_errors``).
"""

from __future__ import annotations

import inspect
import re
from collections import Counter

import numpy as np
import tensorflow as tf

from utils.checks import answer, check_close, type_name
from utils.graded import GradedFunction, register
from utils.i18n import N_, _
from utils.mistakes import Mistake, close, differs
from utils.student_errors import capture, raised_message

keras = tf.keras


def _fail(fn: str, message: str):
    raise AssertionError(_("{fn}: {message}").format(fn=fn, message=message))


RESIDUAL_ADD = N_("the tensors added have different shapes: for a residual block, the main "
                  "path and the shortcut must end with the same shape (check the strides of the "
                  "first conv layer and of the shortcut, the \"same\" padding of the middle "
                  "one, and the number of filters)")


def _check_raised(label: str, what: str, got: dict) -> None:
    """AssertionError naming the function and case, its input (``what``), the error, the line
    that raised and the likely cause, when the function raised. A Keras ``Add()`` of tensors
    of different shapes (its message: "Inputs have incompatible shapes") is a residual block's
    main path and shortcut ending with different shapes."""
    if "raised" in got:
        raised = got["raised"]
        cause = (_(RESIDUAL_ADD) if "Inputs have incompatible shapes" in raised["message"]
                 else None)
        raise AssertionError(raised_message(label, what, raised, cause))


def _layer_names(fn: str, names: list[str], required: list[str]) -> None:
    missing = [n for n in required if n not in names]
    if missing:
        _fail(fn, _("no layer named {missing}; the named layers are {names}").format(
            missing=missing, names=sorted(names)))


def _check_kernels(fn: str, got: dict, expected: dict) -> None:
    """Each kernel has the reference's shape and values (those of GlorotUniform(seed=0))."""
    for name, kernel in expected.items():
        value = got.get(name)
        if not isinstance(value, np.ndarray):
            _fail(fn, _("layer {name} has no kernel: is it a Conv2D/Dense layer?").format(
                name=name))
        if value.shape != np.shape(kernel):
            _fail(fn, _("layer {name}'s kernel has shape {shape}, expected {expected}: check "
                        "its number of filters and window size").format(
                name=name, shape=value.shape, expected=np.shape(kernel)))
        if not np.allclose(value, kernel):
            _fail(fn, _("layer {name}'s kernel is not GlorotUniform(seed=0): pass "
                        "kernel_initializer=initializer(seed=0)").format(name=name))


def _given_names(model) -> list[str]:
    """The names of ``model``'s layers that the code gave them. Keras's automatic names (the
    class name in snake case, such as ``activation_12``) are left out: their numbers depend on
    the layers built before in the same process."""
    def automatic(layer) -> str:
        words = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", type(layer).__name__)
        return re.sub("([a-z])([A-Z])", r"\1_\2", words).lower() + r"(_\d+)?"
    return [layer.name for layer in model.layers if not re.fullmatch(automatic(layer), layer.name)]


def _bn_axes(model) -> dict[str, int]:
    """{name: normalised axis} of every batch-norm layer of ``model`` (inputs are NHWC)."""
    return {layer.name: int(np.ravel(layer.axis)[0]) % 4 for layer in model.layers
            if isinstance(layer, keras.layers.BatchNormalization)}


def _check_bn_axes(fn: str, axes: dict, names: list[str] | None = None) -> None:
    """Batch norm must normalise the channels (axis 3, also written -1)."""
    for name in names if names is not None else sorted(axes):
        if axes.get(name, 3) != 3:
            _fail(fn, _("layer {name} normalises axis {axis}; batch norm must normalise the "
                        "channels: BatchNormalization(axis=3)").format(name=name,
                                                                       axis=axes[name]))


# ------------------------------------------------------------------------------------------
# The blocks


def _branches(shortcut: bool) -> list[str]:
    return ["2a", "2b", "2c"] + (["1"] if shortcut else [])


MODES = {"training": True, "inference": False}  # the eager calls of a block, by mode


class _Block(GradedFunction):
    """identity_block or convolutional_block on one case (see the module docstring)."""

    shortcut = False

    @staticmethod
    def _names(stage, block):
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
        """Built on a Keras input: the output in inference mode with the case's statistics, the
        same with the main path's last batch norm silenced (``output_silenced``), the layer
        names, batch-norm axes and kernels; called on the batch itself: the outputs in both
        modes (``eager``), or the error raised."""
        X = inputs["X"]
        args = (inputs["f"], list(inputs["filters"]), inputs["stage"], inputs["block"])
        kwargs = {"s": inputs["s"]} if self.shortcut else {}
        tensor = keras.Input(shape=X.shape[1:])
        outputs, raised = capture(fn, tensor, *args, **kwargs)
        if raised is not None:
            return {"raised": raised}
        model = keras.Model(tensor, outputs)
        kernels, last = {}, self._names(inputs["stage"], inputs["block"])[1] + "2c"
        for layer in model.layers:
            statistics = [np.asarray(w, np.float32) for w in inputs["bn"].get(layer.name, [])]
            if (isinstance(layer, keras.layers.BatchNormalization) and statistics
                    and tuple(layer.gamma.shape) == statistics[0].shape):
                layer.set_weights(statistics)
            if isinstance(layer, keras.layers.Conv2D):
                kernels[layer.name] = layer.kernel.numpy()
        got = {"names": _given_names(model), "kernels": kernels, "bn_axes": _bn_axes(model),
               "output": answer(model(X, training=False).numpy()),
               "accepts_training": "training" in inspect.signature(fn).parameters}
        if last in got["names"]:
            silenced = model.get_layer(last)
            silenced.set_weights([np.zeros_like(w) if i < 2 else w
                                  for i, w in enumerate(silenced.get_weights())])
            got["output_silenced"] = answer(model(X, training=False).numpy())
        if got["accepts_training"]:
            got["eager"] = {}
            for mode, training in MODES.items():
                value, raised = capture(fn, tf.constant(X), *args, training=training, **kwargs)
                got["eager"][mode] = {"raised": raised} if raised else {
                    "output": answer(np.asarray(value))}
        return got

    def assert_answer(self, case, inputs, got, expected):
        fn = self.name
        label = f"{fn} (f={inputs['f']}, filters={list(inputs['filters'])}" + (
            f", s={inputs['s']})" if self.shortcut else ")")
        _check_raised(label, _("a Keras input of shape {shape}").format(
            shape=(None, *inputs["X"].shape[1:])), got)
        conv_base, bn_base = self._names(inputs["stage"], inputs["block"])
        branches = _branches(self.shortcut)
        _layer_names(fn, got["names"], [conv_base + b for b in branches] +
                     [bn_base + b for b in branches])
        _check_bn_axes(fn, got["bn_axes"], [bn_base + b for b in branches])
        _check_kernels(fn, got["kernels"], expected["kernels"])
        check_close(label, _("output"), got["output"], expected["output"], rtol=1e-4,
                    atol=1e-4)
        if not got["accepts_training"]:
            _fail(fn, _("it takes no argument training"))
        for mode, training in MODES.items():
            eager = got["eager"][mode]
            _check_raised(label, _("the batch of shape {shape}, training={training}").format(
                shape=inputs["X"].shape, training=training), eager)
            check_close(_("{label} called with training={training}").format(
                label=label, training=training), _("output"), eager["output"],
                expected["eager"][mode]["output"], rtol=1e-4, atol=1e-4)

    @staticmethod
    def _no_training(inputs, got, expected):
        return not got["accepts_training"]

    @staticmethod
    def _training_ignored(inputs, got, expected):
        outputs, wanted = got["eager"], expected["eager"]
        return (differs(wanted["training"]["output"], wanted["inference"]["output"])
                and close(outputs["training"]["output"], wanted["inference"]["output"]))

    @staticmethod
    def _final_relu_missing(inputs, got, expected):
        return (differs(got["output"], expected["output"])
                and close(np.maximum(got["output"], 0), expected["output"], atol=1e-4))

    @staticmethod
    def _relu_before_add(inputs, got, expected):
        silenced = got["output_silenced"]
        return (np.min(silenced) < -1e-3 and not _Block._final_relu_missing(inputs, got, expected)
                and close(np.maximum(silenced, 0), expected["output_silenced"], atol=1e-4))

    @staticmethod
    def _no_shortcut(inputs, got, expected):
        return (differs(expected["output_silenced"], 0 * expected["output_silenced"])
                and close(got["output_silenced"], 0 * expected["output_silenced"], atol=1e-6))

    @staticmethod
    def _bn_axis(inputs, got, expected):
        return any(axis != 3 for axis in got["bn_axes"].values())

    @staticmethod
    def _kernels(inputs, got, expected):
        kernels = got["kernels"]
        return any(name in kernels and np.shape(kernels[name]) == np.shape(kernel)
                   and differs(kernels[name], kernel)
                   for name, kernel in expected["kernels"].items())

    @staticmethod
    def _shortcut_without_bn(inputs, got, expected):
        conv_base, bn_base = _Block._names(inputs["stage"], inputs["block"])
        return conv_base + "1" in got["names"] and bn_base + "1" not in got["names"]

    mistakes = (  # in the order the answer is checked: layers, outputs, the two modes
        Mistake("bn_axis", N_("batch norm normalises another axis than the channels"),
                N_("use BatchNormalization(axis=3, ...)"), _bn_axis),
        Mistake("kernel_initializer", N_("a kernel does not come from GlorotUniform(seed=0)"),
                N_("pass kernel_initializer=initializer(seed=0) to every Conv2D"), _kernels),
        Mistake("final_relu_missing", N_("the last ReLU is missing"),
                N_('apply Activation("relu") after the Add'), _final_relu_missing),
        Mistake("relu_before_add", N_("the last ReLU comes before the shortcut is added"),
                N_('add the shortcut first, then apply Activation("relu")'), _relu_before_add),
        Mistake("no_shortcut", N_("the shortcut is not added"),
                N_("add it to the main path, Add()([X, X_shortcut]), before the last ReLU"),
                _no_shortcut),
        Mistake("no_training", N_("the block takes no argument training"),
                N_("add training=True to its arguments and call each batch norm with "
                "training=training"), _no_training),
        Mistake("training_ignored", N_("batch norm ignores the training argument"),
                N_("call each BatchNormalization layer on X with training=training"),
                _training_ignored),
    )


class IdentityBlock(_Block):
    """identity_block: names, Glorot(seed=0) kernels, and outputs in inference mode."""

    name = "identity_block"

    def inputs(self, input_shape=(4, 4, 6), f=2, filters=(4, 4, 6), stage=1, block="a", seed=1):
        return super().inputs(input_shape, f, filters, stage, block, 1, seed)


class ConvolutionalBlock(_Block):
    """convolutional_block: names, Glorot(seed=0) kernels, outputs with the 1x1 conv shortcut."""

    name = "convolutional_block"
    shortcut = True
    mistakes = _Block.mistakes + (
        Mistake("shortcut_without_bn", N_("the shortcut has no batch norm"),
                N_('follow its Conv2D with BatchNormalization(axis=3, name=bn_name_base + "1")'),
                _Block._shortcut_without_bn),
    )

    def inputs(self, input_shape=(4, 4, 6), f=2, filters=(2, 4, 6), stage=1, block="a", s=2,
               seed=1):
        return super().inputs(input_shape, f, filters, stage, block, s, seed)


# ------------------------------------------------------------------------------------------
# ResNet50



def _layer_key(entry) -> tuple:
    """(class name, output shape, parameters) of an answer's layer."""
    name, shape, params = entry
    return str(name), tuple(int(d) for d in shape), int(params)


def _placeholder_block(name: str, X, f, filters, stage, block, s=1, training=True,
                       initializer=keras.initializers.GlorotUniform):
    """Not a residual block: two convolutions that give the block's output shape, named like
    its first layer and its last one (``name``), so that ResNet50's own layers can be graded
    when the student's block is wrong."""
    base, seeded = f"res{stage}{block}_branch", initializer(seed=0)
    X = keras.layers.Conv2D(filters[0], (f, f), strides=(s, s), padding="same",
                            name=base + "2a", kernel_initializer=seeded)(X)
    return keras.layers.Conv2D(filters[2], (1, 1), name=base + name,
                               kernel_initializer=seeded)(X)


class ResNet50Check(GradedFunction):
    """ResNet50: layers, shapes, parameter count, names, softmax head, output probabilities.

    When a block failed its tests, ResNet50 is graded with a placeholder block instead (the
    reference's answer too): the stem, the blocks' arguments and order, and the head are
    ResNet50's own work.
    """

    name = "ResNet50"
    helpers = ("identity_block", "convolutional_block")
    placeholders = {
        "identity_block": lambda X, f, filters, stage, block, **kwargs: _placeholder_block(
            "2c", X, f, filters, stage, block, 1, **kwargs),
        "convolutional_block": lambda X, f, filters, stage, block, s=2, **kwargs:
            _placeholder_block("1", X, f, filters, stage, block, s, **kwargs),
    }

    def inputs(self, input_shape=(64, 64, 3), classes=6):
        X = np.random.default_rng(0).uniform(0, 1, (2, *input_shape)).astype(np.float32)
        return {"input_shape": list(input_shape), "classes": classes, "X": X}

    def call(self, fn, inputs):
        classes = inputs["classes"]
        model, raised = capture(fn, input_shape=tuple(inputs["input_shape"]), classes=classes)
        if raised is not None:
            return {"raised": raised}
        if not isinstance(model, keras.Model):
            return {"is_model": False, "type": type(model).__name__}
        names = _given_names(model)
        head = model.get_layer(f"fc{classes}") if f"fc{classes}" in names else None
        activation = getattr(head, "activation", None)
        return {"is_model": True, "names": names, "bn_axes": _bn_axes(model),
                "layers": [[type(layer).__name__, [int(d) for d in layer.output.shape[1:]],
                            int(layer.count_params())] for layer in model.layers],
                "shortcut_shapes": {layer.name: [int(d) for d in layer.output.shape[1:]]
                                    for layer in model.layers
                                    if re.fullmatch(r"res\da_branch1", layer.name)},
                "count_params": int(model.count_params()),
                "head_softmax": activation is keras.activations.softmax,
                "head_kernel": answer(head.kernel.numpy()) if head is not None
                and hasattr(head, "kernel") else None,
                "probabilities": answer(model(inputs["X"], training=False).numpy())}

    def assert_answer(self, case, inputs, got, expected):
        fn, classes = self.name, inputs["classes"]
        _check_raised(self.label(case), f"input_shape={tuple(inputs['input_shape'])}, "
                                        f"classes={classes}", got)
        if not got["is_model"]:
            _fail(fn, _("should return a keras Model, got {type}").format(type=got["type"]))
        _check_bn_axes(fn, got["bn_axes"])
        layers = Counter(_layer_key(entry) for entry in got["layers"])
        plan = Counter(_layer_key(entry) for entry in expected["layers"])  # the reference's
        if layers != plan:
            missing, extra = list((plan - layers).elements()), list((layers - plan).elements())
            _fail(fn, _("the layers differ from ResNet50's (class, output shape, parameters): "
                        "missing {missing}, unexpected {unexpected}").format(
                missing=f"{missing[:3]}{' ...' if len(missing) > 3 else ''}",
                unexpected=f"{extra[:3]}{' ...' if len(extra) > 3 else ''}"))
        if got["count_params"] != expected["count_params"]:
            _fail(fn, _("{count:,} parameters, expected {expected:,}").format(
                count=got["count_params"], expected=expected["count_params"]))
        head = f"fc{classes}"
        _layer_names(fn, got["names"], ["conv1", "bn_conv1", "avg_pool", head, "res2a_branch1",
                                        "res5c_branch2c"])
        if not got["head_softmax"]:
            _fail(fn, _("the last layer {head} should use the softmax activation").format(
                head=head))
        _check_kernels(fn, {head: got["head_kernel"]}, {head: expected["head_kernel"]})
        probabilities = got["probabilities"]
        if not isinstance(probabilities, np.ndarray) or probabilities.ndim != 2:
            _fail(fn, _("the output should be a batch of probabilities, got {type}").format(
                type=type_name(probabilities)))
        check_close(fn, _("sum of the output probabilities"), probabilities.sum(axis=1),
                    np.ones(len(inputs["X"])), rtol=1e-4, atol=1e-4)
        # Every kernel is GlorotUniform(seed=0) and batch normalization starts as the identity:
        # the same network gives the same probabilities, however its code is written.
        check_close(fn, _("output probabilities (of the freshly initialised network)"),
                    probabilities, expected["probabilities"], rtol=1e-3, atol=1e-5)

    @staticmethod
    def _blocks(names) -> list[tuple[str, str]]:
        """(stage, block) of every residual block, from the names of its layers."""
        return sorted(set(re.findall(r"^res(\d)([a-z])_branch2a$", "\n".join(names), re.M)))

    @staticmethod
    def _classes(answer) -> Counter:
        return Counter(str(entry[0]) for entry in answer["layers"])

    @staticmethod
    def _block_count(inputs, got, expected):
        return ResNet50Check._blocks(got["names"]) != ResNet50Check._blocks(expected["names"])

    @staticmethod
    def _stride(inputs, got, expected):
        return (ResNet50Check._blocks(got["names"]) == ResNet50Check._blocks(expected["names"])
                and ResNet50Check._classes(got) == ResNet50Check._classes(expected)
                and got["shortcut_shapes"] != expected["shortcut_shapes"])

    @staticmethod
    def _no_max_pool(inputs, got, expected):
        return "MaxPooling2D" not in ResNet50Check._classes(got) and "MaxPooling2D" in \
            ResNet50Check._classes(expected)

    mistakes = (
        Mistake("block_count", N_("a stage has another number of blocks than ResNet50's"),
                N_("stages 2 to 5 have a convolutional block, then 2, 3, 5 and 2 identity "
                   "blocks"),
                _block_count),
        Mistake("stride", N_("a convolutional block has the wrong stride"),
                N_("s=1 in stage 2 and s=2 in the three stages after it"), _stride),
        Mistake("no_max_pool", N_("the max pooling after conv1 is missing"),
                N_("add MaxPooling2D((3, 3), strides=(2, 2)) after the first ReLU"),
                _no_max_pool),
        Mistake("no_softmax", N_("the last layer has no softmax"),
                N_('give the Dense layer activation="softmax"'),
                lambda inputs, got, expected: got["is_model"] and not got["head_softmax"]),
    )


CHECKS = register(IdentityBlock(), ConvolutionalBlock(), ResNet50Check())
check_identity_block = CHECKS["identity_block"].check
check_convolutional_block = CHECKS["convolutional_block"].check
check_resnet50 = CHECKS["ResNet50"].check
