"""Assignment 6: the checks catch the classic mistakes; images in and out; the VGG19 weights."""

import nbformat
import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from utils import data, style_transfer
from utils.course import assignments
from utils.course.grading import reference_answers
from utils.course.reference import reference_functions
from utils.public_tests import neural_style_transfer as checks

NAMES = ["compute_content_cost", "gram_matrix", "compute_layer_style_cost", "compute_style_cost",
         "total_cost", "train_step"]


@pytest.fixture(scope="module")
def ref():
    return reference_functions("C4W4A2_neural_style_transfer", NAMES)


def test_reference_solution_passes_the_checks(ref):
    checks.check_compute_content_cost(ref["compute_content_cost"])
    checks.check_gram_matrix(ref["gram_matrix"])
    checks.check_compute_layer_style_cost(ref["compute_layer_style_cost"])
    checks.check_compute_style_cost(ref["compute_style_cost"])
    checks.check_total_cost(ref["total_cost"])
    checks.check_train_step(ref["train_step"], style_transfer.STYLE_LAYERS)


def test_plain_reshape_is_named():
    def plain_reshape(a_S, a_G):
        _, n_H, n_W, n_C = a_G.shape
        S, G = (tf.reshape(a, (n_C, n_H * n_W)) for a in (a_S, a_G))
        return tf.reduce_sum(tf.square(S @ tf.transpose(S) - G @ tf.transpose(G))) / (
            4 * n_C ** 2 * (n_H * n_W) ** 2)
    with pytest.raises(AssertionError, match="reshaped directly to \\(n_C, n_H\\*n_W\\)"):
        checks.check_compute_layer_style_cost(plain_reshape)


def test_transposed_gram_matrix_is_named():
    with pytest.raises(AssertionError, match="that is A\\^T A"):
        checks.check_gram_matrix(lambda A: tf.matmul(A, A, transpose_a=True))


def _edited_train_step(ref, old: str, new: str):
    """The reference train_step with one line changed, in a copy of the reference's namespace."""
    source = nbformat.read(assignments.get("C4W4A2_neural_style_transfer").source_notebook, 4)
    code = reference_answers(source)["train_step"]
    assert old in code
    namespace = dict(ref["train_step"].python_function.__globals__)
    exec(code.replace(old, new), namespace)
    return namespace["train_step"]


@pytest.mark.parametrize("old,new,message", [
    ("generated_image.assign(clip_0_1(generated_image))", "pass", "clip it to \\[0, 1\\]"),
    ("optimizer.apply_gradients([(grad, generated_image)])", "pass", "the image did not change"),
    ("alpha=ALPHA, beta=BETA", "", "returned cost J"),
    ("a_S[:-1], a_G[:-1]", "a_S[1:], a_G[1:]", "returned cost J"),
])
def test_train_step_check_catches_mistakes(ref, old, new, message):
    with pytest.raises(AssertionError, match=message):
        checks.check_train_step(_edited_train_step(ref, old, new), style_transfer.STYLE_LAYERS)


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
