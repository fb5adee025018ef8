"""Checks for assignment 2 (SIGNS classifier in TensorFlow).

Expected values are computed in the check itself: the initial weights from the same seeded
Keras initializer, the forward pass with Keras layers holding the same weights, the cost with
numpy. ``check_model`` checks properties of a short training run (the cost falls, learning rate
0 leaves the parameters alone, the accuracies are those of the returned parameters).

``GRADING_HELPERS`` is empty for students. The grader's hidden tests fill it with reference
versions of initialize_parameters, forward_propagation and compute_cost, so that ``model`` is
graded on its own.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from utils.checks import check_close, check_scalar, check_shape, helpers_replaced

PARAMETER_SHAPES = {"W1": (4, 4, 3, 8), "W2": (2, 2, 8, 16), "W3": (64, 6), "b3": (6,)}
GRADING_HELPERS: dict = {}


def reference_initial_parameters(seed: int = 1) -> dict[str, np.ndarray]:
    """The initial parameters the assignment asks for: Glorot-uniform weights, zero bias."""
    initializer = tf.keras.initializers.GlorotUniform(seed=seed)
    values = {name: np.array(initializer(shape=shape)) for name, shape in PARAMETER_SHAPES.items()
              if name != "b3"}
    values["b3"] = np.zeros(PARAMETER_SHAPES["b3"], np.float32)
    return values


def check_initialize_parameters(initialize_parameters) -> None:
    """Variables of the right shapes and dtype, equal to GlorotUniform(seed=1), reproducible."""
    fn = "initialize_parameters"
    parameters = initialize_parameters()
    if not isinstance(parameters, dict) or set(parameters) != set(PARAMETER_SHAPES):
        keys = sorted(parameters) if isinstance(parameters, dict) else type(parameters).__name__
        raise AssertionError(f"{fn}: should return a dict with keys {sorted(PARAMETER_SHAPES)}, "
                             f"got {keys}")
    expected = reference_initial_parameters()
    for name, value in parameters.items():
        if not isinstance(value, tf.Variable):
            raise AssertionError(f"{fn}: {name} should be a tf.Variable (so that it can be "
                                 f"trained), got {type(value).__name__}")
        if value.dtype != tf.float32:
            raise AssertionError(f"{fn}: {name} should be float32, got {value.dtype.name}")
        check_close(fn, name, value.numpy(), expected[name], rtol=1e-6, atol=1e-7)
    again = initialize_parameters()
    if not all(np.array_equal(again[k].numpy(), parameters[k].numpy()) for k in parameters):
        raise AssertionError(f"{fn}: two calls gave different values; use the fixed seed 1")


def _keras_forward(X: np.ndarray, parameters: dict) -> np.ndarray:
    """The assignment's network written with Keras layers, holding the given weights."""
    layers = tf.keras.layers
    inputs = tf.keras.Input(shape=X.shape[1:])
    conv1 = layers.Conv2D(8, 4, padding="same", use_bias=False, activation="relu")
    conv2 = layers.Conv2D(16, 2, padding="same", use_bias=False, activation="relu")
    dense = layers.Dense(6)
    x = layers.MaxPooling2D(8, strides=8, padding="same")(conv1(inputs))
    x = layers.MaxPooling2D(4, strides=4, padding="same")(conv2(x))
    outputs = dense(layers.Flatten()(x))
    network = tf.keras.Model(inputs, outputs)
    conv1.set_weights([parameters["W1"]])
    conv2.set_weights([parameters["W2"]])
    dense.set_weights([parameters["W3"], parameters["b3"]])
    return network(X, training=False).numpy()


def check_forward_propagation(forward_propagation, m: int = 3, seed: int = 2) -> None:
    """Logits of shape (m, 6) equal to the same network written with Keras layers."""
    rng = np.random.default_rng(seed)
    X = rng.uniform(0, 1, (m, 64, 64, 3)).astype(np.float32)
    values = {name: rng.uniform(-0.5, 0.5, shape).astype(np.float32)
              for name, shape in PARAMETER_SHAPES.items()}
    parameters = {name: tf.Variable(value) for name, value in values.items()}
    Z3 = forward_propagation(tf.constant(X), parameters)
    got = Z3.numpy() if hasattr(Z3, "numpy") else np.asarray(Z3)
    check_shape("forward_propagation", "logits", got, (m, 6))
    check_close("forward_propagation", "logits", got, _keras_forward(X, values), rtol=1e-4,
                atol=1e-5)


def _reference_cost(logits: np.ndarray, labels: np.ndarray) -> float:
    shifted = logits - logits.max(axis=1, keepdims=True)
    log_softmax = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    return float(np.mean(-np.sum(labels * log_softmax, axis=1)))


def check_compute_cost(compute_cost, m: int = 5, seed: int = 3) -> None:
    """The mean over examples of the softmax cross-entropy of the logits against one-hot labels."""
    rng = np.random.default_rng(seed)
    logits = rng.standard_normal((m, 6)).astype(np.float32) * 3
    labels = np.eye(6, dtype=np.float32)[rng.integers(0, 6, m)]
    cost = compute_cost(tf.constant(logits), tf.constant(labels))
    value = cost.numpy() if hasattr(cost, "numpy") else cost
    expected = _reference_cost(logits, labels)
    if m > 1 and np.ndim(value) == 0 and np.isclose(float(value), m * expected, rtol=1e-4):
        raise AssertionError("compute_cost: you returned the sum over the examples; "
                             "return the mean (tf.reduce_mean)")
    check_scalar("compute_cost", "cost", value, expected, rtol=1e-4, atol=1e-6)


def check_model(model, X_train, Y_train, X_test, Y_test, num_epochs: int = 4,
                learning_rate: float = 0.009) -> dict:
    """Train briefly and check what ``model`` returns; return the parameters it trained.

    Checks: 4 return values; one cost per epoch; the cost falls; accuracies are the fractions
    of correctly classified examples for the returned parameters; learning rate 0 leaves the
    parameters at their initial values.
    """
    fn = "model"
    with helpers_replaced(model, **GRADING_HELPERS):
        result = model(X_train, Y_train, X_test, Y_test, learning_rate=learning_rate,
                       num_epochs=num_epochs, print_cost=False)
        if not (isinstance(result, tuple) and len(result) == 4):
            raise AssertionError(f"{fn}: should return (train_accuracy, test_accuracy, "
                                 f"parameters, costs)")
        train_accuracy, test_accuracy, parameters, costs = result
        if len(costs) != num_epochs:
            raise AssertionError(f"{fn}: costs should hold one value per epoch ({num_epochs}), "
                                 f"got {len(costs)}")
        initial = reference_initial_parameters()
        if all(np.allclose(parameters[k].numpy(), initial[k]) for k in PARAMETER_SHAPES):
            raise AssertionError(f"{fn}: the parameters did not change during training: are the "
                                 f"gradients applied to them (optimizer.apply_gradients)?")
        if not costs[-1] < costs[0] * (1 - 1e-3):
            raise AssertionError(f"{fn}: the cost did not fall in {num_epochs} epochs "
                                 f"(costs {np.round(costs, 4).tolist()}): are the gradients "
                                 f"applied to the parameters?")
        for what, accuracy, X, Y in (("train", train_accuracy, X_train, Y_train),
                                     ("test", test_accuracy, X_test, Y_test)):
            logits = _keras_forward(np.asarray(X, np.float32),
                                    {k: v.numpy() for k, v in parameters.items()})
            expected = float(np.mean(np.argmax(logits, 1) == np.argmax(Y, 1)))
            check_scalar(fn, f"{what} accuracy", accuracy, expected, atol=1e-6)
        frozen = model(X_train, Y_train, X_test, Y_test, learning_rate=0.0, num_epochs=2,
                       print_cost=False)[2]
    for name in PARAMETER_SHAPES:
        check_close(fn, f"{name} after training with learning_rate=0", frozen[name].numpy(),
                    initial[name], rtol=1e-6, atol=1e-7)
    return parameters
