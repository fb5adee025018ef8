"""Assignment 6: the reference solution's answers agree with the definitions on every case; the
checks pass the reference and name the classic mistakes, in the notebook and on the grader's
side; images in and out; the VGG19 weights."""

import ast

import keras
import nbformat
import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from course import assignments
from course.grading.nbgrader_course import reference_answers
from course.trusted import cases
from course.trusted.reference_solution import run_reference
from utils import data, style_transfer, yolo
from utils.checks import helpers_replaced
from utils.graded import decode, encode
from utils.public_tests import neural_style_transfer as checks

SOURCE = nbformat.read(assignments.get("C4W4A2_neural_style_transfer").source_notebook, 4)


@pytest.fixture(scope="module")
def ref() -> dict:
    """The namespace of the reference solution (provided code and answer cells)."""
    return run_reference(SOURCE)


def _with_edits(ref: dict, function: str, *edits: tuple[str, str]) -> dict:
    """A copy of the reference namespace where ``function`` is the reference answer with each
    (old, new) replacement made; functions defined after it still read the copy."""
    code = reference_answers(SOURCE)[function]
    for old, new in edits:
        assert old in code, f"{old!r} is not in the reference {function}"
        code = code.replace(old, new)
    namespace = dict(ref)
    exec(code, namespace)  # noqa: S102 (the course's own reference code)
    return namespace


def _grader_verdict(ref: dict, function: str, fn, case: dict) -> None:
    """Compare ``fn``'s answer with the reference's, as the grader does (no helper checks)."""
    graded = checks.CHECKS[function]
    inputs = graded.inputs(**case)
    got, expected = (decode(encode(graded.call(f, inputs))) for f in (fn, ref[function]))
    graded.compare(case, inputs, got, expected)


def test_reference_solution_passes_every_case_of_the_notebook(ref):
    """The public cases in the notebook (stored answers), every case as the grader compares."""
    tested = cases.read(SOURCE)
    assert {t.function for t in tested} == set(checks.CHECKS)
    for tests in tested:
        assert any(c.hidden for c in tests.cases) and any(not c.hidden for c in tests.cases)
        for case in tests.cases:
            if not case.hidden:
                checks.CHECKS[tests.function].check(ref[tests.function], **case.params)
            _grader_verdict(ref, tests.function, ref[tests.function], case.params)


def _mean_square(x) -> float:
    return float(np.mean(np.square(x)))


def _gram(a: np.ndarray) -> np.ndarray:
    """The Gram matrix of activations (1, n_H, n_W, n_C) as a sum over the positions,
    G[c, d] = sum_{h, w} a[0, h, w, c] a[0, h, w, d], in float64; shape (n_C, n_C)."""
    a = np.asarray(a, np.float64)
    return np.einsum("bhwc,bhwd->cd", a, a)


def _layer_style_cost(a_S, a_G, gram=_gram) -> float:
    """The mean squared difference of the n_C^2 Gram entries, over 4 (n_H n_W)^2."""
    _, n_H, n_W, _ = np.shape(a_S)
    return _mean_square(gram(a_S) - gram(a_G)) / (4 * (n_H * n_W) ** 2)


def _plain_reshape_gram(a: np.ndarray) -> np.ndarray:
    """The Gram matrix of the classic mistake: a plain reshape to (n_C, n_H*n_W)."""
    A = np.reshape(np.asarray(a, np.float64), (a.shape[-1], -1))
    return A @ A.T


def _descend(inputs: dict) -> dict:
    """checks.TRAIN_STEPS steps of Adam on the pixels from the cost formulas, with a
    GradientTape on the stand-in extractor: the costs before each step and the clipped images
    after it."""
    extractor = checks.stand_in_extractor(inputs)
    a_C, a_S = extractor(inputs["content"])[-1], extractor(inputs["style"])[:-1]
    image = tf.Variable(inputs["start"])
    adam = keras.optimizers.Adam(learning_rate=inputs["learning_rate"])
    costs, images = [], []
    for _ in range(checks.TRAIN_STEPS):
        with tf.GradientTape() as tape:
            a_G = extractor(image)
            J_content = tf.reduce_mean(tf.square(a_C - a_G[-1])) / 4
            J_style = tf.add_n([
                weight * tf.reduce_mean(tf.square(tf.einsum("bhwc,bhwd->cd", s, s)
                                                  - tf.einsum("bhwc,bhwd->cd", g, g)))
                / (4 * (s.shape[1] * s.shape[2]) ** 2)
                for (_, weight), s, g in zip(style_transfer.STYLE_LAYERS, a_S, a_G[:-1])])
            J = inputs["alpha"] * J_content + inputs["beta"] * J_style
        adam.apply_gradients([(tape.gradient(J, image), image)])
        image.assign(tf.clip_by_value(image, 0.0, 1.0))
        costs.append(J.numpy())
        images.append(image.numpy())
    return {"J": costs, "images": images}


TOTAL_COST_DEFAULTS = {"alpha": 10, "beta": 40}  # total_cost's default weights, as documented


def _independent(function: str, inputs: dict) -> dict:
    """Answers computed from the definitions, not the reference solution: means of squared
    differences, Gram matrices summed over the positions (einsum), the weighted sums, and a
    GradientTape descent for train_step; the keys of the GradedFunction's ``call``."""
    if function == "compute_content_cost":
        a_C, a_G = (np.asarray(inputs[k], np.float64) for k in ("a_C", "a_G"))
        return {"J": _mean_square(a_C - a_G) / 4, "J_same": 0.0,
                "J_exchanged": _mean_square(a_G - a_C) / 4}
    if function == "gram_matrix":
        A = np.asarray(inputs["A"], np.float64)
        return {"GA": np.einsum("ip,jp->ij", A, A),
                "GA_of_transpose": np.einsum("pi,pj->ij", A, A)}
    if function == "compute_layer_style_cost":
        a_S, a_G = inputs["a_S"], inputs["a_G"]
        return {"J": _layer_style_cost(a_S, a_G),
                "J_plain_layout": _layer_style_cost(a_S, a_G, gram=_plain_reshape_gram)}
    if function == "compute_style_cost":
        costs = [_layer_style_cost(s, g)
                 for s, g in zip(inputs["style_outputs"], inputs["generated_outputs"])]
        return {"J": float(np.dot([w for _, w in inputs["style_layers"]], costs)),
                "J_unit_weights": sum(costs),
                "J_last_layer": inputs["style_layers"][-1][1] * costs[-1]}
    if function == "total_cost":
        weights = {**TOTAL_COST_DEFAULTS, **inputs["weights"]}
        J_content, J_style = inputs["J_content"], inputs["J_style"]
        defaults = TOTAL_COST_DEFAULTS
        return {"J": weights["alpha"] * J_content + weights["beta"] * J_style,
                "J_costs_exchanged": weights["alpha"] * J_style + weights["beta"] * J_content,
                "J_default_weights": defaults["alpha"] * J_content + defaults["beta"] * J_style,
                "J_unit_weights": J_content + J_style}
    exchanged = {**inputs, "alpha": inputs["beta"], "beta": inputs["alpha"]}
    return {**_descend(inputs), "J_weights_exchanged": _descend(exchanged)["J"][0]}


def test_the_reference_answers_agree_with_independent_methods(ref):
    """Every case the grader uses, public and hidden: the reference solution's answer (what
    students are compared with) equals the independent computation."""
    for tests in cases.read(SOURCE):
        graded = checks.CHECKS[tests.function]
        for case in tests.cases:
            inputs = graded.inputs(**case.params)
            answer = graded.call(ref[tests.function], inputs)
            for key, value in _independent(tests.function, inputs).items():
                np.testing.assert_allclose(answer[key], value, rtol=1e-4, atol=1e-6,
                                           err_msg=f"{tests.function} {case.params} {key}")


def test_helpers_are_the_graded_functions_each_answer_calls():
    answers = reference_answers(SOURCE)
    for name, graded in checks.CHECKS.items():
        called = {node.func.id for node in ast.walk(ast.parse(answers[name]))
                  if isinstance(node, ast.Call) and isinstance(node.func, ast.Name)}
        assert set(graded.helpers) == called & set(checks.CHECKS), name


def test_the_public_module_has_no_reference_helpers():
    assert not hasattr(checks, "GRADING_HELPERS")


MISTAKES = [  # (function, [(old, new), ...], message)
    ("compute_content_cost", [("/ (4 * n_H * n_W * n_C)", "/ (n_H * n_W * n_C)")],
     "compute_content_cost: the cost is 4 times too large"),
    ("compute_content_cost", [("tf.reduce_sum(", "(")], "cost should be a single number"),
    ("gram_matrix", [("tf.matmul(A, tf.transpose(A))", "tf.matmul(tf.transpose(A), A)")],
     "^gram_matrix: this is A\\^T A; .*\ngram_matrix: wrong G shape \\(2, 2\\), "
     "expected \\(3, 3\\)"),
    ("compute_layer_style_cost", [("tf.transpose(tf.reshape(", "(tf.reshape("),
                                  ("shape=[n_H * n_W, n_C]", "shape=[n_C, n_H * n_W]")],
     "a_S and a_G are reshaped straight to \\(n_C, n_H\\*n_W\\)"),
    ("compute_style_cost", [("J_style += weight * ", "J_style += ")],
     "^compute_style_cost: the cost is the plain sum of the layer costs"),
    ("total_cost", [("alpha * J_content + beta * J_style", "beta * J_content + alpha * J_style")],
     "^total_cost: alpha weighs the style cost and beta the content cost; .*\n.*got 110"),
    ("train_step", [("generated_image.assign(clip_0_1(generated_image))", "pass")],
     "^train_step: the image leaves \\[0, 1\\]; .*\n.*step 1 .*wrong updated image"),
    ("train_step", [("optimizer.apply_gradients([(grad, generated_image)])", "pass")],
     "^train_step: the image does not change"),
    ("train_step", [("alpha=ALPHA, beta=BETA", "")], "step 1 .*wrong returned cost J"),
    ("train_step", [("a_S[:-1], a_G[:-1]", "a_S[1:], a_G[1:]")], "wrong returned cost J"),
]


@pytest.mark.parametrize("function,edits,message", MISTAKES)
def test_mistakes_are_named_in_the_notebook_and_by_the_grader(ref, function, edits, message):
    wrong = _with_edits(ref, function, *edits)[function]
    with pytest.raises(AssertionError, match=message):
        checks.CHECKS[function].check(wrong)
    with pytest.raises(AssertionError, match=message):
        _grader_verdict(ref, function, wrong, {})


def test_hidden_cases_catch_what_a_public_case_misses(ref):
    """total_cost that ignores a zero weight passes the public cases, not alpha=beta=0."""
    wrong = _with_edits(ref, "total_cost", ("J = alpha", "J = (alpha or 1)"))["total_cost"]
    tests = next(t for t in cases.read(SOURCE) if t.function == "total_cost")
    for case in tests.cases:
        if not case.hidden:
            checks.check_total_cost(wrong, **case.params)
    with pytest.raises(AssertionError, match="alpha=0, beta=0.*wrong total cost"):
        _grader_verdict(ref, "total_cost", wrong,
                        {"J_content": 1.0, "J_style": 1.0, "alpha": 0, "beta": 0})


@pytest.mark.parametrize("function,helper,edit", [
    ("compute_layer_style_cost", "gram_matrix", ("GA = tf.matmul", "GA = 2 * tf.matmul")),
    ("train_step", "total_cost", ("beta * J_style", "J_style")),
])
def test_a_wrong_helper_is_named_in_the_notebook_and_stood_in_for_by_the_grader(
        ref, function, helper, edit):
    namespace = _with_edits(ref, helper, edit)
    exec(reference_answers(SOURCE)[function], namespace)  # noqa: S102 (right code, wrong helper)
    fn = namespace[function]
    with pytest.raises(AssertionError, match=f"{function} calls {helper}, which is wrong: fix "
                                             f"{helper} first"):
        checks.CHECKS[function].check(fn)
    with pytest.raises(AssertionError):
        _grader_verdict(ref, function, fn, {})
    with helpers_replaced(fn, **{helper: ref[helper]}):  # what the grader's harness does
        _grader_verdict(ref, function, fn, {})


def test_train_step_leaves_the_notebook_names_as_they_were(ref):
    namespace = dict(ref, optimizer="the notebook's optimizer")
    exec(reference_answers(SOURCE)["train_step"], namespace)  # noqa: S102
    checks.check_train_step(namespace["train_step"])
    assert namespace["optimizer"] == "the notebook's optimizer"
    assert "vgg_model_outputs" not in namespace


def _picture(path, mode, size):
    ramp = np.linspace(0, 255, size[0] * size[1] * 3).reshape(size[1], size[0], 3)
    Image.fromarray(ramp.astype(np.uint8)).convert(mode).save(path)
    return path


def test_grayscale_and_mismatched_sizes_are_resized(tmp_path):
    content = _picture(tmp_path / "content.png", "L", (120, 90))
    style = _picture(tmp_path / "style.png", "RGBA", (33, 70))
    c, s = style_transfer.load_pair(content, style, (30, 40))
    assert c.shape == s.shape == (1, 30, 40, 3) and c.dtype == np.float32
    assert 0 <= min(c.min(), s.min()) and max(c.max(), s.max()) <= 1


def test_missing_image_names_the_path(tmp_path):
    content = _picture(tmp_path / "content.png", "RGB", (40, 30))
    with pytest.raises(FileNotFoundError, match="no_style.jpg"):
        style_transfer.load_pair(content, tmp_path / "no_style.jpg", (30, 40))


def test_noisy_image_is_seeded_and_valid():
    content = np.full((1, 6, 8, 3), 0.9, np.float32)
    first, again = style_transfer.noisy_image(content, seed=3), style_transfer.noisy_image(
        content, seed=3)
    assert isinstance(first, tf.Variable) and first.shape == content.shape
    np.testing.assert_array_equal(first.numpy(), again.numpy())
    assert first.numpy().max() == 1.0 and first.numpy().min() >= 0.9 - 0.25


def test_saved_image_round_trip(tmp_path):
    image = np.linspace(0, 1, 2 * 3 * 3, dtype=np.float32).reshape(1, 2, 3, 3)
    path = style_transfer.save_image(image, tmp_path / "output" / "image_0.png")
    np.testing.assert_allclose(np.asarray(Image.open(path)) / 255.0, image[0], atol=1 / 255)


def test_missing_vgg19_weights_say_what_and_how(tmp_path, monkeypatch):
    monkeypatch.setenv(data.HOME_ENV, str(tmp_path))
    monkeypatch.setenv(data.MIRROR_ENV, str(tmp_path / "empty-mirror"))

    def offline(entry, target):
        raise OSError("network unreachable")
    monkeypatch.setattr(data, "_download", offline)
    with pytest.raises(data.DataFileError) as error:
        style_transfer.load_vgg19((32, 32))
    message = str(error.value)
    assert style_transfer.VGG19_WEIGHTS in message
    assert "python -m utils.fetch C4W4A2_neural_style_transfer" in message
    assert not (tmp_path / style_transfer.VGG19_WEIGHTS).exists()


def test_vgg19_feature_extractor_with_the_published_weights():
    try:
        vgg = style_transfer.load_vgg19((64, 96))
    except data.DataFileError as error:
        pytest.skip(str(error))
    names = [n for n, _ in style_transfer.STYLE_LAYERS] + [style_transfer.CONTENT_LAYER]
    outputs = style_transfer.feature_extractor(vgg, names)(np.zeros((1, 64, 96, 3), np.float32))
    assert [tuple(o.shape) for o in outputs] == [
        (1, 64, 96, 64), (1, 32, 48, 128), (1, 16, 24, 256), (1, 8, 12, 512), (1, 4, 6, 512),
        (1, 4, 6, 512)]
    assert not vgg.trainable


def test_without_vgg19_the_yolov3_tiny_backbone_paints_with_the_detectors_weights(monkeypatch):
    """The fallback network: VGG19's weights missing, load_painting_network says so and returns
    YOLOv3-tiny's backbone at the image's size, whose layers compute what the detector's own
    layers compute on a 416x416 image; its style layers weigh as VGG19's."""
    monkeypatch.setattr(style_transfer, "VGG19_WEIGHTS", "pretrained-model/not-registered.h5")
    try:
        network = style_transfer.load_painting_network((60, 80))
    except data.DataFileError as error:
        if "yolov3-tiny" not in str(error):
            raise
        pytest.skip(str(error))
    assert network.name == "the YOLOv3-tiny backbone"
    assert "not-registered.h5" in network.fallback_reason
    assert "YOLOv3-tiny" in network.fallback_reason
    assert [w for _, w in network.style_layers] == [w for _, w in style_transfer.STYLE_LAYERS]
    outputs = network.extractor()(np.zeros((1, 60, 80, 3), np.float32))
    assert [tuple(o.shape) for o in outputs] == [
        (1, 60, 80, 16), (1, 30, 40, 32), (1, 15, 20, 64), (1, 8, 10, 128), (1, 4, 5, 256),
        (1, 2, 3, 1024)]
    assert not network.model.trainable
    detector = yolo.load_yolov3_tiny().model
    image = np.random.default_rng(0).uniform(size=(1, 416, 416, 3)).astype(np.float32)
    expected = keras.Model(detector.input, detector.get_layer("leaky_12").output)(image)
    backbone = style_transfer.load_yolov3_tiny_backbone((416, 416))
    np.testing.assert_allclose(backbone(image), expected, rtol=1e-5, atol=1e-5)
