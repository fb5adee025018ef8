"""Assignment 2's tests (utils/public_tests/signs_cnn.py): they pass the reference solution on
every case of the notebook, in the notebook and as the grader runs them, and fail typical
mistakes with a message that names the function and what is wrong."""

import os

import pytest
from graded_helpers import all_cases, grade

from utils import data
from utils.course import assignments
from utils.course.grading import reference_answers
from utils.course.reference import reference_functions, run_reference
from utils.public_tests import signs_cnn as t

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import tensorflow as tf

ASSIGNMENT = "C4W1A2_signs_cnn"
FUNCTIONS = ["initialize_parameters", "forward_propagation", "compute_cost", "model"]
needs_signs = pytest.mark.skipif(not os.environ.get(data.MIRROR_ENV),
                                 reason=f"{data.MIRROR_ENV} is not set")


@pytest.fixture(scope="module")
def ref():
    """The reference solution's functions, loaded from the source notebook."""
    return reference_functions(ASSIGNMENT, FUNCTIONS)


@pytest.mark.parametrize("function,case", [c for c in all_cases(ASSIGNMENT) if c[0] != "model"])
def test_reference_passes_every_case(ref, function, case):
    t.CHECKS[function].check(ref[function], **case)
    grade(t.CHECKS[function], ref[function], ref[function], **case)


@needs_signs
def test_reference_model_passes_in_the_notebook_and_for_the_grader(ref):
    cases = [case for function, case in all_cases(ASSIGNMENT) if function == "model"]
    assert len(cases) == 2
    t.check_model(ref["model"], **cases[0])
    grade(t.CHECKS["model"], ref["model"], ref["model"], **cases[1])


def test_a_plain_tensor_is_not_a_variable(ref):
    def initialize_parameters():
        return {k: tf.constant(v) for k, v in t.seeded_glorot_values().items()}
    message = "initialize_parameters: W1 should be a tf.Variable"
    with pytest.raises(AssertionError, match=message):
        t.check_initialize_parameters(initialize_parameters)
    with pytest.raises(AssertionError, match=message):
        grade(t.CHECKS["initialize_parameters"], initialize_parameters,
              ref["initialize_parameters"])


def test_another_seed_is_reported(ref):
    def initialize_parameters():
        initializer = tf.keras.initializers.GlorotUniform(seed=0)
        return {k: tf.Variable(initializer(shape=s) if k != "b3" else tf.zeros(s))
                for k, s in t.PARAMETER_SHAPES.items()}
    with pytest.raises(AssertionError, match=r"initialize_parameters: wrong W1 values"):
        grade(t.CHECKS["initialize_parameters"], initialize_parameters,
              ref["initialize_parameters"])


def test_variables_kept_between_calls_are_reported(ref):
    kept = {}

    def initialize_parameters():  # the same variables on every call
        if not kept:
            kept.update(ref["initialize_parameters"]())
        return dict(kept)
    t.check_initialize_parameters(initialize_parameters)  # equal values on two calls: passes
    with pytest.raises(AssertionError, match="initialize_parameters: a second call returned "
                                             "other values after the first call's variables "
                                             "were changed; create new tf.Variables"):
        grade(t.CHECKS["initialize_parameters"], initialize_parameters,
              ref["initialize_parameters"], change_first=True)


def test_a_missing_relu_is_reported(ref):
    def forward_propagation(X, parameters):
        Z1 = tf.nn.conv2d(X, parameters["W1"], strides=1, padding="SAME")
        P1 = tf.nn.max_pool2d(tf.nn.relu(Z1), ksize=8, strides=8, padding="SAME")
        Z2 = tf.nn.conv2d(P1, parameters["W2"], strides=1, padding="SAME")
        P2 = tf.nn.max_pool2d(Z2, ksize=4, strides=4, padding="SAME")
        return tf.matmul(tf.reshape(P2, (tf.shape(P2)[0], -1)), parameters["W3"]) + \
            parameters["b3"]
    message = r"forward_propagation \(m=7, seed=22\): wrong logits values"
    with pytest.raises(AssertionError, match=message):
        t.check_forward_propagation(forward_propagation, m=7, seed=22)
    with pytest.raises(AssertionError, match=message):
        grade(t.CHECKS["forward_propagation"], forward_propagation, ref["forward_propagation"],
              m=7, seed=22)


def test_logits_of_the_wrong_shape_are_reported():
    with pytest.raises(AssertionError, match=r"wrong logits shape \(3, 64\), expected \(3, 6\)"):
        t.check_forward_propagation(lambda X, p: tf.zeros((3, 64)))


def test_a_summed_cost_is_reported(ref):
    def compute_cost(Z3, Y):
        return tf.reduce_sum(tf.nn.softmax_cross_entropy_with_logits(labels=Y, logits=Z3))
    message = "compute_cost: you returned the sum over the examples"
    with pytest.raises(AssertionError, match=message):
        t.check_compute_cost(compute_cost)
    with pytest.raises(AssertionError, match=message):
        grade(t.CHECKS["compute_cost"], compute_cost, ref["compute_cost"], m=64, seed=32)


def test_a_cost_per_example_is_reported():
    def compute_cost(Z3, Y):
        return tf.nn.softmax_cross_entropy_with_logits(labels=Y, logits=Z3)
    with pytest.raises(AssertionError, match=r"compute_cost: cost should be a single number, "
                                             r"got ndarray of shape \(5,\)"):
        t.check_compute_cost(compute_cost)


@needs_signs
def test_a_model_that_never_applies_the_gradients_is_reported(ref):
    model = reference_model_edited("optimizer.apply_gradients(zip(gradients, variables))",
                                   "pass")
    with pytest.raises(AssertionError, match=r"model \(n_train=64, n_test=16, num_epochs=2\): "
                                             r"the parameters did not change during training"):
        grade(t.CHECKS["model"], model, ref["model"], n_train=64, n_test=16, num_epochs=2)


@needs_signs
def test_a_model_with_three_return_values_is_reported(ref):
    def model(X_train, Y_train, X_test, Y_test, learning_rate=0.009, num_epochs=100,
              minibatch_size=64, print_cost=True):
        return 0.0, 0.0, {}
    with pytest.raises(AssertionError, match=r"model \(n_train=64, n_test=16, num_epochs=2\): "
                                             r"should return \(train_accuracy, "):
        grade(t.CHECKS["model"], model, ref["model"], n_train=64, n_test=16, num_epochs=2)


def reference_model_edited(old: str, new: str):
    """The reference ``model`` with ``old`` replaced by ``new`` in its code, defined in the
    reference solution's namespace (so it calls the reference helpers)."""
    import nbformat
    source = nbformat.read(assignments.get(ASSIGNMENT).source_notebook, as_version=4)
    code = reference_answers(source)["model"]
    assert old in code
    namespace = run_reference(source)
    exec(code.replace(old, new), namespace)  # noqa: S102 (test code)
    return namespace["model"]


@needs_signs
def test_mini_batch_costs_summed_instead_of_averaged_are_reported(ref):
    model = reference_model_edited("epoch_cost += float(minibatch_cost) * len(minibatch_X) / m",
                                   "epoch_cost += float(minibatch_cost)")
    case = {"n_train": 300, "n_test": 50, "num_epochs": 3, "learning_rate": 0.02}
    with pytest.raises(AssertionError, match=r"model \(n_train=300, .*\): the epoch cost is "
                                             r"the sum of the 5 mini-batch costs"):
        grade(t.CHECKS["model"], model, ref["model"], **case)


@needs_signs
def test_float_of_an_array_names_the_numpy_2_cause(ref):
    model = reference_model_edited("epoch_cost += float(minibatch_cost)",
                                   "epoch_cost += float(np.ones(2) * minibatch_cost)")
    with pytest.raises(AssertionError, match=r"model \(n_train=64, n_test=16, num_epochs=2\) "
                                             r"raised TypeError: .*\(likely cause: float\(\) "
                                             r"or int\(\) of an array"):
        grade(t.CHECKS["model"], model, ref["model"], n_train=64, n_test=16, num_epochs=2)


def test_a_shape_error_names_the_likely_cause(ref):
    def compute_cost(Z3, Y):  # labels indexed with argmax without axis: shape (6,), not (m,)
        labels = tf.one_hot(tf.argmax(Y), 6)
        return tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits(labels=labels, logits=Z3))
    message = (r"compute_cost raised InvalidArgumentError: .*\(likely cause: tensors of "
               r"different shapes were combined: check the axis of reductions such as "
               r"tf.argmax")
    with pytest.raises(AssertionError, match=message):
        t.check_compute_cost(compute_cost)
    with pytest.raises(AssertionError, match=message.replace("compute_cost raised",
                                                             r"compute_cost \(m=64, seed=32\) "
                                                             "raised")):
        grade(t.CHECKS["compute_cost"], compute_cost, ref["compute_cost"], m=64, seed=32)


def test_an_unfinished_exercise_says_so():
    def forward_propagation(X, parameters):
        raise NotImplementedError("Replace this line with your code.")
    with pytest.raises(AssertionError, match="forward_propagation raised NotImplementedError: "
                                             ".*likely cause: the exercise is not done yet"):
        t.check_forward_propagation(forward_propagation)


def test_model_check_names_a_wrong_helper_first():
    namespace = {"tf": tf}
    exec("def initialize_parameters():\n    return {}\n\n"  # noqa: S102 (test code)
         "def model(*args, **kwargs):\n    return initialize_parameters()\n", namespace)
    for helper in ("forward_propagation", "compute_cost"):
        namespace[helper] = lambda *a: None
    with pytest.raises(AssertionError, match="model calls initialize_parameters, which is "
                                             "wrong: fix initialize_parameters first"):
        t.check_model(namespace["model"])
