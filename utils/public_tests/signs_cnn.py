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

TensorFlow is imported where a function runs it, not with the module: in a kernel (whose
notebook has imported it already) and in the grader's reference process (``recompute``), never
in a grading worker, which only compares plain data.

A function that raises gets a message naming the function, its input, the line that raised and
the likely cause (``utils.student_errors``). The classic mistakes of each exercise are named
(``mistakes``, see ``utils.mistakes``), some of them through probes, other inputs the function
is also called on: forward_propagation with weights of chosen signs (a ReLU that is missing shows
as logits of the wrong sign, the reference's being zero), compute_cost with its arguments
exchanged or transposed.
"""

from __future__ import annotations

import contextlib
import functools
import io
import logging
import sys

import numpy as np

from utils.checks import answer, check_close, check_scalar, check_shape, type_name
from utils.graded import GradedFunction, register
from utils.i18n import N_, _
from utils.mistakes import Mistake, close, differs, scalar, shape
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


@contextlib.contextmanager
def _glorot_seed(seed: int | None):
    """While the block runs, every GlorotUniform initializer (Keras's, which tf.keras names
    too), made before or during the block, draws with ``seed`` whatever seed it was made with;
    nothing changes when ``seed`` is None."""
    if seed is None:
        yield
        return
    import tensorflow as tf

    initializer = tf.keras.initializers.GlorotUniform
    own = initializer.__dict__.get("__call__")  # None: inherited from VarianceScaling
    draw = initializer.__call__

    def seeded(self, *args, **kwargs):
        made_with, self.seed = self.seed, seed
        try:
            return draw(self, *args, **kwargs)
        finally:
            self.seed = made_with

    initializer.__call__ = seeded
    try:
        yield
    finally:
        if own is None:
            del initializer.__call__
        else:
            initializer.__call__ = own


@contextlib.contextmanager
def _quiet_retracing():
    """While the block runs, TensorFlow does not warn that a tf.function is traced again:
    the notebook's model makes its train_step anew on each call, and a check calls model
    several times in a row (the warning is about the check, not about the student's code)."""
    import tensorflow as tf

    logger = tf.get_logger()
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


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
    tf = sys.modules.get("tensorflow")  # not imported: the value cannot be a tensor
    if tf is not None and isinstance(value, (tf.Tensor, tf.Variable)):
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

    def inputs(self, change_first=False, seed=None):
        """``change_first``: set the first call's variables to zero before the second call;
        ``seed``: every GlorotUniform made during the calls uses this seed instead of its own
        (the values then follow the seed, which a copy of the public answer cannot)."""
        return {"change_first": change_first, "seed": seed}

    def call(self, fn, inputs):
        with _glorot_seed(inputs.get("seed")):
            return _answer_or_raised(self._answer, fn, inputs["change_first"])

    @staticmethod
    def _answer(fn, change_first: bool) -> dict:
        import tensorflow as tf

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

    def assert_answer(self, case, inputs, got, expected):
        fn = self.name
        _check_raised(self.label(case), _("no arguments"), got)
        if not got["is_dict"] or set(got["keys"]) != set(PARAMETER_SHAPES):
            keys = got["keys"] if got["is_dict"] else got["type"]
            raise AssertionError(_("{fn}: should return a dict with keys {keys}, got {got}").format(
                fn=fn, keys=sorted(PARAMETER_SHAPES), got=keys))
        for name in sorted(PARAMETER_SHAPES):
            facts = got["facts"][name]
            if not facts["variable"]:
                raise AssertionError(_("{fn}: {name} should be a tf.Variable (so that it can be "
                                       "trained), got {type}").format(fn=fn, name=name,
                                                                      type=facts["dtype"]))
            if facts["dtype"] != "float32":
                raise AssertionError(_("{fn}: {name} should be float32, got {dtype}").format(
                    fn=fn, name=name, dtype=facts["dtype"]))
            if not facts["trainable"]:
                raise AssertionError(_("{fn}: {name} should be trainable (tf.Variable's "
                                       "default)").format(fn=fn, name=name))
            check_close(fn, name, got["values"][name], expected["values"][name], rtol=1e-6,
                        atol=1e-7)
        if not got["distinct"]:
            raise AssertionError(_("{fn}: W1, W2, W3 and b3 should be four distinct "
                                   "variables").format(fn=fn))
        again = got["again"]
        if set(again) != set(PARAMETER_SHAPES) or not all(
                np.array_equal(np.asarray(again[k]), got["values"][k]) for k in PARAMETER_SHAPES):
            raise AssertionError((
                _("{fn}: a second call returned other values after the first call's variables "
                  "were changed; create new variables (tf.Variable) on every call")
                if inputs["change_first"]
                else _("{fn}: two calls gave different values; use the fixed seed 1")).format(
                fn=fn))

    @staticmethod
    def _not_variable(inputs, got, expected):
        return got["is_dict"] and not all(f["variable"] for f in got["facts"].values())

    @staticmethod
    def _other_initializer(inputs, got, expected):
        weights = [k for k in PARAMETER_SHAPES if k != "b3"]
        values = [got["values"].get(k) for k in weights]
        return (all(shape(v) == PARAMETER_SHAPES[k] for k, v in zip(weights, values))
                and all(np.abs(v).max() <= _glorot_limit(v.shape) for v in values)
                and any(differs(v, expected["values"][k]) for k, v in zip(weights, values)))

    @staticmethod
    def _b3_not_zero(inputs, got, expected):
        values = got["values"]
        return (all(close(values.get(k), expected["values"][k]) for k in ("W1", "W2", "W3"))
                and shape(values.get("b3")) == (6,) and np.any(values["b3"] != 0))

    @staticmethod
    def _reversed_shape(inputs, got, expected):
        return any(len(s) > 1 and shape(got["values"].get(k)) == s[::-1]
                   for k, s in PARAMETER_SHAPES.items())

    mistakes = (
        Mistake("not_variable", N_("a parameter is a tensor, not a tf.Variable"),
                N_("wrap each one: tf.Variable(initializer(shape=...))"), _not_variable),
        Mistake("other_initializer", N_("the weights are not GlorotUniform(seed=1)'s"),
                N_("draw them from tf.keras.initializers.GlorotUniform(seed=1)"),
                _other_initializer),
        Mistake("b3_not_zero", N_("b3 does not start at zero"), N_("create it with tf.zeros((6,))"),
                _b3_not_zero),
        Mistake("reversed_shape", N_("a parameter's shape is reversed"),
                N_("W3 is (64, 6): the 64 inputs first, then the 6 outputs"), _reversed_shape),
    )


def _glorot_limit(shape: tuple) -> float:
    """The bound of GlorotUniform's draws for a kernel of ``shape`` (a little above it, for
    float32 rounding): sqrt(6 / (fan_in + fan_out)), the receptive field counting in both."""
    receptive = int(np.prod(shape[:-2])) if len(shape) > 2 else 1
    return float(np.sqrt(6 / (receptive * (shape[-2] + shape[-1])))) * (1 + 1e-6)


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

    # Probes: W1 and W2 of the given signs, W3 averaging the 64 features, b3 zero. With W1 <= 0
    # the first ReLU gives zeros, with W1 >= 0 and W2 <= 0 the second one does, so the
    # reference's logits are zero, and a missing ReLU makes them positive (the first one: the
    # negative pooled values meet W2 <= 0) or negative (the second one).
    RELU_PROBES = {"relu1": (-1, -1), "relu2": (1, -1)}

    def call(self, fn, inputs):
        """The logits, and those of the RELU_PROBES (None when the function raises)."""
        import tensorflow as tf

        parameters = {name: tf.Variable(value) for name, value in inputs["parameters"].items()}
        got = _answer_or_raised(lambda: {"Z3": _plain(_run(fn, tf.constant(inputs["X"]),
                                                           parameters))})
        if "raised" not in got:
            got["probes"] = {name: self._probe(fn, inputs, signs)
                             for name, signs in self.RELU_PROBES.items()}
        return got

    @staticmethod
    def _probe(fn, inputs, signs):
        import tensorflow as tf

        w = inputs["parameters"]
        parameters = {"W1": tf.Variable(signs[0] * np.abs(w["W1"])),
                      "W2": tf.Variable(signs[1] * np.abs(w["W2"])),
                      "W3": tf.Variable(np.full((64, 6), 1 / 64, np.float32)),
                      "b3": tf.Variable(np.zeros(6, np.float32))}
        value, raised = capture(fn, tf.constant(inputs["X"]), parameters)
        return None if raised else _plain(value)

    def assert_answer(self, case, inputs, got, expected):
        _check_raised(self.label(case), _("X of shape {shape}").format(shape=inputs["X"].shape),
                      got)
        m = inputs["X"].shape[0]
        check_shape(self.label(case), _("logits"), got["Z3"], (m, 6))
        check_close(self.label(case), _("logits"), got["Z3"], expected["Z3"], rtol=1e-4,
                    atol=1e-5)

    @staticmethod
    def _no_bias(inputs, got, expected):
        return close(got["Z3"], expected["Z3"] - inputs["parameters"]["b3"], rtol=1e-4,
                     atol=1e-5)

    @staticmethod
    def _softmax(inputs, got, expected):
        z = np.exp(expected["Z3"] - expected["Z3"].max(axis=1, keepdims=True))
        return close(got["Z3"], z / z.sum(axis=1, keepdims=True), rtol=1e-4, atol=1e-6)

    @staticmethod
    def _relu_output(inputs, got, expected):
        return (differs(got["Z3"], expected["Z3"])
                and close(got["Z3"], np.maximum(expected["Z3"], 0), rtol=1e-4, atol=1e-5))

    @staticmethod
    def _relu_missing(probe: str, other: str, sign: int):
        """A recogniser: the logits of ``probe`` have the sign ``sign`` where the reference's
        are zero, those of the ``other`` probe being the reference's."""
        def seen(inputs, got, expected):
            probes, wanted = got["probes"], expected["probes"]
            return (not np.any(wanted[probe]) and close(probes[other], wanted[other], atol=1e-6)
                    and bool(np.all(sign * np.asarray(probes[probe]) > 1e-6)))
        return seen

    mistakes = (
        Mistake("no_bias", N_("the bias b3 is missing"), N_("add b3 to the product of F and W3"),
                _no_bias),
        Mistake("softmax", N_("the result is probabilities (a softmax), not logits"),
                N_("return Z3 itself: compute_cost applies the softmax"), _softmax),
        Mistake("relu_output", N_("a ReLU is applied to the logits"),
                N_("the last layer is linear: no activation after the product and b3"),
                _relu_output),
        Mistake("relu1_missing", N_("the first ReLU is missing"),
                N_("A1 = tf.nn.relu(Z1) comes before the first pooling"),
                _relu_missing("relu1", "relu2", 1)),
        Mistake("relu2_missing", N_("the second ReLU is missing"),
                N_("A2 = tf.nn.relu(Z2) comes before the second pooling"),
                _relu_missing("relu2", "relu1", -1)),
    )


class ComputeCost(GradedFunction):
    """The mean over examples of the softmax cross-entropy of the logits and one-hot labels."""

    name = "compute_cost"

    def inputs(self, m=5, seed=3):
        rng = np.random.default_rng(seed)
        logits = rng.standard_normal((m, 6)).astype(np.float32) * 3
        labels = np.eye(6, dtype=np.float32)[rng.integers(0, 6, m)]
        return {"logits": logits, "labels": labels}

    def call(self, fn, inputs):
        """The cost, and two probes: the cost with the arguments exchanged
        (``arguments_exchanged``), and with both transposed (``transposed``)."""
        import tensorflow as tf

        logits, labels = tf.constant(inputs["logits"]), tf.constant(inputs["labels"])
        got = _answer_or_raised(lambda: {"cost": _plain(_run(fn, logits, labels))})
        if "raised" not in got:
            probes = {"arguments_exchanged": (labels, logits),
                      "transposed": (tf.transpose(logits), tf.transpose(labels))}
            got["probes"] = {name: None if raised else _plain(value) for name, (value, raised)
                             in ((n, capture(fn, *args)) for n, args in probes.items())}
        return got

    def assert_answer(self, case, inputs, got, expected):
        _check_raised(self.label(case), _("logits and labels of shape {shape}").format(
            shape=inputs["logits"].shape), got)
        check_scalar(self.label(case), _("cost"), got["cost"], float(expected["cost"]),
                     rtol=1e-4, atol=1e-6)

    @staticmethod
    def _summed(inputs, got, expected):
        m = inputs["logits"].shape[0]
        return m > 1 and close(scalar(got["cost"]), m * float(expected["cost"]))

    @staticmethod
    def _per_example(inputs, got, expected):
        cost = got["cost"]
        return (inputs["logits"].shape[0] > 1 and shape(cost) == inputs["logits"].shape[:1]
                and close(np.mean(cost), float(expected["cost"])))

    @staticmethod
    def _probe(name: str):
        """A recogniser: the cost is the reference's cost of the probe ``name``."""
        def seen(inputs, got, expected):
            return (differs(scalar(got["cost"]), float(expected["cost"]))
                    and close(scalar(got["cost"]), scalar(expected["probes"][name])))
        return seen

    mistakes = (
        Mistake("summed", N_("the cost is the sum over the examples"), N_("return their mean, "
                "tf.reduce_mean"), _summed),
        Mistake("per_example", N_("one cost per example is returned"),
                N_("average them into one number with tf.reduce_mean"), _per_example),
        Mistake("arguments_exchanged", N_("labels and logits are exchanged"),
                N_("pass labels=Y and logits=Z3"), _probe("arguments_exchanged")),
        Mistake("transposed", N_("the logits and labels are transposed (the old (6, m) layout)"),
                N_("here they are (m, 6): pass them as they are"), _probe("transposed")),
    )


def _numbers(values):
    """A list of numbers (Python floats, numpy scalars or 0-d tensors) as a float64 array."""
    try:
        return np.array([float(_plain(v)) for v in values], np.float64)
    except (TypeError, ValueError):
        return answer(values)


@functools.lru_cache(maxsize=1)
def _signs() -> tuple[np.ndarray, ...]:
    """SIGNS through the data layer, prepared as in the notebook (pixels scaled, then centred
    on 0): X_train (1080, 64, 64, 3), Y_train (1080, 6), X_test (120, 64, 64, 3),
    Y_test (120, 6); read-only."""
    with contextlib.redirect_stdout(io.StringIO()):
        X_train, Y_train, X_test, Y_test, _ = load_signs_dataset(verbose=False)
    (X_train, Y_train), (X_test, Y_test) = prepare(X_train, Y_train), prepare(X_test, Y_test)
    arrays = (X_train - 0.5, Y_train, X_test - 0.5, Y_test)
    for array in arrays:
        array.setflags(write=False)
    return arrays


class Model(GradedFunction):
    """A short training run on ``n_train`` training and ``n_test`` test SIGNS photographs: the
    first ones, or, with ``seed``, ones drawn with that seed (a hidden case's are fresh on every
    grading run). The run is short on purpose: 300 photographs and 4 epochs show every checked
    property, and a grader runs it once per submission.

    Checked properties: 4 return values; one cost per epoch, within 1 % of the reference's; the
    cost falls; the parameters changed; the accuracies are those of the returned parameters
    (through the notebook's forward_propagation; when grading, the grader recomputes them with
    the reference's, on its own copy of the data, and checks that the returned parameters lower
    the training cost at least half as much as the reference's training does: ``recompute``;
    correct implementations that round differently end with parameters that differ by up to
    0.2, so the parameters themselves are not compared). Compared with the reference: with
    learning rate 0 (on the first whole mini-batches, ``frozen_size``) the parameters stay at
    their initial values and each epoch's cost is the mean cost of those parameters over the
    training set (mini-batch costs weighted by their sizes).
    """

    name = "model"
    helpers = ("initialize_parameters", "forward_propagation", "compute_cost")
    helper_gradients = True  # model differentiates the cost through its helpers
    minibatch_size = 64  # model's default
    frozen_epochs = 1  # of the run with learning rate 0

    def inputs(self, n_train=300, n_test=60, num_epochs=4, learning_rate=0.009, seed=None):
        return {"n_train": n_train, "n_test": n_test, "num_epochs": num_epochs,
                "learning_rate": learning_rate, "seed": seed}

    @staticmethod
    def _data(inputs) -> tuple[np.ndarray, ...]:
        """X_train, Y_train, X_test, Y_test of the case: the first photographs, or those its
        seed draws (in their order in the dataset)."""
        X_train, Y_train, X_test, Y_test = _signs()
        rng = None if inputs.get("seed") is None else np.random.default_rng(inputs["seed"])

        def chosen(total: int, count: int) -> np.ndarray:
            if rng is None:
                return np.arange(min(count, total))
            return np.sort(rng.choice(total, min(count, total), replace=False))
        train, test = chosen(len(X_train), inputs["n_train"]), chosen(len(X_test),
                                                                      inputs["n_test"])
        return X_train[train], Y_train[train], X_test[test], Y_test[test]

    def call(self, fn, inputs):
        with _quiet_retracing():
            return _answer_or_raised(self._answer, fn, self._data(inputs),
                                     inputs["learning_rate"], inputs["num_epochs"])

    @staticmethod
    def _answer(fn, data, learning_rate, num_epochs) -> dict:
        result = _run(fn, *data, learning_rate=learning_rate, num_epochs=num_epochs,
                      print_cost=False)
        if not (isinstance(result, tuple) and len(result) == 4):
            return {"returns_four": False}
        train_accuracy, test_accuracy, parameters, costs = result
        X_train, Y_train, X_test, Y_test = data
        whole = Model.frozen_size(len(X_train))
        frozen = _run(fn, X_train[:whole], Y_train[:whole], X_test, Y_test, learning_rate=0.0,
                      num_epochs=Model.frozen_epochs, print_cost=False)
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
        import tensorflow as tf

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
        import tensorflow as tf

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

    def assert_answer(self, case, inputs, got, expected):
        fn, num_epochs = self.label(case), inputs["num_epochs"]
        _check_raised(fn, (_("the first {train} training and {test} test photographs of SIGNS")
                           if inputs.get("seed") is None else
                           _("{train} training and {test} test photographs of SIGNS")).format(
            train=inputs["n_train"], test=inputs["n_test"]), got)
        if not got["returns_four"]:
            raise AssertionError(_("{fn}: should return ({names})").format(
                fn=fn, names="train_accuracy, test_accuracy, parameters, costs"))
        costs, parameters, initial = got["costs"], got["parameters"], expected["frozen"]
        _check_costs(fn, costs, num_epochs)
        for what, values in ((_("the trained parameters"), parameters),
                             (_("the parameters with learning_rate=0"), got["frozen"])):
            if set(values) != set(PARAMETER_SHAPES):
                raise AssertionError(_("{fn}: {what} should be a dict with keys {keys}, got "
                                       "{got}").format(fn=fn, what=what,
                                                       keys=sorted(PARAMETER_SHAPES),
                                                       got=sorted(values)))
        frozen_costs = got["frozen_costs"]
        _check_costs(_("{fn} with learning_rate=0").format(fn=fn), frozen_costs,
                     self.frozen_epochs)
        mean = float(expected["frozen_costs"][0])  # the initial parameters' mean training cost
        if not np.isclose(frozen_costs[0], mean, rtol=1e-2):
            raise AssertionError(_("{fn}: with learning_rate=0 the epoch cost should be the mean "
                                   "cost of the initial parameters over the training set, "
                                   "{mean:.4f}; got {got:.4f}").format(fn=fn, mean=mean,
                                                                      got=frozen_costs[0]))
        if all(np.allclose(parameters[k], initial[k]) for k in PARAMETER_SHAPES):
            raise AssertionError(_("{fn}: the parameters did not change during training").format(
                fn=fn))
        if not costs[-1] < costs[0] * (1 - 1e-3):
            raise AssertionError(_("{fn}: the cost did not fall in {epochs} epochs (costs "
                                   "{costs}): are the gradients applied to the "
                                   "parameters?").format(fn=fn, epochs=num_epochs,
                                                         costs=np.round(costs, 4).tolist()))
        if "trained_cost" in got:  # recomputed by the grader
            progress = got["initial_cost"] - got["trained_cost"]
            expected_progress = got["initial_cost"] - got["reference_cost"]
            if not progress >= TRAINING_PROGRESS * expected_progress:
                raise AssertionError(_(
                    "{fn}: the returned parameters bring the training cost from {initial:.4f} "
                    "to {trained:.4f}; {epochs} epochs of Adam on mini-batches of {size} bring "
                    "it to about {reference:.4f}: train as the assignment says and return the "
                    "trained parameters").format(
                    fn=fn, initial=got["initial_cost"], trained=got["trained_cost"],
                    epochs=num_epochs, size=self.minibatch_size,
                    reference=got["reference_cost"]))
        if got["accuracies"] is None:
            raise AssertionError(_("{fn}: the trained parameters should have the shapes "
                                   "{shapes}").format(fn=fn, shapes=PARAMETER_SHAPES))
        # Adam's steps make the parameters of two correct implementations drift apart (by up
        # to 0.2 after 4 epochs when their costs round differently), their costs much less
        # (0.2 %): the epochs' costs must be the reference's within 1 %.
        check_close(fn, _("cost of each epoch"), costs, expected["costs"], rtol=1e-2, atol=0)
        for what, accuracy in zip(("train", "test"), got["accuracies"]):
            check_scalar(fn, f"{what}_accuracy", got[f"{what}_accuracy"], accuracy, atol=1e-6)
        for name in PARAMETER_SHAPES:
            check_close(fn, _("{name} after training with learning_rate=0").format(name=name),
                        got["frozen"][name], initial[name], rtol=1e-6, atol=1e-7)


    @staticmethod
    def frozen_size(n_train: int) -> int:
        """The training photographs of the run with learning rate 0: the first whole
        mini-batches (all of them when there are fewer), so that its training step is traced
        once, for one batch shape. The training run's last batch is smaller, which shows a
        cost weighted by ``minibatch_size`` instead of each batch's size."""
        return max(n_train - n_train % Model.minibatch_size, min(n_train, Model.minibatch_size))

    def _frozen_batches(self, inputs) -> int:
        return -(-self.frozen_size(inputs["n_train"]) // self.minibatch_size)

    @staticmethod
    def _not_applied(inputs, got, expected):
        parameters = got["parameters"]
        return (set(parameters) == set(PARAMETER_SHAPES)
                and all(close(parameters[k], expected["frozen"][k], rtol=1e-5, atol=1e-7)
                        for k in PARAMETER_SHAPES))

    @staticmethod
    def _epoch_cost(times):
        """A recogniser: with learning rate 0, the epoch cost is ``times(model, inputs)``
        times the initial parameters' mean cost."""
        def seen(inputs, got, expected):
            factor = times(CHECKS["model"], inputs)
            return (not np.isclose(factor, 1) and close(
                got["frozen_costs"][0], factor * float(expected["frozen_costs"][0]), rtol=2e-2))
        return seen

    @staticmethod
    def _accuracies_exchanged(inputs, got, expected):
        train, test = got["accuracies"]
        return (not np.isclose(train, test) and close(scalar(got["train_accuracy"]), test)
                and close(scalar(got["test_accuracy"]), train))

    mistakes = (
        Mistake("not_applied", N_("the parameters never change: the gradients are not applied"),
                N_("apply them to the variables with optimizer.apply_gradients in train_step"),
                _not_applied),
        Mistake("summed_costs", N_("the epoch cost is the sum of the mini-batch costs"),
                N_("add cost * len(minibatch_X) / m for each mini-batch, a weighted mean"),
                _epoch_cost(lambda model, inputs: model._frozen_batches(inputs))),
        Mistake("divided_by_m", N_("each mini-batch cost is divided by m without its size"),
                N_("add cost * len(minibatch_X) / m: a mini-batch's cost is its mean already"),
                _epoch_cost(lambda model, inputs: model._frozen_batches(inputs)
                            / model.frozen_size(inputs["n_train"]))),
        Mistake("accuracies_exchanged", N_("the train and test accuracies are exchanged"),
                N_("return train_accuracy, test_accuracy, parameters, costs in this order"),
                _accuracies_exchanged),
    )


def _check_costs(fn: str, costs, num_epochs: int) -> None:
    """``costs`` must be one number per epoch."""
    if not isinstance(costs, np.ndarray) or costs.shape != (num_epochs,):
        count = costs.size if isinstance(costs, np.ndarray) else type_name(costs)
        raise AssertionError(_("{fn}: costs should hold one number per epoch ({epochs}), got "
                               "{count}").format(fn=fn, epochs=num_epochs, count=count))


CHECKS = register(InitializeParameters(), ForwardPropagation(), ComputeCost(), Model())
check_initialize_parameters = CHECKS["initialize_parameters"].check
check_forward_propagation = CHECKS["forward_propagation"].check
check_compute_cost = CHECKS["compute_cost"].check
check_model = CHECKS["model"].check
