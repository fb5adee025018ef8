"""Tests of assignment 6 (neural style transfer), one GradedFunction per graded function.

Answers are compared with the reference solution's: stored for the public cases, computed by
the grader for all cases (``utils.graded``). The tests of the course check the reference
solution itself against the definitions (means of squared differences, Gram matrices as sums
over the positions, a ``tf.GradientTape`` descent); nothing here computes a right answer.

Classic mistakes are recognised and named (``mistakes``, see ``utils.mistakes``), from the
reference answers and from probes, the functions called again on related inputs: the missing 4
of the content cost (4 times the answer), a cost that changes sign when its two activations are
exchanged (differences not squared), A^T A for the Gram matrix (the answer for A^T), the plain
reshape to (n_C, n_H*n_W) that mixes pixels and channels (the answer to the activations laid
out so that this reshape is the right unrolling), the missing layer weights (the answer with
every weight 1), only the last layer counted (the answer with the other weights 0), swapped
alpha and beta (the answer with the two costs exchanged), and a train_step that does not update
or clip the image (the image itself) or exchanges the weights (a step with ALPHA and BETA
exchanged).

``train_step`` runs on a small stand-in feature extractor (six seeded convolutions, not VGG19)
on an 8x10 image, so grading does not need the VGG19 weights. Its style layers are the
notebook's ``STYLE_LAYERS`` (train_step reaches them through compute_style_cost's default).

The notebook calls ``check_<function>(<function>, **case)``; the cases' parameters (shapes,
seeds, weights) are literals, so the grader can run the same cases from the data side.
"""

from __future__ import annotations

from itertools import pairwise

import keras
import numpy as np
import tensorflow as tf

from utils.checks import answer, check_close, check_scalar, check_shape, helpers_replaced
from utils.graded import GradedFunction, register
from utils.i18n import N_, _
from utils.mistakes import Mistake, close, differs, scalar, scaled_by, shape
from utils.style_transfer import STYLE_LAYERS

IMAGE_SHAPE = (1, 8, 10, 3)  # the images train_step is tested on
TRAIN_STEPS = 2  # steps of train_step per case


def _plain(value):
    """What a function returned, as plain data: tensors as numpy values (``answer``)."""
    if isinstance(value, (tf.Tensor, tf.Variable)):
        value = value.numpy()
    return answer(value)


def _activations(shape, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=shape).astype(np.float32)


def _cost_is(key: str, value):
    """A recogniser: the cost ``got[key]`` is ``value(inputs, got, expected)``, not the
    reference's."""
    def seen(inputs, got, expected):
        cost, wanted = scalar(got[key]), float(expected[key])
        wrong = value(inputs, got, expected)
        return (cost is not None and not np.isclose(wrong, wanted, rtol=1e-4, atol=1e-9)
                and bool(np.isclose(cost, wrong, rtol=1e-4, atol=1e-9)))
    return seen


def _scaled(key: str, factor):
    """A recogniser: the cost ``got[key]`` is ``factor(inputs)`` times the reference's."""
    return _cost_is(key, lambda inputs, got, expected: factor(inputs) * float(expected[key]))


def _probe(key: str, probe: str):
    """A recogniser: the cost ``got[key]`` is the reference's answer to the probe ``probe``."""
    return _cost_is(key, lambda inputs, got, expected: float(expected[probe]))


class ComputeContentCost(GradedFunction):
    """compute_content_cost(a_C, a_G) = sum((a_C - a_G)^2) / (4 n_H n_W n_C)."""

    name = "compute_content_cost"

    def inputs(self, shape=(1, 4, 4, 3), seed=1):
        return {"a_C": _activations(shape, seed), "a_G": _activations(shape, seed + 100)}

    def call(self, fn, inputs):
        """The cost, the cost of a_C with itself, and with a_C and a_G exchanged."""
        a_C, a_G = tf.constant(inputs["a_C"]), tf.constant(inputs["a_G"])
        return {"J": _plain(fn(a_C, a_G)), "J_same": _plain(fn(a_C, a_C)),
                "J_exchanged": _plain(fn(a_G, a_C))}

    def assert_answer(self, case, inputs, got, expected):
        name, J = self.label(case), float(expected["J"])
        check_scalar(name, _("cost"), got["J"], J, rtol=1e-4)
        check_scalar(name, _("cost of identical activations a_C = a_G"), got["J_same"],
                     float(expected["J_same"]), atol=1e-7)

    @staticmethod
    def _not_squared(inputs, got, expected):
        J = scalar(got["J"])
        return (J is not None and differs(J, float(expected["J"])) and abs(J) > 1e-6
                and close(scalar(got["J_exchanged"]), -J))

    mistakes = (
        Mistake("four_times", N_("the cost is 4 times too large"),
                N_("divide the sum of squares by 4 * n_H * n_W * n_C"),
                _scaled("J", lambda inputs: 4)),
        Mistake("not_normalised", N_("the sum of squares is not divided"),
                N_("divide it by 4 * n_H * n_W * n_C"),
                _scaled("J", lambda inputs: 4 * inputs["a_C"].size)),
        Mistake("not_squared", N_("the differences are not squared"),
                N_("add up tf.square(a_C - a_G), which is never negative"), _not_squared),
    )


class GramMatrix(GradedFunction):
    """gram_matrix(A) = A A^T, of shape (n_C, n_C) for A of shape (n_C, n_H*n_W)."""

    name = "gram_matrix"

    def inputs(self, shape=(3, 2), seed=1):
        return {"A": _activations(shape, seed)}

    def call(self, fn, inputs):
        """The Gram matrix of A, and that of A^T (a probe)."""
        A = tf.constant(inputs["A"])
        return {"GA": _plain(fn(A)), "GA_of_transpose": _plain(fn(tf.transpose(A)))}

    def assert_answer(self, case, inputs, got, expected):
        check_close(self.label(case), "G", got["GA"], expected["GA"], rtol=1e-4, atol=1e-5)

    @staticmethod
    def _transposed(inputs, got, expected):
        return (differs(got["GA"], expected["GA"])
                and close(got["GA"], expected["GA_of_transpose"], rtol=1e-4, atol=1e-5))

    @staticmethod
    def _normalised(inputs, got, expected):
        GA, wanted = got["GA"], expected["GA"]
        if shape(GA) != wanted.shape:
            return False
        factor = float(np.sum(GA * wanted) / np.sum(wanted * wanted))
        return 0 < factor < 1 and scaled_by(GA, wanted, factor)

    @staticmethod
    def _elementwise(inputs, got, expected):
        A = inputs["A"]
        return A.shape != expected["GA"].shape and close(got["GA"], A * A)

    mistakes = (
        Mistake("transposed", N_("this is A^T A"),
                N_("the Gram matrix is A A^T, with one row and one column per channel"),
                _transposed),
        Mistake("normalised", N_("the Gram matrix is divided by a size"),
                N_("here it is A A^T as it is: the style cost does the dividing"), _normalised),
        Mistake("elementwise", N_("A is multiplied by itself element-wise"),
                N_("the Gram matrix is the matrix product of A and its transpose: tf.matmul"),
                _elementwise),
    )


def _plain_reshape_layout(a: np.ndarray) -> np.ndarray:
    """Activations laid out so that the right unrolling of them is the plain reshape of ``a``
    to (n_C, n_H*n_W): the answer to them is what the classic mistake (this plain reshape,
    which mixes pixels and channels) answers for ``a``."""
    n_C = a.shape[-1]
    return np.reshape(np.reshape(a, (n_C, -1)).T, a.shape)


class ComputeLayerStyleCost(GradedFunction):
    """compute_layer_style_cost(a_S, a_G) = sum((G_S - G_G)^2) / (4 n_C^2 (n_H n_W)^2).

    It is also called on the activations in the plain-reshape layout
    (``_plain_reshape_layout``), so that the reference answer to those names the mistake."""

    name = "compute_layer_style_cost"
    helpers = ("gram_matrix",)

    def inputs(self, shape=(1, 4, 4, 3), seed=1):
        return {"a_S": _activations(shape, seed), "a_G": _activations(shape, seed + 50)}

    def call(self, fn, inputs):
        a_S, a_G = inputs["a_S"], inputs["a_G"]
        return {"J": _plain(fn(tf.constant(a_S), tf.constant(a_G))),
                "J_plain_layout": _plain(fn(tf.constant(_plain_reshape_layout(a_S)),
                                            tf.constant(_plain_reshape_layout(a_G))))}

    def assert_answer(self, case, inputs, got, expected):
        name, J = self.label(case), float(expected["J"])
        check_scalar(name, _("cost"), got["J"], J, rtol=1e-4)
        check_scalar(name, _("cost of the same activations with their positions and channels "
                             "laid out differently"), got["J_plain_layout"],
                     float(expected["J_plain_layout"]), rtol=1e-4)

    @staticmethod
    def _same_gram(inputs, got, expected):
        return close(scalar(got["J"]), 0.0, atol=1e-9) and abs(float(expected["J"])) > 1e-9

    mistakes = (
        Mistake("plain_reshape", N_("a_S and a_G are reshaped straight to (n_C, n_H*n_W)"),
                N_("that mixes pixels and channels: reshape to (n_H*n_W, n_C), then transpose"),
                _probe("J", "J_plain_layout")),
        Mistake("four_times", N_("the cost is 4 times too large"),
                N_("divide by 4 * n_C**2 * (n_H * n_W)**2, squares included"),
                _scaled("J", lambda inputs: 4)),
        Mistake("positions_not_squared", N_("the number of positions n_H * n_W is not squared"),
                N_("divide by 4 * n_C**2 * (n_H * n_W)**2, squares included"),
                _scaled("J", lambda inputs: inputs["a_S"].shape[1] * inputs["a_S"].shape[2])),
        Mistake("same_gram", N_("both Gram matrices are of the same activations"),
                N_("GS is the Gram matrix of a_S, GG that of a_G"), _same_gram),
    )


class ComputeStyleCost(GradedFunction):
    """compute_style_cost(S, G, style_layers): the sum of weight * the layer's style cost.

    It is also called with every weight 1, whose reference answer is the plain sum of the layer
    costs (the mistake of forgetting the weights)."""

    name = "compute_style_cost"
    helpers = ("compute_layer_style_cost",)

    def inputs(self, layer_shapes=((1, 4, 4, 3), (1, 2, 2, 5)), weights=(0.7, 0.3), seed=1):
        return {"style_outputs": [_activations(s, seed + i) for i, s in enumerate(layer_shapes)],
                "generated_outputs": [_activations(s, seed + 20 + i)
                                      for i, s in enumerate(layer_shapes)],
                "style_layers": [[f"layer{i}", w] for i, w in enumerate(weights)]}

    def call(self, fn, inputs):
        """The cost, and two probes: every weight 1 (``J_unit_weights``), every weight 0 but
        the last one's (``J_last_layer``)."""
        style, generated = ([tf.constant(a) for a in inputs[k]]
                            for k in ("style_outputs", "generated_outputs"))
        style_layers = [(name, weight) for name, weight in inputs["style_layers"]]
        unit_weights = [(name, 1.0) for name, _ in style_layers]
        last_layer = [(name, 0.0) for name, _ in style_layers[:-1]] + style_layers[-1:]
        return {"J": _plain(fn(style, generated, style_layers)),
                "J_unit_weights": _plain(fn(style, generated, unit_weights)),
                "J_last_layer": _plain(fn(style, generated, last_layer))}

    def assert_answer(self, case, inputs, got, expected):
        name, J = self.label(case), float(expected["J"])
        check_scalar(name, _("cost"), got["J"], J, rtol=1e-4)
        check_scalar(name, _("cost with every layer weight 1"), got["J_unit_weights"],
                     float(expected["J_unit_weights"]), rtol=1e-4)

    mistakes = (
        Mistake("unweighted", N_("the cost is the plain sum of the layer costs"),
                N_("multiply each layer's cost by its weight from style_layers"),
                _probe("J", "J_unit_weights")),
        Mistake("last_layer", N_("only the last layer's cost is kept"),
                N_("add each layer's weighted cost to J_style with +="),
                _probe("J", "J_last_layer")),
        Mistake("averaged", N_("the weighted costs are averaged over the layers"),
                N_("add them up: the weights already say how much each layer counts"),
                _scaled("J", lambda inputs: 1 / len(inputs["style_layers"]))),
    )


class TotalCost(GradedFunction):
    """total_cost(J_content, J_style, alpha=10, beta=40) = alpha J_content + beta J_style.

    A case with alpha and beta None calls total_cost with its default weights; ``tensors``
    passes the costs as scalar tensors. It is also called with the two costs exchanged, whose
    reference answer is what swapped weights give."""

    name = "total_cost"
    varied = ("J_content", "J_style", "alpha", "beta")

    def inputs(self, J_content=2.0, J_style=3.0, alpha=None, beta=None, tensors=False):
        return {"J_content": J_content, "J_style": J_style, "tensors": tensors,
                "weights": {k: v for k, v in (("alpha", alpha), ("beta", beta))
                            if v is not None}}

    def call(self, fn, inputs):
        """The cost, and three probes: the two costs exchanged (``J_costs_exchanged``: beta
        J_content + alpha J_style in the reference), the default weights
        (``J_default_weights``), weights 1 (``J_unit_weights``)."""
        costs = (inputs["J_content"], inputs["J_style"])
        if inputs["tensors"]:
            costs = tuple(tf.constant(c, tf.float32) for c in costs)
        return {"J": _plain(fn(*costs, **inputs["weights"])),
                "J_costs_exchanged": _plain(fn(*reversed(costs), **inputs["weights"])),
                "J_default_weights": _plain(fn(*costs)),
                "J_unit_weights": _plain(fn(*costs, alpha=1, beta=1))}

    def assert_answer(self, case, inputs, got, expected):
        name = self.label(case)
        check_scalar(name, _("total cost"), got["J"], float(expected["J"]), rtol=1e-5)
        check_scalar(name, _("total cost with J_content and J_style exchanged"),
                     got["J_costs_exchanged"], float(expected["J_costs_exchanged"]), rtol=1e-5)

    mistakes = (
        Mistake("swapped", N_("alpha weighs the style cost and beta the content cost"),
                N_("alpha multiplies J_content and beta multiplies J_style"),
                _probe("J", "J_costs_exchanged")),
        Mistake("weights_ignored", N_("the arguments alpha and beta are not used"),
                N_("use them instead of the numbers of the default weights"),
                _probe("J", "J_default_weights")),
        Mistake("unweighted", N_("the costs are added without their weights"),
                N_("multiply J_content by alpha and J_style by beta before adding them"),
                _probe("J", "J_unit_weights")),
    )


def stand_in_extractor(inputs: dict):
    """The stand-in for the VGG19 feature extractor: a chain of 3x3 tanh convolutions with the
    kernels, biases and strides of ``inputs``, all of whose outputs are returned (style layers
    first, content layer last), as a Keras model named ``stand_in_extractor``."""
    image = keras.Input(shape=IMAGE_SHAPE[1:])
    x, outputs, layers = image, [], []
    for kernel, stride in zip(inputs["kernels"], inputs["strides"]):
        layers.append(keras.layers.Conv2D(kernel.shape[-1], kernel.shape[:2], strides=stride,
                                          padding="same", activation="tanh"))
        x = layers[-1](x)
        outputs.append(x)
    for layer, kernel, bias in zip(layers, inputs["kernels"], inputs["biases"]):
        layer.set_weights([kernel, bias])
    return keras.Model(image, outputs, name="stand_in_extractor")


class TrainStep(GradedFunction):
    """Two steps of train_step on the stand-in extractor: the returned costs, and the images
    after the Adam updates and the clipping to [0, 1].

    train_step reads the notebook's names vgg_model_outputs, a_C, a_S, optimizer, ALPHA and
    BETA: while it is tested they are the stand-in extractor, its activations for the case's
    content and style images, a fresh Adam optimizer and the case's alpha and beta. It runs
    eagerly (its Python function), so that it is traced afresh with these names.
    """

    name = "train_step"
    helpers = ("compute_content_cost", "compute_style_cost", "total_cost")
    helper_gradients = True
    stand_ins = ("vgg_model_outputs", "a_C", "a_S", "optimizer", "ALPHA", "BETA")

    def inputs(self, seed=0, alpha=3.0, beta=20.0, learning_rate=0.05):
        rng = np.random.default_rng(seed)
        content, style, start = (rng.uniform(0, 1, IMAGE_SHAPE).astype(np.float32)
                                 for _ in range(3))
        start[0, :2] = 0.001  # pixels at the edges of the range, so that clipping matters
        start[0, -2:] = 0.999
        channels = [IMAGE_SHAPE[-1]] + [3 + i % 3 for i in range(len(STYLE_LAYERS) + 1)]
        kernels = [rng.uniform(-1, 1, (3, 3, c_in, c_out)).astype(np.float32)
                   * np.float32(np.sqrt(6 / (9 * (c_in + c_out))))  # Glorot's uniform range
                   for c_in, c_out in pairwise(channels)]
        return {"content": content, "style": style, "start": start, "kernels": kernels,
                "biases": [rng.normal(0.1, 0.05, k.shape[-1]).astype(np.float32)
                           for k in kernels],
                "strides": [2 if i == 2 else 1 for i in range(len(kernels))],
                "alpha": alpha, "beta": beta, "learning_rate": learning_rate}

    def call(self, fn, inputs):
        """The costs and images of TRAIN_STEPS steps, and the cost of a first step with ALPHA
        and BETA exchanged (``J_weights_exchanged``, a probe)."""
        costs, images = self._steps(fn, inputs, inputs["alpha"], inputs["beta"], TRAIN_STEPS)
        exchanged, _ = self._steps(fn, inputs, inputs["beta"], inputs["alpha"], 1)
        return {"J": costs, "images": images, "J_weights_exchanged": exchanged[0]}

    @staticmethod
    def _steps(fn, inputs, alpha, beta, steps) -> tuple[list, list]:
        """(costs, images) of ``steps`` steps of train_step from the case's start image, with
        the stand-in extractor and ALPHA, BETA = ``alpha``, ``beta``."""
        extractor = stand_in_extractor(inputs)
        stand_ins = {"vgg_model_outputs": extractor, "a_C": extractor(inputs["content"]),
                     "a_S": extractor(inputs["style"]), "ALPHA": alpha, "BETA": beta,
                     "optimizer": keras.optimizers.Adam(learning_rate=inputs["learning_rate"])}
        image = tf.Variable(inputs["start"])
        step = getattr(fn, "python_function", fn)
        costs, images = [], []
        with helpers_replaced(step, **stand_ins):
            for _ in range(steps):
                costs.append(_plain(step(image)))
                images.append(image.numpy())
        return costs, images

    def assert_answer(self, case, inputs, got, expected):
        for i in range(TRAIN_STEPS):
            name = _("train_step (step {step} with the stand-in extractor, ALPHA={alpha}, "
                     "BETA={beta}, learning_rate={learning_rate})").format(
                step=i + 1, alpha=inputs["alpha"], beta=inputs["beta"],
                learning_rate=inputs["learning_rate"])
            check_scalar(name, _("returned cost J"), got["J"][i], float(expected["J"][i]),
                         rtol=1e-4)
            image = got["images"][i]
            check_shape(name, _("image"), image, IMAGE_SHAPE)
            check_close(name, _("updated image"), image, expected["images"][i], rtol=1e-4,
                        atol=1e-5)

    @staticmethod
    def _not_clipped(inputs, got, expected):
        return any(np.min(image) < 0 or np.max(image) > 1 for image in got["images"])

    @staticmethod
    def _not_applied(inputs, got, expected):
        return close(got["images"][0], inputs["start"], rtol=0, atol=0)

    mistakes = (
        Mistake("not_clipped", N_("the image leaves [0, 1]"),
                N_("clip it after the step: generated_image.assign(clip_0_1(generated_image))"),
                _not_clipped),
        Mistake("not_applied", N_("the image does not change"),
                N_("apply the gradient: optimizer.apply_gradients([(grad, generated_image)])"),
                _not_applied),
        Mistake("weights_exchanged", N_("ALPHA weighs the style cost and BETA the content cost"),
                N_("pass J_content first and J_style second to total_cost"),
                lambda inputs, got, expected: (
                    differs(scalar(got["J"][0]), float(expected["J"][0]))
                    and close(scalar(got["J"][0]), float(expected["J_weights_exchanged"])))),
    )


CHECKS = register(ComputeContentCost(), GramMatrix(), ComputeLayerStyleCost(),
                  ComputeStyleCost(), TotalCost(), TrainStep())
check_compute_content_cost = CHECKS["compute_content_cost"].check
check_gram_matrix = CHECKS["gram_matrix"].check
check_compute_layer_style_cost = CHECKS["compute_layer_style_cost"].check
check_compute_style_cost = CHECKS["compute_style_cost"].check
check_total_cost = CHECKS["total_cost"].check
check_train_step = CHECKS["train_step"].check
