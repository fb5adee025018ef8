"""Assignment 3's tests (utils/public_tests/resnets.py): they pass the reference solution on
every case of the notebook, in the notebook and as the grader runs them, and fail typical
mistakes with a message that names the function and what is wrong."""

import os

import pytest
from graded_helpers import all_cases, grade

from utils.course.reference import run_reference
from utils.public_tests import resnets as t

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

ASSIGNMENT = "C4W2A1_resnets"


@pytest.fixture(scope="module")
def ns():
    """The namespace of the reference solution (its imports and functions)."""
    import nbformat

    from utils.course import assignments
    return run_reference(nbformat.read(assignments.get(ASSIGNMENT).source_notebook,
                                       as_version=4))


def define(ns, code: str, name: str):
    """A function defined from ``code`` in a copy of the reference namespace."""
    scope = dict(ns)
    exec(code, scope)  # noqa: S102 (test code)
    return scope[name]


@pytest.mark.parametrize("function,case", all_cases(ASSIGNMENT))
def test_reference_passes_every_case(ns, function, case):
    t.CHECKS[function].check(ns[function], **case)
    grade(t.CHECKS[function], ns[function], ns[function], **case)


def test_layer_plan_of_resnet50():
    plan = t.resnet50_layer_plan()
    assert len(plan) == 177
    assert sum(params for _, _, params in plan) == 23_600_006
    assert plan[-1] == ("Dense", (6,), 2048 * 6 + 6)


IDENTITY_RELU_FIRST = '''
def identity_block(X, f, filters, stage, block, initializer=glorot_uniform):
    conv, bn = f"res{stage}{block}_branch", f"bn{stage}{block}_branch"
    F1, F2, F3 = filters
    shortcut = X
    X = Activation("relu")(BatchNormalization(axis=3, name=bn + "2a")(
        Conv2D(F1, 1, name=conv + "2a", kernel_initializer=initializer(seed=0))(X)))
    X = Activation("relu")(BatchNormalization(axis=3, name=bn + "2b")(
        Conv2D(F2, f, padding="same", name=conv + "2b", kernel_initializer=initializer(seed=0))(X)))
    X = BatchNormalization(axis=3, name=bn + "2c")(
        Conv2D(F3, 1, name=conv + "2c", kernel_initializer=initializer(seed=0))(X))
    return Add()([Activation("relu")(X), shortcut])
'''


def test_relu_before_the_addition_is_reported(ns):
    identity_block = define(ns, IDENTITY_RELU_FIRST, "identity_block")
    message = r"identity_block \(f=2, filters=\[4, 4, 6\]\): wrong output values"
    with pytest.raises(AssertionError, match=message):
        t.check_identity_block(identity_block)
    with pytest.raises(AssertionError, match=message):
        grade(t.CHECKS["identity_block"], identity_block, ns["identity_block"])


def test_default_initializer_is_reported(ns):
    identity_block = define(ns, IDENTITY_RELU_FIRST.replace(
        ', name=conv + "2b", kernel_initializer=initializer(seed=0)', ', name=conv + "2b"'),
        "identity_block")
    message = r"identity_block: layer res1a_branch2b's kernel is not GlorotUniform\(seed=0\)"
    with pytest.raises(AssertionError, match=message):
        t.check_identity_block(identity_block)
    with pytest.raises(AssertionError, match=message):
        grade(t.CHECKS["identity_block"], identity_block, ns["identity_block"])


@pytest.mark.parametrize("axis", [1, 2])
def test_batch_norm_on_the_wrong_axis_is_reported(ns, axis):
    code = IDENTITY_RELU_FIRST.replace('BatchNormalization(axis=3, name=bn + "2a")',
                                       f'BatchNormalization(axis={axis}, name=bn + "2a")')
    identity_block = define(ns, code, "identity_block")
    message = (f"identity_block: layer bn1a_branch2a normalises axis {axis}; batch norm must "
               r"normalise the channels: BatchNormalization\(axis=3\)")
    with pytest.raises(AssertionError, match=message):
        t.check_identity_block(identity_block)
    with pytest.raises(AssertionError, match=message):
        grade(t.CHECKS["identity_block"], identity_block, ns["identity_block"])


def test_batch_norm_on_the_last_axis_written_minus_one_passes(ns):
    code = t_source(ns, "identity_block").replace("axis=3", "axis=-1")
    identity_block = define(ns, code, "identity_block")
    t.check_identity_block(identity_block)
    grade(t.CHECKS["identity_block"], identity_block, ns["identity_block"])


def test_missing_layer_names_are_reported(ns):
    identity_block = define(ns, IDENTITY_RELU_FIRST.replace('name=bn + "2c"', 'name="bn_last"'),
                            "identity_block")
    with pytest.raises(AssertionError, match=r"identity_block: no layer named "
                                             r"\['bn1a_branch2c'\]"):
        t.check_identity_block(identity_block)


def test_wrong_filters_are_reported_by_kernel_shape(ns):
    code = IDENTITY_RELU_FIRST.replace("Conv2D(F2, f,", "Conv2D(F2, 3,")
    identity_block = define(ns, code, "identity_block")
    with pytest.raises(AssertionError, match=r"layer res1a_branch2b's kernel has shape "
                                             r"\(3, 3, 4, 4\), expected \(2, 2, 4, 4\)"):
        grade(t.CHECKS["identity_block"], identity_block, ns["identity_block"])


def test_a_shortcut_without_stride_is_reported(ns):
    code = t_source(ns, "convolutional_block").replace(
        'strides=(s, s), padding="valid", name=conv_name_base + "1"',
        'strides=(1, 1), padding="valid", name=conv_name_base + "1"')
    convolutional_block = define(ns, code, "convolutional_block")
    message = (r"convolutional_block \(f=2, filters=\[2, 4, 6\], s=2\) raised ValueError: .*"
               r"\(likely cause: the tensors added have different shapes: .*the strides")
    with pytest.raises(AssertionError, match=message):  # Add() of tensors of different shapes
        t.check_convolutional_block(convolutional_block)
    with pytest.raises(AssertionError, match=message):
        grade(t.CHECKS["convolutional_block"], convolutional_block, ns["convolutional_block"])
    # with s=1 the mistake makes no difference, so that case passes
    grade(t.CHECKS["convolutional_block"], convolutional_block, ns["convolutional_block"], s=1,
          f=3)


def t_source(ns, name: str) -> str:
    import nbformat

    from utils.course import assignments
    from utils.course.grading import reference_answers
    return reference_answers(nbformat.read(assignments.get(ASSIGNMENT).source_notebook,
                                           as_version=4))[name]


def test_a_stage_with_a_block_missing_is_reported(ns):
    code = t_source(ns, "ResNet50").replace('("b", "c", "d", "e", "f")', '("b", "c", "d", "e")')
    ResNet50 = define(ns, code, "ResNet50")
    message = (r"ResNet50: the layers differ from ResNet50's \(class, output shape, parameters\)"
               r": missing \[\('")
    with pytest.raises(AssertionError, match=message):
        t.check_resnet50(ResNet50)
    with pytest.raises(AssertionError, match=message):
        grade(t.CHECKS["ResNet50"], ResNet50, ns["ResNet50"])


def test_a_head_without_softmax_is_reported(ns):
    code = t_source(ns, "ResNet50").replace('activation="softmax", ', "")
    ResNet50 = define(ns, code, "ResNet50")
    with pytest.raises(AssertionError, match="ResNet50: the last layer fc6 should use the "
                                             "softmax activation"):
        grade(t.CHECKS["ResNet50"], ResNet50, ns["ResNet50"])


def test_resnet50_check_names_a_wrong_helper_first(ns):
    scope = dict(ns)
    exec(IDENTITY_RELU_FIRST + t_source(ns, "ResNet50"), scope)  # noqa: S102 (test code)
    with pytest.raises(AssertionError, match="ResNet50 calls identity_block, which is wrong: "
                                             "fix identity_block first"):
        t.check_resnet50(scope["ResNet50"])
