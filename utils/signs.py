"""The SIGNS dataset: photographs of hands showing 0 to 5 fingers, 64x64 RGB, 6 classes.

The test set is ``datasets/test_signs.h5`` (120 images). The training set is
``datasets/train_signs.h5`` (1080 images) when it can be fetched; otherwise the same 1080
training photographs are read from the JPEG copies in ``datasets/64x64_SIGNS/{train,val}_signs/``
(file names start with the label digit), and the loader says so. Both are the real photographs;
the JPEG copies differ from the h5 pixels by JPEG noise (about 3/255 on average). The files come
sorted by label, so the photographs are shuffled once with a fixed seed (``PHOTOGRAPH_ORDER_SEED``),
as the examples of the original h5 file are: samples, mini-batches and plots then mix the classes.
"""

from __future__ import annotations

import contextlib
import functools

import h5py
import numpy as np
from PIL import Image

from utils import data
from utils.i18n import _

CLASSES = np.arange(6)
JPEG_TRAIN_SPLITS = ("train_signs", "val_signs")
PHOTOGRAPH_ORDER_SEED = 0
# Where `python -m utils.train_resnet` saves the ResNet50 trained on SIGNS (under the
# course folder, utils.data.course_home()); assignment 3 loads it from there.
PRETRAINED_RESNET50 = "pretrained-model/resnet50_signs.keras"


def _read_h5(path, split: str) -> tuple[np.ndarray, np.ndarray]:
    with h5py.File(path, "r") as signs:
        return np.array(signs[f"{split}_set_x"]), np.array(signs[f"{split}_set_y"])


@functools.lru_cache(maxsize=1)
def _photographs() -> tuple[np.ndarray, np.ndarray]:
    """The training photographs and their labels, decoded once per process (read-only)."""
    entries = sorted(e.path for e in data.entries_for("C4W1A2_signs_cnn")
                     if e.path.split("/")[-2] in JPEG_TRAIN_SPLITS)
    images, labels = [], []
    for path in entries:
        with Image.open(data.fetch(path)) as image:
            images.append(np.asarray(image.convert("RGB").resize((64, 64)), dtype=np.uint8))
        labels.append(int(path.split("/")[-1][0]))
    order = np.random.default_rng(PHOTOGRAPH_ORDER_SEED).permutation(len(labels))
    arrays = np.stack(images)[order], np.array(labels, dtype=np.int64)[order]
    for array in arrays:
        array.setflags(write=False)
    return arrays


def _train_set_from_photographs() -> tuple[np.ndarray, np.ndarray]:
    images, labels = _photographs()
    return images.copy(), labels.copy()


def warm_up() -> None:
    """Decode the training photographs now (a third of a second), if they are there: a grading
    fork server (``course.grading.forkserver``) calls it once, and the kernels forked from it
    find them decoded instead of each decoding them again."""
    with contextlib.suppress(data.DataFileError, OSError):
        _photographs()


def load_signs_dataset(verbose: bool = True) -> tuple[np.ndarray, np.ndarray, np.ndarray,
                                                      np.ndarray, np.ndarray]:
    """Load SIGNS as in the classic course.

    Returns (X_train, Y_train, X_test, Y_test, classes), arrays of shapes:
    X_train: uint8 array of shape (1080, 64, 64, 3)
    Y_train: int64 array of shape (1, 1080), labels 0..5
    X_test: uint8 array of shape (120, 64, 64, 3)
    Y_test: int64 array of shape (1, 120)
    classes: int64 array of shape (6,), the label values
    """
    X_test, Y_test = _read_h5(data.fetch("datasets/test_signs.h5"), "test")
    try:
        X_train, Y_train = _read_h5(data.fetch("datasets/train_signs.h5"), "train")
    except data.DataFileError:
        X_train, Y_train = _train_set_from_photographs()
        if verbose:
            print(_("Note: datasets/train_signs.h5 is not available, so the training set is "
                    "read from the {count} SIGNS training photographs in datasets/64x64_SIGNS/ "
                    "(JPEG copies of the same images).").format(count=len(Y_train)))
    return X_train, Y_train.reshape(1, -1), X_test, Y_test.reshape(1, -1), CLASSES.copy()


def convert_to_one_hot(Y: np.ndarray, C: int) -> np.ndarray:
    """One-hot encode integer labels.

    Y: int array of shape (1, m) or (m,), labels 0..C-1
    Returns Y_one_hot: array of shape (C, m)
    """
    Y = np.asarray(Y).reshape(-1)
    if Y.size and (Y.min() < 0 or Y.max() >= C):
        raise ValueError(f"labels must lie in 0..{C - 1}, got values from {Y.min()} to {Y.max()}")
    return np.eye(C)[Y].T


def prepare(X_orig: np.ndarray, Y_orig: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Model inputs from SIGNS arrays: pixels scaled to [0, 1], labels one-hot (a row each).

    X_orig: uint8 array of shape (m, 64, 64, 3)
    Y_orig: int array of shape (1, m) or (m,), labels 0..5
    Returns (X, Y): float32 array of shape (m, 64, 64, 3), array of shape (m, 6)
    """
    return (X_orig / 255.0).astype(np.float32), convert_to_one_hot(Y_orig, len(CLASSES)).T


def random_mini_batches(X: np.ndarray, Y: np.ndarray, mini_batch_size: int = 64,
                        seed: int = 0) -> list[tuple[np.ndarray, np.ndarray]]:
    """Shuffle (X, Y) together with a seeded generator and cut them into mini-batches.

    X: array of shape (m, ...), the examples along the first axis
    Y: array of shape (m, ...), their labels
    Returns a list of (mini_batch_X, mini_batch_Y), arrays of shape (mini_batch_size, ...);
    the last pair holds the remaining m % mini_batch_size examples when m is not a multiple
    of the size.
    """
    if len(X) != len(Y):
        raise ValueError(f"X has {len(X)} examples but Y has {len(Y)}")
    permutation = np.random.default_rng(seed).permutation(len(X))
    X, Y = X[permutation], Y[permutation]
    return [(X[k:k + mini_batch_size], Y[k:k + mini_batch_size])
            for k in range(0, len(X), mini_batch_size)]
