"""Checks for assignment 6 (neural style transfer).

The costs are compared with the formulas computed here in numpy on seeded random activations.
A wrong layer style cost is compared with the classic mistake (unrolling with a plain reshape
to (n_C, n_H*n_W), which mixes pixels and channels) and the message names it.

``train_step`` is checked with a small stand-in feature extractor built here (six seeded
convolutions, not VGG19) on a small image, so grading does not need the VGG19 weights: the
check sets the notebook names train_step reads (``vgg_model_outputs``, ``a_C``, ``a_S``,
``optimizer``, ``ALPHA``, ``BETA``) to stand-ins, runs two steps eagerly and compares the cost
and the updated image with a reference step using a fresh Adam optimiser.

``GRADING_HELPERS`` is empty for students; the grader's hidden tests fill it with reference
cost functions so that compute_style_cost and train_step are graded on their own.
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from utils.checks import check_close, check_scalar, check_shape, helpers_replaced

GRADING_HELPERS: dict = {}


def _activations(shape, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=shape).astype(np.float32)


def _number(fn: str, what: str, got) -> np.ndarray:
    got = np.asarray(got)
    if got.ndim != 0:
        raise AssertionError(f"{fn}: {what} should be a single number (a scalar tensor), got "
                             f"shape {got.shape}")
    return got


def content_cost(a_C, a_G) -> float:
    """1 / (4 n_H n_W n_C) * sum((a_C - a_G)^2), activations of shape (1, n_H, n_W, n_C)."""
    _, n_H, n_W, n_C = a_C.shape
    return float(np.sum((np.float64(a_C) - a_G) ** 2) / (4 * n_H * n_W * n_C))


def _unrolled(a) -> np.ndarray:
    """(1, n_H, n_W, n_C) -> (n_C, n_H*n_W): one row per channel."""
    return np.reshape(a, (-1, a.shape[-1])).T.astype(np.float64)


def layer_style_cost(a_S, a_G, unroll=_unrolled) -> float:
    """1 / (4 n_C^2 (n_H n_W)^2) * sum((G_S - G_G)^2) with G = A A^T, A = unroll(a)."""
    _, n_H, n_W, n_C = a_S.shape
    gram_S, gram_G = (unroll(a) @ unroll(a).T for a in (a_S, a_G))
    return float(np.sum((gram_S - gram_G) ** 2) / (4 * n_C ** 2 * (n_H * n_W) ** 2))


def check_compute_content_cost(compute_content_cost, shapes=((1, 4, 4, 3), (1, 3, 5, 2)),
                               seed: int = 1) -> None:
    """Seeded activations of several shapes; identical activations cost 0."""
    fn = "compute_content_cost"
    for i, shape in enumerate(shapes):
        a_C, a_G = _activations(shape, seed + i), _activations(shape, seed + 100 + i)
        got = _number(fn, "the cost", compute_content_cost(tf.constant(a_C), tf.constant(a_G)))
        check_scalar(f"{fn} (activations {shape})", "cost", got, content_cost(a_C, a_G),
                     rtol=1e-4)
    same = tf.constant(_activations(shapes[0], seed))
    check_scalar(fn, "cost of identical activations", np.asarray(
        compute_content_cost(same, same)), 0.0, atol=1e-7)


def check_gram_matrix(gram_matrix, shapes=((3, 2), (5, 7)), seed: int = 1) -> None:
    """G = A A^T of shape (n_C, n_C) for A of shape (n_C, n_H*n_W)."""
    fn = "gram_matrix"
    for i, shape in enumerate(shapes):
        A = _activations(shape, seed + i)
        got = np.asarray(gram_matrix(tf.constant(A)))
        if got.shape == (shape[1], shape[1]) and shape[0] != shape[1]:
            raise AssertionError(f"{fn}: for A of shape {shape} got shape {got.shape}: that is "
                                 f"A^T A; the Gram matrix is A A^T, of shape {(shape[0],) * 2}")
        check_shape(fn, f"G (A of shape {shape})", got, (shape[0], shape[0]))
        check_close(fn, f"G (A of shape {shape})", got, A.astype(np.float64) @ A.T, rtol=1e-4,
                    atol=1e-5)


def check_compute_layer_style_cost(compute_layer_style_cost,
                                   shapes=((1, 4, 4, 3), (1, 2, 3, 4)), seed: int = 1) -> None:
    """Seeded activations; the plain-reshape mistake is recognised and named."""
    fn = "compute_layer_style_cost"
    for i, shape in enumerate(shapes):
        a_S, a_G = _activations(shape, seed + i), _activations(shape, seed + 50 + i)
        expected = layer_style_cost(a_S, a_G)
        with _grading_helpers(compute_layer_style_cost):
            got = compute_layer_style_cost(tf.constant(a_S), tf.constant(a_G))
        got = _number(fn, "the cost", got)
        reshaped = layer_style_cost(a_S, a_G, unroll=lambda a: np.reshape(
            a, (a.shape[-1], -1)).astype(np.float64))
        if not np.isclose(got, expected, rtol=1e-4) and np.isclose(got, reshaped, rtol=1e-4):
            raise AssertionError(
                f"{fn}: wrong cost for activations {shape}: got {float(got):.6g}, expected "
                f"{expected:.6g}. It looks like a_S and a_G were reshaped directly to "
                "(n_C, n_H*n_W), which mixes pixels and channels: reshape to (n_H*n_W, n_C) "
                "first, then transpose")
        check_scalar(f"{fn} (activations {shape})", "cost", got, expected, rtol=1e-4)


def _grading_helpers(fn):
    """While the block runs, the helpers ``fn`` calls are the grader's reference versions."""
    return helpers_replaced(fn, **GRADING_HELPERS)


def check_compute_style_cost(compute_style_cost, layer_shapes=((1, 4, 4, 3), (1, 2, 2, 5)),
                             weights=(0.7, 0.3), seed: int = 1) -> None:
    """Weighted sum of the layer style costs over the given (name, weight) pairs."""
    fn = "compute_style_cost"
    style_layers = [(f"layer{i}", w) for i, w in enumerate(weights)]
    a_S = [_activations(s, seed + i) for i, s in enumerate(layer_shapes)]
    a_G = [_activations(s, seed + 20 + i) for i, s in enumerate(layer_shapes)]
    expected = sum(w * layer_style_cost(s, g) for (_, w), s, g in zip(style_layers, a_S, a_G))
    with _grading_helpers(compute_style_cost):
        got = compute_style_cost([tf.constant(a) for a in a_S], [tf.constant(a) for a in a_G],
                                 style_layers)
    check_scalar(f"{fn} (weights {list(weights)})", "cost",
                 _number(fn, "the cost", got), expected, rtol=1e-4)


def check_total_cost(total_cost) -> None:
    """alpha * J_content + beta * J_style, with the defaults alpha=10, beta=40."""
    fn = "total_cost"
    check_scalar(fn, "total_cost(2.0, 3.0)", np.asarray(total_cost(2.0, 3.0)), 10 * 2 + 40 * 3)
    check_scalar(fn, "total_cost(0.5, 0.25, alpha=3, beta=7)",
                 np.asarray(total_cost(0.5, 0.25, alpha=3, beta=7)), 3 * 0.5 + 7 * 0.25)
    check_scalar(fn, "total_cost with tensors", np.asarray(
        total_cost(tf.constant(1.5), tf.constant(2.0), alpha=1, beta=2)), 1.5 + 4.0)


def stand_in_extractor(image_shape=(8, 10, 3), n_outputs: int = 6, seed: int = 0):
    """A chain of small seeded 3x3 convolutions (tanh) whose outputs are all returned, in the
    role of the VGG19 feature extractor (style layers first, content layer last). Not VGG19."""
    inputs = keras.Input(shape=image_shape)
    x, outputs = inputs, []
    for i in range(n_outputs):
        x = keras.layers.Conv2D(3 + i % 3, 3, padding="same", activation="tanh",
                                strides=2 if i == 2 else 1,
                                kernel_initializer=keras.initializers.GlorotUniform(seed + i),
                                bias_initializer=keras.initializers.RandomNormal(0.1, seed=seed))(x)
        outputs.append(x)
    return keras.Model(inputs, outputs, name="stand_in_extractor")


def _reference_cost(extractor, image, a_C, a_S, style_layers, alpha, beta):
    a_G = extractor(image)
    _, n_H, n_W, n_C = a_G[-1].shape
    J_content = tf.reduce_sum(tf.square(a_C[-1] - a_G[-1])) / (4 * n_H * n_W * n_C)
    J_style = 0.0
    for (_, weight), s, g in zip(style_layers, a_S[:-1], a_G[:-1]):
        _, h, w, c = g.shape
        S, G = (tf.transpose(tf.reshape(a, (h * w, c))) for a in (s, g))
        J_style += weight * tf.reduce_sum(tf.square(S @ tf.transpose(S) - G @ tf.transpose(G))) / (
            4 * c ** 2 * (h * w) ** 2)
    return alpha * J_content + beta * J_style


def check_train_step(train_step, style_layers, seed: int = 0, alpha: float = 3.0,
                     beta: float = 20.0, learning_rate: float = 0.05) -> None:
    """Two steps with the stand-in extractor: returned cost, Adam update, clipping to [0, 1]."""
    fn = "train_step"
    extractor = stand_in_extractor(n_outputs=len(style_layers) + 1, seed=seed)
    rng = np.random.default_rng(seed)
    content, style = (rng.uniform(0, 1, (1, 8, 10, 3)).astype(np.float32) for _ in range(2))
    start = rng.uniform(0, 1, (1, 8, 10, 3)).astype(np.float32)
    start[0, :2] = 0.001  # pixels at the edges of the range, so that clipping matters
    start[0, -2:] = 0.999
    a_C, a_S = extractor(content), extractor(style)
    image, expected_image = tf.Variable(start), tf.Variable(start)
    reference_optimizer = keras.optimizers.Adam(learning_rate=learning_rate)
    stand_ins = {"vgg_model_outputs": extractor, "a_C": a_C, "a_S": a_S, "ALPHA": alpha,
                 "BETA": beta, "optimizer": keras.optimizers.Adam(learning_rate=learning_rate)}
    step = getattr(train_step, "python_function", train_step)  # run eagerly, traced afresh
    with helpers_replaced(step, **stand_ins), _grading_helpers(step):
        for i in range(2):
            with tf.GradientTape() as tape:
                expected_J = _reference_cost(extractor, expected_image, a_C, a_S, style_layers,
                                             alpha, beta)
            grad = tape.gradient(expected_J, expected_image)
            reference_optimizer.apply_gradients([(grad, expected_image)])
            expected_image.assign(tf.clip_by_value(expected_image, 0.0, 1.0))
            J = step(image)
            check_scalar(f"{fn} (step {i + 1}, stand-in extractor, ALPHA={alpha}, BETA={beta})",
                         "returned cost J", _number(fn, "J", J), float(expected_J), rtol=1e-4)
            got = image.numpy()
            if got.min() < 0 or got.max() > 1:
                raise AssertionError(f"{fn}: after step {i + 1} the image has values in "
                                     f"[{got.min():.4f}, {got.max():.4f}]: clip it to [0, 1] "
                                     "(generated_image.assign(clip_0_1(generated_image)))")
            if np.array_equal(got, start):
                raise AssertionError(f"{fn}: the image did not change: apply the gradient with "
                                     "optimizer.apply_gradients([(grad, generated_image)])")
            check_close(f"{fn} (step {i + 1}, stand-in extractor)", "updated image", got,
                        expected_image.numpy(), rtol=1e-4, atol=1e-5)
