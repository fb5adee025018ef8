"""Assignment 3's tests (utils/public_tests/resnets.py): the reference answers agree with
independent methods (tf.nn operations, the architecture's layer plan) on every case of the
notebook; the checks pass the reference solution, in the notebook and as the grader runs them,
and fail typical mistakes with a message that names the function and what is wrong."""

import os
from collections import Counter

import numpy as np
import pytest
from graded_cases import failure, notebook_cases, solution, source_notebook

from course.grading.nbgrader_course import reference_answers
from utils.public_tests import resnets as t

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import tensorflow as tf

ASSIGNMENT = "C4W2A1_resnets"
BN_EPSILON = 1e-3  # Keras's default for BatchNormalization
STAGES = ((2, (64, 64, 256), 1, 3), (3, (128, 128, 512), 2, 4), (4, (256, 256, 1024), 2, 6),
          (5, (512, 512, 2048), 2, 3))  # stage, filters, stride of block a, number of blocks


@pytest.fixture(scope="module")
def source():
    return source_notebook(ASSIGNMENT)


@pytest.fixture(scope="module")
def ns(source):
    """The namespace of the reference solution (its imports and functions)."""
    return solution(source)


def define(ns, code: str, name: str):
    """A function defined from ``code`` in a copy of the reference namespace."""
    scope = dict(ns)
    exec(code, scope)  # noqa: S102 (test code)
    return scope[name]


def reference_code(source, name: str) -> str:
    return reference_answers(source)[name]


def glorot(shape) -> np.ndarray:
    return tf.keras.initializers.GlorotUniform(seed=0)(shape=tuple(shape)).numpy()


def tf_nn_block(inputs: dict, shortcut: bool, statistics: str = "case",
                silenced: bool = False) -> dict:
    """A block's kernels {layer name: kernel} and output (2, h, w, F3) written with tf.nn
    operations, on GlorotUniform(seed=0) kernels. Batch norm normalises with the case's
    statistics (``statistics="case"``), with those of the batch (``"batch"``: training mode,
    gamma 1 and beta 0 as a fresh layer has them) or with a fresh layer's moving averages
    (``"fresh"``: mean 0, variance 1); ``silenced``: gamma and beta of the main path's last
    batch norm are 0."""
    X, f, (F1, F2, F3), s = inputs["X"], inputs["f"], inputs["filters"], inputs["s"]
    conv_base = f"res{inputs['stage']}{inputs['block']}_branch"
    bn_base = f"bn{inputs['stage']}{inputs['block']}_branch"
    c_in = X.shape[-1]
    shapes = {"2a": (1, 1, c_in, F1), "2b": (f, f, F1, F2), "2c": (1, 1, F2, F3),
              "1": (1, 1, c_in, F3)}
    branches = ["2a", "2b", "2c"] + (["1"] if shortcut else [])
    kernels = {conv_base + b: glorot(shapes[b]) for b in branches}

    def path(branch, x, stride, padding, relu):
        x = tf.nn.conv2d(x, kernels[conv_base + branch], strides=stride, padding=padding)
        gamma, beta, mean, variance = (np.asarray(w, np.float32)
                                       for w in inputs["bn"][bn_base + branch])
        if statistics != "case":
            gamma, beta = np.ones_like(gamma), np.zeros_like(beta)
            mean, variance = ((np.mean(x, axis=(0, 1, 2)), np.var(x, axis=(0, 1, 2)))
                              if statistics == "batch" else (0.0, 1.0))
        if silenced and branch == "2c":
            gamma, beta = np.zeros_like(gamma), np.zeros_like(beta)
        x = gamma * (x - mean) / np.sqrt(variance + BN_EPSILON) + beta
        return tf.nn.relu(x) if relu else x

    stride = s if shortcut else 1
    x = path("2a", X, stride, "VALID", True)
    x = path("2b", x, 1, "SAME", True)
    x = path("2c", x, 1, "VALID", False)
    short = path("1", X, stride, "VALID", False) if shortcut else X
    return {"kernels": kernels, "output": tf.nn.relu(x + short).numpy()}


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


def test_layer_plan_of_resnet50():
    plan = resnet50_layer_plan()
    assert len(plan) == 177
    assert sum(params for _, _, params in plan) == 23_600_006
    assert plan[-1] == ("Dense", (6,), 2048 * 6 + 6)


def test_the_reference_answers_agree_with_independent_methods(ns, source):
    """Every case, public and hidden: the reference solution's answer (what students are
    compared with) equals the independent computation: the blocks in tf.nn operations, and
    ResNet50's layers, parameter count and head kernel from the architecture's layer plan."""
    for function, function_cases in notebook_cases(source).items():
        graded = t.CHECKS[function]
        for case in function_cases:
            inputs = graded.inputs(**case.params)
            answer = graded.call(ns[function], inputs)
            what = f"{function} {case.params}"
            if function == "ResNet50":
                plan = resnet50_layer_plan(tuple(inputs["input_shape"]), inputs["classes"])
                layers = Counter((name, tuple(shape), params)
                                 for name, shape, params in answer["layers"])
                assert layers == Counter(plan), what
                assert answer["count_params"] == sum(p for _, _, p in plan), what
                np.testing.assert_array_equal(
                    answer["head_kernel"], glorot((plan[-2][1][0], inputs["classes"])), what)
                np.testing.assert_allclose(answer["probabilities"].sum(axis=1), 1, rtol=1e-5,
                                           err_msg=what)
                continue
            shortcut = function == "convolutional_block"
            independent = tf_nn_block(inputs, shortcut)
            assert answer["kernels"].keys() == independent["kernels"].keys(), what
            for name, kernel in independent["kernels"].items():
                np.testing.assert_array_equal(answer["kernels"][name], kernel, what)
            np.testing.assert_allclose(answer["output"], independent["output"], rtol=1e-4,
                                       atol=1e-4, err_msg=what)
            np.testing.assert_allclose(
                answer["output_silenced"], tf_nn_block(inputs, shortcut, silenced=True)["output"],
                rtol=1e-4, atol=1e-4, err_msg=f"{what} silenced")
            for mode, statistics in (("training", "batch"), ("inference", "fresh")):
                np.testing.assert_allclose(
                    answer["eager"][mode]["output"],
                    tf_nn_block(inputs, shortcut, statistics)["output"], rtol=1e-4, atol=1e-4,
                    err_msg=f"{what} called with training={mode == 'training'}")


def test_reference_passes_every_case(ns, source):
    """In the notebook (public cases) and as the grader compares (every case)."""
    failures = [f"{function} {case.params}: {text}"
                for function, function_cases in notebook_cases(source).items()
                for case in function_cases
                if (text := failure(t.CHECKS[function], ns[function], ns[function], case.params,
                                    case.hidden))]
    assert failures == []


def message(ns, function: str, fn, public: bool = False, **case) -> str | None:
    """The failure message of ``fn`` on ``case``: the grader's, and the notebook's too for a
    ``public`` case of the notebook (they must agree)."""
    return failure(t.CHECKS[function], fn, ns[function], case, hidden=not public)


IDENTITY_RELU_FIRST = '''
def identity_block(X, f, filters, stage, block, training=True, initializer=glorot_uniform):
    conv, bn = f"res{stage}{block}_branch", f"bn{stage}{block}_branch"
    F1, F2, F3 = filters
    shortcut = X
    X = Activation("relu")(BatchNormalization(axis=3, name=bn + "2a")(
        Conv2D(F1, 1, name=conv + "2a", kernel_initializer=initializer(seed=0))(X),
        training=training))
    X = Activation("relu")(BatchNormalization(axis=3, name=bn + "2b")(
        Conv2D(F2, f, padding="same", name=conv + "2b", kernel_initializer=initializer(seed=0))(X),
        training=training))
    X = BatchNormalization(axis=3, name=bn + "2c")(
        Conv2D(F3, 1, name=conv + "2c", kernel_initializer=initializer(seed=0))(X),
        training=training)
    return Add()([Activation("relu")(X), shortcut])
'''
RELU_FIRST = ("identity_block: the last ReLU comes before the shortcut is added; add the "
              'shortcut first, then apply Activation("relu").\n')


def test_relu_before_the_addition_is_reported(ns):
    identity_block = define(ns, IDENTITY_RELU_FIRST, "identity_block")
    assert message(ns, "identity_block", identity_block, public=True).startswith(
        RELU_FIRST + "identity_block (f=2, filters=[4, 4, 6]): wrong output values")


def test_default_initializer_is_reported(ns):
    identity_block = define(ns, IDENTITY_RELU_FIRST.replace(
        ', name=conv + "2b", kernel_initializer=initializer(seed=0)', ', name=conv + "2b"'),
        "identity_block")
    assert message(ns, "identity_block", identity_block, public=True).startswith(
        "identity_block: a kernel does not come from GlorotUniform(seed=0); pass "
        "kernel_initializer=initializer(seed=0) to every Conv2D.\n"
        "identity_block: layer res1a_branch2b's kernel is not GlorotUniform(seed=0)")


@pytest.mark.parametrize("axis", [1, 2])
def test_batch_norm_on_the_wrong_axis_is_reported(ns, axis):
    code = IDENTITY_RELU_FIRST.replace('BatchNormalization(axis=3, name=bn + "2a")',
                                       f'BatchNormalization(axis={axis}, name=bn + "2a")')
    identity_block = define(ns, code, "identity_block")
    assert message(ns, "identity_block", identity_block, public=True) == (
        "identity_block: batch norm normalises another axis than the channels; use "
        "BatchNormalization(axis=3, ...).\n"
        f"identity_block: layer bn1a_branch2a normalises axis {axis}; batch norm must "
        "normalise the channels: BatchNormalization(axis=3)")


def test_batch_norm_on_the_last_axis_written_minus_one_passes(ns, source):
    code = reference_code(source, "identity_block").replace("axis=3", "axis=-1")
    assert "axis=-1" in code
    identity_block = define(ns, code, "identity_block")
    assert message(ns, "identity_block", identity_block, public=True) is None


def test_missing_layer_names_are_reported(ns):
    identity_block = define(ns, IDENTITY_RELU_FIRST.replace('name=bn + "2c"', 'name="bn_last"'),
                            "identity_block")
    assert message(ns, "identity_block", identity_block, public=True).startswith(
        "identity_block: no layer named ['bn1a_branch2c']")


def test_wrong_filters_are_reported_by_kernel_shape(ns):
    code = IDENTITY_RELU_FIRST.replace("Conv2D(F2, f,", "Conv2D(F2, 3,")
    identity_block = define(ns, code, "identity_block")
    assert message(ns, "identity_block", identity_block, public=True) == (
        RELU_FIRST + "identity_block: layer res1a_branch2b's kernel has shape (3, 3, 4, 4), "
        "expected (2, 2, 4, 4): check its number of filters and window size")


def test_a_shortcut_without_stride_names_the_residual_cause(ns, source):
    code = reference_code(source, "convolutional_block").replace(
        'strides=(s, s), padding="valid", name=conv_name_base + "1"',
        'strides=(1, 1), padding="valid", name=conv_name_base + "1"')
    convolutional_block = define(ns, code, "convolutional_block")
    text = message(ns, "convolutional_block", convolutional_block, public=True)
    assert text.startswith("convolutional_block (f=2, filters=[2, 4, 6], s=2) raised ValueError "
                           "on a Keras input of shape (None, 4, 4, 6): Inputs have incompatible "
                           "shapes"), text
    assert text.endswith("Likely cause: " + t.RESIDUAL_ADD), text
    assert "the strides of the first conv layer and of the shortcut" in t.RESIDUAL_ADD
    # with s=1 the mistake makes no difference, so that public case passes
    assert message(ns, "convolutional_block", convolutional_block, public=True, s=1,
                   f=3) is None


def test_an_unfinished_exercise_says_so(ns):
    def identity_block(X, f, filters, stage, block, initializer=None):
        raise NotImplementedError("Replace this line with your code.")
    text = message(ns, "identity_block", identity_block, public=True)
    assert text.startswith("identity_block (f=2, filters=[4, 4, 6]) raised NotImplementedError "
                           "on a Keras input of shape (None, 4, 4, 6)"), text
    assert text.endswith("Likely cause: the exercise is not done yet: replace the "
                         "`raise NotImplementedError(...)` line with your code"), text


def test_a_stage_with_a_block_missing_is_reported(ns, source):
    code = reference_code(source, "ResNet50").replace('("b", "c", "d", "e", "f")',
                                                      '("b", "c", "d", "e")')
    ResNet50 = define(ns, code, "ResNet50")
    assert message(ns, "ResNet50", ResNet50, public=True).startswith(
        "ResNet50: a stage has another number of blocks than ResNet50's; stages 2 to 5 have a "
        "convolutional block, then 2, 3, 5 and 2 identity blocks.\n"
        "ResNet50: the layers differ from ResNet50's (class, output shape, parameters): "
        "missing [('")


def test_a_head_without_softmax_is_reported(ns, source):
    code = reference_code(source, "ResNet50").replace('activation="softmax", ', "")
    ResNet50 = define(ns, code, "ResNet50")
    assert message(ns, "ResNet50", ResNet50, input_shape=(96, 96, 3), classes=10) == (
        'ResNet50: the last layer has no softmax; give the Dense layer activation="softmax".\n'
        "ResNet50: the last layer fc10 should use the softmax activation")


def test_resnet50_check_names_a_wrong_helper_first(ns, source):
    scope = dict(ns)
    exec(IDENTITY_RELU_FIRST + reference_code(source, "ResNet50"), scope)  # noqa: S102
    with pytest.raises(AssertionError, match="ResNet50 calls identity_block, which is wrong: "
                                             "fix identity_block first"):
        t.check_resnet50(scope["ResNet50"])


def test_a_resnet50_description_made_up_from_the_public_answer_fails():
    """A red team's answer: the stored public answer of ResNet50, its probabilities made
    uniform (what a kernel can fake without building the network), is not the network's."""
    from utils.graded import public_answer

    graded = t.CHECKS["ResNet50"]
    honest = public_answer(graded, {})
    inputs = graded.inputs()
    graded.compare({}, inputs, honest, honest)
    faked = {**honest, "probabilities": np.full_like(honest["probabilities"], 1 / 6)}
    with pytest.raises(AssertionError, match="output probabilities"):
        graded.compare({}, inputs, faked, honest)
