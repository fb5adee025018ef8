"""Tests of assignment 2 (SIGNS classifier in TensorFlow), one GradedFunction per graded function.

Answers are compared with the reference solution's: stored for the public cases, computed by
the grader for all cases (``utils.graded``). ``model`` is checked by properties of a short
training run on the real SIGNS photographs (the cost falls, the accuracies are those of the
returned parameters) and by comparison with the reference at learning rate 0 (the parameters
stay at their initial values; each epoch's cost is the mean cost of those parameters over the
training set). The grader grades ``model`` with the reference initialize_parameters,
forward_propagation and compute_cost swapped in.

The notebook calls ``check_<function>(<function>, **case)``; the cases' parameters (sizes,
seeds, epochs, learning rate) are literals, so the grader can run the same cases from the data
side. ``model``'s cases name how many SIGNS photographs to train and test on; ``call`` (in the
kernel) and ``compare`` read them through the data layer, prepared as the notebook does
(``utils.signs.prepare``).

A function that raises gets a message naming the function, its input, the line that raised and
the likely cause (``utils.student_errors``).
"""

from __future__ import annotations

import contextlib
import functools
import io

import numpy as np
import tensorflow as tf

from utils.checks import answer, check_close, check_scalar, check_shape, type_name
from utils.graded import GradedFunction, register
from utils.signs import load_signs_dataset, prepare
from utils.student_errors import capture, raised_message

TRAINING_PROGRESS = 0.5  # the share of the reference's fall of the cost a model must reach
PARAMETER_SHAPES = {"W1": (4, 4, 3, 8), "W2": (2, 2, 8, 16), "W3": (64, 6), "b3": (6,)}


class _Raised(Exception):
    """The student's function raised; ``raised`` is the plain description of its error."""

    def __init__(self, raised: dict):
        super().__init__(raised["message"])
        self.raised = raised


def _run(fn, *args, **kwargs):
    """``fn(*args, **kwargs)``; _Raised (with the error as plain data) when it raises."""
    result, raised = capture(fn, *args, **kwargs)
    if raised is not None:
        raise _Raised(raised)
    return result


def _answer_or_raised(answer_of, *args) -> dict:
    """``answer_of(*args)``, or ``{"raised": error}`` when the student's function raised."""
    try:
        return answer_of(*args)
    except _Raised as error:
        return {"raised": error.raised}


def _check_raised(label: str, what: str, got: dict) -> None:
    """AssertionError naming the function and case, its input (``what``), the error, the line
    that raised and the likely cause, when the function raised."""
    if "raised" in got:
        raise AssertionError(raised_message(label, what, got["raised"]))


def _plain(value):
    """A returned tensor, variable or number as plain data (see ``utils.checks.answer``)."""
    if isinstance(value, (tf.Tensor, tf.Variable)):
        value = value.numpy()
    return answer(value)


def _values(parameters) -> dict:
    """{name: value} of a dict of parameters, each value as plain data ({} for a non-dict)."""
    if not isinstance(parameters, dict):
        return {}
    return {str(k): _plain(v) for k, v in parameters.items()}


class InitializeParameters(GradedFunction):
    """Four distinct trainable float32 variables equal to GlorotUniform(seed=1), reproducible."""

    name = "initialize_parameters"

    def inputs(self, change_first=False):
        """``change_first``: set the first call's variables to zero before the second call."""
        return {"change_first": change_first}

    def call(self, fn, inputs):
        return _answer_or_raised(self._answer, fn, inputs["change_first"])

    @staticmethod
    def _answer(fn, change_first: bool) -> dict:
        parameters = _run(fn)
        if not isinstance(parameters, dict):
            return {"is_dict": False, "type": type(parameters).__name__}
        first = _values(parameters)
        if change_first:
            for value in parameters.values():
                if isinstance(value, tf.Variable):
                    value.assign(tf.zeros_like(value))
        again = _run(fn)
        return {"is_dict": True, "keys": sorted(str(k) for k in parameters),
                "values": first,
                "facts": {str(k): {"variable": isinstance(v, tf.Variable),
                                   "dtype": str(getattr(getattr(v, "dtype", None), "name",
                                                        type(v).__name__)),
                                   "trainable": bool(getattr(v, "trainable", False))}
                          for k, v in parameters.items()},
                "distinct": len({id(v) for v in parameters.values()}) == len(parameters),
                "again": _values(again)}

    def compare(self, case, inputs, got, expected):
        fn = self.name
        _check_raised(self.label(case), "no arguments", got)
        if not got["is_dict"] or set(got["keys"]) != set(PARAMETER_SHAPES):
            keys = got["keys"] if got["is_dict"] else got["type"]
            raise AssertionError(f"{fn}: should return a dict with keys "
                                 f"{sorted(PARAMETER_SHAPES)}, got {keys}")
        for name in sorted(PARAMETER_SHAPES):
            facts = got["facts"][name]
            if not facts["variable"]:
                raise AssertionError(f"{fn}: {name} should be a tf.Variable (so that it can be "
                                     f"trained), got {facts['dtype']}")
            if facts["dtype"] != "float32":
                raise AssertionError(f"{fn}: {name} should be float32, got {facts['dtype']}")
            if not facts["trainable"]:
                raise AssertionError(f"{fn}: {name} should be trainable (tf.Variable's default)")
            check_close(fn, name, got["values"][name], expected["values"][name], rtol=1e-6,
                        atol=1e-7)
        if not got["distinct"]:
            raise AssertionError(f"{fn}: W1, W2, W3 and b3 should be four distinct variables")
        again = got["again"]
        if set(again) != set(PARAMETER_SHAPES) or not all(
                np.array_equal(np.asarray(again[k]), got["values"][k]) for k in PARAMETER_SHAPES):
            raise AssertionError(
                f"{fn}: a second call returned other values after the first call's variables "
                f"were changed; create new tf.Variables on every call" if inputs["change_first"]
                else f"{fn}: two calls gave different values; use the fixed seed 1")


class ForwardPropagation(GradedFunction):
    """Logits of shape (m, 6) of the network CONV2D -> RELU -> MAXPOOL -> CONV2D -> RELU ->
    MAXPOOL -> FLATTEN -> DENSE, for X (m, 64, 64, 3) and the given weights."""

    name = "forward_propagation"

    def inputs(self, m=3, seed=2):
        rng = np.random.default_rng(seed)
        X = rng.uniform(0, 1, (m, 64, 64, 3)).astype(np.float32)
        values = {name: rng.uniform(-0.5, 0.5, shape).astype(np.float32)
                  for name, shape in PARAMETER_SHAPES.items()}
        return {"X": X, "parameters": values}

    def call(self, fn, inputs):
        parameters = {name: tf.Variable(value) for name, value in inputs["parameters"].items()}
        return _answer_or_raised(lambda: {"Z3": _plain(_run(fn, tf.constant(inputs["X"]),
                                                            parameters))})

    def compare(self, case, inputs, got, expected):
        _check_raised(self.label(case), f"X of shape {inputs['X'].shape}", got)
        m = inputs["X"].shape[0]
        check_shape(self.label(case), "logits", got["Z3"], (m, 6))
        check_close(self.label(case), "logits", got["Z3"], expected["Z3"], rtol=1e-4, atol=1e-5)


class ComputeCost(GradedFunction):
    """The mean over examples of the softmax cross-entropy of the logits and one-hot labels."""

    name = "compute_cost"

    def inputs(self, m=5, seed=3):
        rng = np.random.default_rng(seed)
        logits = rng.standard_normal((m, 6)).astype(np.float32) * 3
        labels = np.eye(6, dtype=np.float32)[rng.integers(0, 6, m)]
        return {"logits": logits, "labels": labels}

    def call(self, fn, inputs):
        logits, labels = tf.constant(inputs["logits"]), tf.constant(inputs["labels"])
        return _answer_or_raised(lambda: {"cost": _plain(_run(fn, logits, labels))})

    def compare(self, case, inputs, got, expected):
        _check_raised(self.label(case), f"logits and labels of shape {inputs['logits'].shape}",
                      got)
        cost, mean = got["cost"], float(np.asarray(expected["cost"]))
        m = inputs["logits"].shape[0]
        if (m > 1 and isinstance(cost, (np.ndarray, np.generic, float)) and np.ndim(cost) == 0
                and np.isclose(float(cost), m * mean, rtol=1e-4)):
            raise AssertionError("compute_cost: you returned the sum over the examples; "
                                 "return the mean (tf.reduce_mean)")
        check_scalar(self.label(case), "cost", cost, mean, rtol=1e-4, atol=1e-6)


def _numbers(values):
    """A list of numbers (Python floats, numpy scalars or 0-d tensors) as a float64 array."""
    try:
        return np.array([float(_plain(v)) for v in values], np.float64)
    except (TypeError, ValueError):
        return answer(values)


@functools.lru_cache(maxsize=1)
def _signs() -> tuple[np.ndarray, ...]:
    """SIGNS through the data layer, prepared as in the notebook: X_train (1080, 64, 64, 3),
    Y_train (1080, 6), X_test (120, 64, 64, 3), Y_test (120, 6); read-only."""
    with contextlib.redirect_stdout(io.StringIO()):
        X_train, Y_train, X_test, Y_test, _ = load_signs_dataset(verbose=False)
    arrays = (*prepare(X_train, Y_train), *prepare(X_test, Y_test))
    for array in arrays:
        array.setflags(write=False)
    return arrays


class Model(GradedFunction):
    """A short training run on the first ``n_train`` / ``n_test`` SIGNS photographs.

    Checked properties: 4 return values; one cost per epoch, within 1 % of the reference's; the
    cost falls; the parameters changed; the accuracies are those of the returned parameters
    (through the notebook's forward_propagation; when grading, the grader recomputes them with
    the reference's, on its own copy of the data, and checks that the returned parameters lower
    the training cost at least half as much as the reference's training does: ``recompute``;
    correct implementations that round differently end with parameters that differ by up to
    0.2, so the parameters themselves are not compared). Compared with the reference: with
    learning rate 0 the parameters stay at their initial values and each epoch's cost is the
    mean cost of those parameters over the training set (mini-batch costs weighted by their
    sizes).
    """

    name = "model"
    helpers = ("initialize_parameters", "forward_propagation", "compute_cost")
    helper_gradients = True  # model differentiates the cost through its helpers
    minibatch_size = 64  # model's default

    def inputs(self, n_train=1080, n_test=120, num_epochs=4, learning_rate=0.009):
        return {"n_train": n_train, "n_test": n_test, "num_epochs": num_epochs,
                "learning_rate": learning_rate}

    @staticmethod
    def _data(inputs) -> tuple[np.ndarray, ...]:
        X_train, Y_train, X_test, Y_test = _signs()
        n_train, n_test = inputs["n_train"], inputs["n_test"]
        return X_train[:n_train], Y_train[:n_train], X_test[:n_test], Y_test[:n_test]

    def call(self, fn, inputs):
        return _answer_or_raised(self._answer, fn, self._data(inputs), inputs["learning_rate"],
                                 inputs["num_epochs"])

    @staticmethod
    def _answer(fn, data, learning_rate, num_epochs) -> dict:
        result = _run(fn, *data, learning_rate=learning_rate, num_epochs=num_epochs,
                      print_cost=False)
        if not (isinstance(result, tuple) and len(result) == 4):
            return {"returns_four": False}
        train_accuracy, test_accuracy, parameters, costs = result
        frozen = _run(fn, *data, learning_rate=0.0, num_epochs=2, print_cost=False)
        return {"returns_four": True, "train_accuracy": _plain(train_accuracy),
                "test_accuracy": _plain(test_accuracy), "parameters": _values(parameters),
                "accuracies": Model._accuracies(fn, parameters, data),
                "costs": _numbers(costs), "frozen": _values(frozen[2]),
                "frozen_costs": _numbers(frozen[3])}

    @staticmethod
    def _accuracies(fn, parameters, data) -> list[float] | None:
        """[train, test] accuracy of ``parameters`` through the forward_propagation of ``fn``'s
        notebook (the reference one when grading); None unless they are W1, W2, W3 and b3."""
        if not isinstance(parameters, dict) or set(parameters) != set(PARAMETER_SHAPES):
            return None
        forward = getattr(fn, "python_function", fn).__globals__["forward_propagation"]
        X_train, Y_train, X_test, Y_test = data
        return [float(np.mean(np.argmax(_run(forward, tf.constant(X), parameters), 1)
                              == np.argmax(Y, 1))) for X, Y in ((X_train, Y_train),
                                                               (X_test, Y_test))]

    def recompute(self, inputs, got, expected, reference):
        """The accuracies of the returned parameters and their training cost, and the cost of
        the initial parameters, by the reference's forward_propagation and compute_cost."""
        parameters = got.get("parameters")
        if not (got.get("returns_four") and isinstance(parameters, dict)
                and set(parameters) == set(PARAMETER_SHAPES)
                and all(isinstance(parameters[k], np.ndarray) and parameters[k].shape == shape
                        for k, shape in PARAMETER_SHAPES.items())):
            return {"accuracies": None}
        forward, cost = reference("forward_propagation"), reference("compute_cost")
        X_train, Y_train, X_test, Y_test = self._data(inputs)

        def evaluated(values):
            tensors = {k: tf.constant(np.asarray(v, np.float32)) for k, v in values.items()}
            logits = [forward(tf.constant(X), tensors) for X in (X_train, X_test)]
            accuracies = [float(np.mean(np.argmax(z, 1) == np.argmax(Y, 1)))
                          for z, Y in zip(logits, (Y_train, Y_test))]
            return accuracies, float(cost(logits[0], tf.constant(Y_train)))

        accuracies, trained = evaluated(parameters)
        return {"accuracies": accuracies, "trained_cost": trained,
                "initial_cost": evaluated(expected["frozen"])[1],
                "reference_cost": evaluated(expected["parameters"])[1]}

    def compare(self, case, inputs, got, expected):
        fn, num_epochs = self.label(case), inputs["num_epochs"]
        _check_raised(fn, f"the first {inputs['n_train']} training and {inputs['n_test']} test "
                          "photographs of SIGNS", got)
        if not got["returns_four"]:
            raise AssertionError(f"{fn}: should return (train_accuracy, test_accuracy, "
                                 f"parameters, costs)")
        costs, parameters, initial = got["costs"], got["parameters"], expected["frozen"]
        _check_costs(fn, costs, num_epochs)
        for what, values in (("the trained parameters", parameters),
                             ("the parameters with learning_rate=0", got["frozen"])):
            if set(values) != set(PARAMETER_SHAPES):
                raise AssertionError(f"{fn}: {what} should be a dict with keys "
                                     f"{sorted(PARAMETER_SHAPES)}, got {sorted(values)}")
        frozen_costs = got["frozen_costs"]
        _check_costs(f"{fn} with learning_rate=0", frozen_costs, 2)
        mean = float(expected["frozen_costs"][0])  # the initial parameters' mean training cost
        batches = -(-inputs["n_train"] // self.minibatch_size)
        if batches > 1 and np.isclose(frozen_costs[0], batches * mean, rtol=2e-2):
            raise AssertionError(f"{fn}: the epoch cost is the sum of the {batches} mini-batch "
                                 f"costs ({frozen_costs[0]:.4f}, about {batches} x {mean:.4f}); "
                                 "average them: add cost * len(minibatch_X) / m for each "
                                 "mini-batch")
        if not np.isclose(frozen_costs[0], mean, rtol=1e-2):
            raise AssertionError(f"{fn}: with learning_rate=0 the epoch cost should be the mean "
                                 f"cost of the initial parameters over the training set, "
                                 f"{mean:.4f}; got {frozen_costs[0]:.4f} (add cost * "
                                 "len(minibatch_X) / m for each mini-batch)")
        if all(np.allclose(parameters[k], initial[k]) for k in PARAMETER_SHAPES):
            raise AssertionError(f"{fn}: the parameters did not change during training: are the "
                                 f"gradients applied to them (optimizer.apply_gradients)?")
        if not costs[-1] < costs[0] * (1 - 1e-3):
            raise AssertionError(f"{fn}: the cost did not fall in {num_epochs} epochs "
                                 f"(costs {np.round(costs, 4).tolist()}): are the gradients "
                                 f"applied to the parameters?")
        if "trained_cost" in got:  # recomputed by the grader
            progress = got["initial_cost"] - got["trained_cost"]
            expected_progress = got["initial_cost"] - got["reference_cost"]
            if not progress >= TRAINING_PROGRESS * expected_progress:
                raise AssertionError(
                    f"{fn}: the returned parameters bring the training cost from "
                    f"{got['initial_cost']:.4f} to {got['trained_cost']:.4f}; {num_epochs} "
                    f"epochs of Adam on mini-batches of {self.minibatch_size} bring it to about "
                    f"{got['reference_cost']:.4f}: train as the assignment says and return the "
                    "trained parameters")
        if got["accuracies"] is None:
            raise AssertionError(f"{fn}: the trained parameters should have the shapes "
                                 f"{PARAMETER_SHAPES}")
        # Adam's steps make the parameters of two correct implementations drift apart (by up
        # to 0.2 after 4 epochs when their costs round differently), their costs much less
        # (0.2 %): the epochs' costs must be the reference's within 1 %.
        check_close(fn, "cost of each epoch", costs, expected["costs"], rtol=1e-2, atol=0)
        for what, accuracy in zip(("train", "test"), got["accuracies"]):
            check_scalar(fn, f"{what} accuracy", got[f"{what}_accuracy"], accuracy, atol=1e-6)
        for name in PARAMETER_SHAPES:
            check_close(fn, f"{name} after training with learning_rate=0", got["frozen"][name],
                        initial[name], rtol=1e-6, atol=1e-7)


def _check_costs(fn: str, costs, num_epochs: int) -> None:
    """``costs`` must be one number per epoch."""
    if not isinstance(costs, np.ndarray) or costs.shape != (num_epochs,):
        count = costs.size if isinstance(costs, np.ndarray) else type_name(costs)
        raise AssertionError(f"{fn}: costs should hold one number per epoch ({num_epochs}), "
                             f"got {count}")


CHECKS = register(InitializeParameters(), ForwardPropagation(), ComputeCost(), Model())
check_initialize_parameters = CHECKS["initialize_parameters"].check
check_forward_propagation = CHECKS["forward_propagation"].check
check_compute_cost = CHECKS["compute_cost"].check
check_model = CHECKS["model"].check
