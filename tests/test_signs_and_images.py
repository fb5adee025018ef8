"""SIGNS loading, label and mini-batch helpers, and reading a user's own image."""

import os

import numpy as np
import pytest
from PIL import Image

from utils import data
from utils.images import load_image
from utils.signs import convert_to_one_hot, load_signs_dataset, prepare, random_mini_batches


@pytest.mark.skipif(not os.environ.get(data.MIRROR_ENV), reason=f"{data.MIRROR_ENV} is not set")
def test_signs_dataset_is_the_real_one(capsys):
    X_train, Y_train, X_test, Y_test, classes = load_signs_dataset()
    assert X_train.shape == (1080, 64, 64, 3) and X_train.dtype == np.uint8
    assert X_test.shape == (120, 64, 64, 3) and Y_test.shape == (1, 120)
    assert np.bincount(Y_train[0]).tolist() == [180] * 6
    assert np.bincount(Y_test[0]).tolist() == [20] * 6
    assert classes.tolist() == list(range(6))
    if not (data.course_home() / "datasets" / "train_signs.h5").is_file():
        assert "training set is read from the 1080 SIGNS training photographs" in \
            capsys.readouterr().out


def test_one_hot_columns_and_bad_labels():
    one_hot = convert_to_one_hot(np.array([[1, 0, 5]]), 6)
    assert one_hot.shape == (6, 3)
    assert one_hot[:, 2].tolist() == [0, 0, 0, 0, 0, 1]
    with pytest.raises(ValueError, match="labels must lie in 0..5"):
        convert_to_one_hot(np.array([6]), 6)


def test_prepare_scales_pixels_and_encodes_labels():
    X, Y = prepare(np.array([[[[0, 255, 51]]]], dtype=np.uint8), np.array([[4]]))
    assert X.dtype == np.float32 and X.ravel().tolist() == pytest.approx([0.0, 1.0, 0.2])
    assert Y.tolist() == [[0, 0, 0, 0, 1, 0]]


def test_mini_batches_cover_the_set_once_and_keep_pairs():
    X = np.arange(10)[:, None] * np.ones((10, 3))
    Y = np.arange(10)
    batches = random_mini_batches(X, Y, mini_batch_size=4, seed=3)
    assert [len(b[0]) for b in batches] == [4, 4, 2]
    assert sorted(np.concatenate([b[1] for b in batches]).tolist()) == list(range(10))
    assert all((bx[:, 0] == by).all() for bx, by in batches)
    again = random_mini_batches(X, Y, mini_batch_size=4, seed=3)
    assert all((a[1] == b[1]).all() for a, b in zip(batches, again))
    with pytest.raises(ValueError, match="X has 10 examples but Y has 9"):
        random_mini_batches(X, Y[:9])


@pytest.mark.parametrize("mode", ["RGB", "L", "RGBA", "P"])
def test_load_image_converts_resizes_and_scales(tmp_path, mode):
    path = tmp_path / f"photo_{mode}.png"
    Image.new(mode, (120, 90), color=200 if mode in ("L", "P") else (200,) * len(mode)).save(path)
    image = load_image(path, size=(64, 64))
    assert image.shape == (1, 64, 64, 3) and image.dtype == np.float32
    assert 0.0 <= image.min() and image.max() <= 1.0


def test_load_image_names_a_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="no image file at .*missing.jpg"):
        load_image(tmp_path / "missing.jpg", size=(64, 64))
