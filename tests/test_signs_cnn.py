"""Assignment 2's tests (utils/public_tests/signs_cnn.py): the reference answers agree with
independent methods on every case of the notebook; the checks pass the reference solution, in
the notebook and as the grader runs them, and fail typical mistakes with a message that names
the function and what is wrong."""

import os

import numpy as np
import pytest
from graded_cases import edited, failure, notebook_cases, solution, source_notebook

from utils import data
from utils.graded import decode, encode
from utils.public_tests import signs_cnn as t
from utils.signs import load_signs_dataset, prepare

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import tensorflow as tf

ASSIGNMENT = "C4W1A2_signs_cnn"
needs_signs = pytest.mark.skipif(not os.environ.get(data.MIRROR_ENV),
                                 reason=f"{data.MIRROR_ENV} is not set")
SMALL = {"n_train": 64, "n_test": 16, "num_epochs": 2}  # a quick training run


@pytest.fixture(scope="module")
def source():
    return source_notebook(ASSIGNMENT)


@pytest.fixture(scope="module")
def ref(source):
    """The reference solution's namespace (its imports and functions)."""
    return solution(source)


@pytest.fixture(scope="module")
def model_answers(ref, source):
    """[(case, the reference model's answer through call, as the grader receives it)] for the
    notebook's model cases (public and hidden)."""
    graded = t.CHECKS["model"]
    return [(case, decode(encode(graded.call(ref["model"], graded.inputs(**case.params)))))
            for case in notebook_cases(source)["model"]]


def seeded_glorot_values(seed: int = 1) -> dict[str, np.ndarray]:
    """The initial values the assignment asks for, by their definition: GlorotUniform(seed)
    draws of each weight's shape, in the order W1, W2, W3, and a zero bias b3 (6,)."""
    initializer = tf.keras.initializers.GlorotUniform(seed=seed)
    values = {name: np.array(initializer(shape=shape))
              for name, shape in t.PARAMETER_SHAPES.items() if name != "b3"}
    values["b3"] = np.zeros(t.PARAMETER_SHAPES["b3"], np.float32)
    return values


def keras_forward(X: np.ndarray, parameters: dict) -> np.ndarray:
    """Logits (m, 6) of the assignment's network written with Keras layers holding the given
    weights, for X (m, 64, 64, 3)."""
    layers = tf.keras.layers
    inputs = tf.keras.Input(shape=X.shape[1:])
    conv1 = layers.Conv2D(8, 4, padding="same", use_bias=False, activation="relu")
    conv2 = layers.Conv2D(16, 2, padding="same", use_bias=False, activation="relu")
    dense = layers.Dense(6)
    x = layers.MaxPooling2D(8, strides=8, padding="same")(conv1(inputs))
    x = layers.MaxPooling2D(4, strides=4, padding="same")(conv2(x))
    network = tf.keras.Model(inputs, dense(layers.Flatten()(x)))
    conv1.set_weights([parameters["W1"]])
    conv2.set_weights([parameters["W2"]])
    dense.set_weights([parameters["W3"], parameters["b3"]])
    return network(X, training=False).numpy()


def numpy_cost(logits: np.ndarray, labels: np.ndarray) -> float:
    """The mean softmax cross-entropy of logits (m, 6) and one-hot labels (m, 6), in numpy."""
    shifted = logits - logits.max(axis=1, keepdims=True)
    log_softmax = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    return float(np.mean(-np.sum(labels * log_softmax, axis=1)))


def close(got, expected, what: str) -> None:
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6, err_msg=what)


def test_the_reference_answers_agree_with_independent_methods(ref, source):
    """Every case but model's (see the next test), public and hidden: the reference solution's
    answer (what students are compared with) equals the independent computation."""
    glorot = seeded_glorot_values()
    cases = notebook_cases(source)
    for function in ("initialize_parameters", "forward_propagation", "compute_cost"):
        graded = t.CHECKS[function]
        for case in cases[function]:
            inputs = graded.inputs(**case.params)
            answer = graded.call(ref[function], inputs)
            what = f"{function} {case.params}"
            if function == "initialize_parameters":
                seeded = seeded_glorot_values(case.params["seed"]) if "seed" in case.params \
                    else glorot  # a hidden case draws the values of another seed
                for name, value in seeded.items():
                    close(answer["values"][name], value, f"{what} {name}")
                    close(answer["again"][name], value, f"{what} {name} of the second call")
            elif function == "forward_propagation":
                close(answer["Z3"], keras_forward(inputs["X"], inputs["parameters"]), what)
            else:
                close(answer["cost"], numpy_cost(inputs["logits"], inputs["labels"]), what)


@needs_signs
def test_the_reference_model_has_the_checked_properties(model_answers):
    """model is compared by properties and with the reference at learning rate 0: on every
    case, the reference starts from the seeded values, its learning-rate-0 epoch cost is the
    mean cost of those values over the training set's whole mini-batches, its accuracies are
    those of its
    parameters (Keras layers and numpy), and its cost falls."""
    glorot = seeded_glorot_values()
    X_all, Y_all, X_all_test, Y_all_test, _ = load_signs_dataset(verbose=False)
    (X_all, Y_all), (X_all_test, Y_all_test) = (prepare(X_all, Y_all),
                                                prepare(X_all_test, Y_all_test))
    graded = t.CHECKS["model"]
    for case, answer in model_answers:
        what = f"model {case.params}"
        X_train, Y_train, X_test, Y_test = graded._data(graded.inputs(**case.params))
        # the case's photographs: those of the dataset, centred as in the notebook
        for X, Y, every, labels in ((X_train, Y_train, X_all, Y_all),
                                    (X_test, Y_test, X_all_test, Y_all_test)):
            index = {(x - 0.5).tobytes(): i for i, x in enumerate(every)}
            rows = [index[x.tobytes()] for x in X]
            assert np.array_equal(labels[rows], Y), what
        for name, value in glorot.items():
            close(answer["frozen"][name], value, f"{what} {name} with learning_rate=0")
        whole = graded.frozen_size(len(X_train))  # the learning-rate-0 run's photographs
        assert whole % graded.minibatch_size == 0 and whole > len(X_train) - graded.minibatch_size
        mean = numpy_cost(keras_forward(X_train[:whole], glorot), Y_train[:whole])
        np.testing.assert_allclose(answer["frozen_costs"], [mean] * graded.frozen_epochs,
                                   rtol=1e-4, err_msg=what)
        for kind, X, Y in (("train", X_train, Y_train), ("test", X_test, Y_test)):
            logits = keras_forward(X, answer["parameters"])
            accuracy = float(np.mean(np.argmax(logits, 1) == np.argmax(Y, 1)))
            close(answer[f"{kind}_accuracy"], accuracy, f"{what} {kind} accuracy")
        assert answer["costs"][-1] < answer["costs"][0], what


def test_reference_passes_every_case_but_models(ref, source):
    """In the notebook (public cases) and as the grader compares (every case)."""
    failures = [f"{function} {case.params}: {text}"
                for function, function_cases in notebook_cases(source).items()
                if function != "model" for case in function_cases
                if (text := failure(t.CHECKS[function], ref[function], ref[function],
                                    case.params, case.hidden))]
    assert failures == []


@needs_signs
def test_reference_model_passes_in_the_notebook_and_for_the_grader(ref, model_answers):
    """The notebook's check of the public case, and the grader's comparison of every case (the
    reference's answer as both the student's and the expected one)."""
    for case, answer in model_answers:
        t.CHECKS["model"].compare(case.params, t.CHECKS["model"].inputs(**case.params), answer,
                                  answer)
        if not case.hidden:
            t.check_model(ref["model"], **case.params)


def message(ref, function: str, fn, public: bool = False, **case) -> str | None:
    """The failure message of ``fn`` on ``case``: the grader's, and the notebook's too for a
    ``public`` case of the notebook (they must agree)."""
    return failure(t.CHECKS[function], fn, ref[function], case, hidden=not public)


def test_a_plain_tensor_is_not_a_variable(ref):
    def initialize_parameters():
        return {k: tf.constant(v) for k, v in seeded_glorot_values().items()}
    assert message(ref, "initialize_parameters", initialize_parameters, public=True).startswith(
        "initialize_parameters: a parameter is a tensor, not a tf.Variable; wrap each one: "
        "tf.Variable(initializer(shape=...)).\ninitialize_parameters: W1 should be a "
        "tf.Variable")


def test_another_seed_is_reported(ref):
    def initialize_parameters():
        return {k: tf.Variable(v) for k, v in seeded_glorot_values(seed=0).items()}
    assert message(ref, "initialize_parameters", initialize_parameters, public=True).startswith(
        "initialize_parameters: the weights are not GlorotUniform(seed=1)'s; draw them from "
        "tf.keras.initializers.GlorotUniform(seed=1).\ninitialize_parameters: wrong W1 values")


def test_variables_kept_between_calls_are_reported(ref):
    kept = {}

    def initialize_parameters():  # the same variables on every call
        if not kept:
            kept.update(ref["initialize_parameters"]())
        return dict(kept)
    assert message(ref, "initialize_parameters", initialize_parameters, public=True) is None
    assert message(ref, "initialize_parameters", initialize_parameters,
                   change_first=True).startswith(
        "initialize_parameters: a second call returned other values after the first call's "
        "variables were changed; create new variables (tf.Variable)")


def test_a_missing_relu_is_reported(ref, source):
    forward_propagation = edited(source, "forward_propagation", "A2 = tf.nn.relu(Z2)", "A2 = Z2")
    assert message(ref, "forward_propagation", forward_propagation, m=7, seed=22).startswith(
        "forward_propagation: the second ReLU is missing; A2 = tf.nn.relu(Z2) comes before the "
        "second pooling.\nforward_propagation (m=7, seed=22): wrong logits values")


def test_logits_of_the_wrong_shape_are_reported(ref):
    assert message(ref, "forward_propagation", lambda X, p: tf.zeros((3, 64)),
                   public=True).startswith(
        "forward_propagation: wrong logits shape (3, 64), expected (3, 6)")


def test_a_summed_cost_is_reported(ref, source):
    compute_cost = edited(source, "compute_cost", "tf.reduce_mean(", "tf.reduce_sum(")
    expected = "compute_cost: the cost is the sum over the examples; return their mean"
    assert message(ref, "compute_cost", compute_cost, public=True).startswith(expected)
    assert message(ref, "compute_cost", compute_cost, m=64, seed=32).startswith(expected)


def test_a_cost_per_example_is_reported(ref):
    def compute_cost(Z3, Y):
        return tf.nn.softmax_cross_entropy_with_logits(labels=Y, logits=Z3)
    assert message(ref, "compute_cost", compute_cost, public=True).startswith(
        "compute_cost: one cost per example is returned; average them into one number with "
        "tf.reduce_mean.\ncompute_cost: cost should be a single number, got ndarray of shape "
        "(5,)")


def test_a_shape_error_names_the_function_its_input_and_the_likely_cause(ref):
    def compute_cost(Z3, Y):  # labels indexed with argmax without axis: shape (6,), not (m,)
        labels = tf.one_hot(tf.argmax(Y), 6)
        return tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits(labels=labels, logits=Z3))
    text = message(ref, "compute_cost", compute_cost, m=64, seed=32)
    assert text.startswith("compute_cost (m=64, seed=32) raised InvalidArgumentError on logits "
                           "and labels of shape (64, 6): "), text
    assert ": `return tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits(" in text, text
    assert text.endswith("Likely cause: tensors of different shapes were combined: check the "
                         "axis of reductions such as tf.argmax(..., axis=...) and "
                         "tf.reduce_mean(..., axis=...), and the shape given to tf.reshape"), text


def test_an_unfinished_exercise_says_so(ref):
    def forward_propagation(X, parameters):
        raise NotImplementedError("Replace this line with your code.")
    text = message(ref, "forward_propagation", forward_propagation, public=True)
    assert text.startswith("forward_propagation raised NotImplementedError on X of shape "
                           "(3, 64, 64, 3)"), text
    assert text.endswith("Likely cause: the exercise is not done yet: replace the "
                         "`raise NotImplementedError(...)` line with your code"), text


@needs_signs
def test_a_model_that_never_applies_the_gradients_is_reported(ref, source):
    model = edited(source, "model", "optimizer.apply_gradients(zip(gradients, variables))",
                   "pass")
    assert message(ref, "model", model, **SMALL).startswith(
        "model: the parameters never change: the gradients are not applied; apply them to the "
        "variables with optimizer.apply_gradients in train_step.\n"
        "model (n_train=64, n_test=16, num_epochs=2): the parameters did not change during "
        "training")


@needs_signs
def test_a_model_with_three_return_values_is_reported(ref):
    def model(X_train, Y_train, X_test, Y_test, learning_rate=0.009, num_epochs=100,
              minibatch_size=64, print_cost=True):
        return 0.0, 0.0, {}
    assert message(ref, "model", model, **SMALL).startswith(
        "model (n_train=64, n_test=16, num_epochs=2): should return (train_accuracy, ")


@needs_signs
def test_mini_batch_costs_summed_instead_of_averaged_are_reported(ref, source):
    model = edited(source, "model", "epoch_cost += float(minibatch_cost) * len(minibatch_X) / m",
                   "epoch_cost += float(minibatch_cost)")
    assert message(ref, "model", model, n_train=300, n_test=50, num_epochs=3,
                   learning_rate=0.02).startswith(
        "model: the epoch cost is the sum of the mini-batch costs; add cost * len(minibatch_X) "
        "/ m for each mini-batch, a weighted mean.\n"
        "model (n_train=300, n_test=50, num_epochs=3, learning_rate=0.02): with "
        "learning_rate=0 the epoch cost should be the mean cost")


@needs_signs
def test_float_of_an_array_names_the_numpy_2_cause(ref, source):
    model = edited(source, "model", "epoch_cost += float(minibatch_cost)",
                   "epoch_cost += float(np.ones(2) * minibatch_cost)")
    text = message(ref, "model", model, **SMALL)
    assert text.startswith("model (n_train=64, n_test=16, num_epochs=2) raised TypeError on the "
                           "first 64 training and 16 test photographs of SIGNS: "), text
    assert "Likely cause: float() or int() of an array" in text, text


def test_model_check_names_a_wrong_helper_first():
    namespace = {"tf": tf}
    exec("def initialize_parameters():\n    return {}\n\n"  # noqa: S102 (test code)
         "def model(*args, **kwargs):\n    return initialize_parameters()\n", namespace)
    for helper in ("forward_propagation", "compute_cost"):
        namespace[helper] = lambda *a: None
    with pytest.raises(AssertionError, match="model calls initialize_parameters, which is "
                                             "wrong: fix initialize_parameters first"):
        t.check_model(namespace["model"])


def test_the_grader_recomputes_a_models_accuracies_and_cost_itself(ref, model_answers):
    """A model that fakes its training (the initial parameters nudged, falling costs made up,
    accuracies consistent with what it returns) passes every check the kernel can answer for
    itself; the grader's recomputation with the reference's functions (``recompute``) fails it,
    and leaves an honest answer passing."""
    graded = t.CHECKS["model"]
    case, honest = next((c, a) for c, a in model_answers if c.hidden)
    inputs = graded.inputs(**case.params)
    functions = {name: ref[name] for name in ("forward_propagation", "compute_cost")}.get
    trusted = {**honest, **graded.recompute(inputs, honest, honest, functions)}
    graded.compare(case.params, inputs, trusted, honest)
    assert trusted["trained_cost"] < trusted["initial_cost"]
    rng = np.random.default_rng(0)
    nudged = {k: v + rng.normal(0, 0.05, v.shape).astype(np.float32)
              for k, v in honest["frozen"].items()}
    fake = {**honest, "parameters": nudged, "costs": honest["costs"],
            "accuracies": graded._accuracies(ref["model"], {k: tf.constant(v) for k, v
                                                            in nudged.items()},
                                              graded._data(inputs))}
    fake["train_accuracy"], fake["test_accuracy"] = fake["accuracies"]
    graded.compare(case.params, inputs, fake, honest)  # the kernel's own facts agree
    recomputed = {**fake, **graded.recompute(inputs, fake, honest, functions)}
    with pytest.raises(AssertionError, match="bring the training cost from"):
        graded.compare(case.params, inputs, recomputed, honest)
    # a few full-batch Adam steps instead of the epochs on mini-batches (a red team's model)
    X, Y = (tf.constant(a) for a in graded._data(inputs)[:2])
    variables = {k: tf.Variable(v) for k, v in honest["frozen"].items()}
    optimizer = tf.keras.optimizers.Adam(0.02)
    for _ in range(10):
        with tf.GradientTape() as tape:
            cost = ref["compute_cost"](ref["forward_propagation"](X, variables), Y)
        optimizer.apply_gradients(zip(tape.gradient(cost, list(variables.values())),
                                      variables.values()))
    accuracies = graded._accuracies(ref["model"], variables, graded._data(inputs))
    initial = float(ref["compute_cost"](ref["forward_propagation"](X, {
        k: tf.constant(v) for k, v in honest["frozen"].items()}), Y))
    stepped = {**fake, "parameters": {k: v.numpy() for k, v in variables.items()},
               "accuracies": accuracies, "train_accuracy": accuracies[0],
               "test_accuracy": accuracies[1],  # and costs made up: it knows no better
               "costs": np.array([initial * (1 - 0.01 * e) for e in range(len(fake["costs"]))])}
    recomputed = {**stepped, **graded.recompute(inputs, stepped, honest, functions)}
    assert recomputed["trained_cost"] < recomputed["initial_cost"]  # it did lower the cost
    with pytest.raises(AssertionError, match="wrong cost of each epoch values"):
        graded.compare(case.params, inputs, recomputed, honest)


@needs_signs
def test_a_seeded_model_case_draws_its_photographs_afresh():
    """Without a seed, a model case trains on the first photographs; with one, on photographs
    that seed draws (a hidden case's seed is fresh on every grading run), the same for the
    kernel and the grader."""
    graded = t.CHECKS["model"]
    first = graded._data(graded.inputs(n_train=200, n_test=40))
    drawn = [graded._data(graded.inputs(n_train=200, n_test=40, seed=seed)) for seed in (5, 5, 6)]
    X_train, _, X_test, _ = t._signs()
    assert np.array_equal(first[0], X_train[:200]) and np.array_equal(first[2], X_test[:40])
    assert all(np.array_equal(a, b) for a, b in zip(drawn[0], drawn[1]))
    assert not np.array_equal(drawn[0][0], drawn[2][0])
    assert not np.array_equal(drawn[0][0], first[0])
    assert [part.shape[0] for part in drawn[2]] == [200, 200, 40, 40]
