"""Checks for assignment 5 (face verification and recognition).

``check_triplet_loss`` compares with the loss computed in numpy and, when the answer is wrong,
recognises the usual mistakes (distances summed over every axis before the max, no max, mean
instead of sum, unsquared distances, alpha ignored) and names the one that was made.

``verify`` and ``who_is_it`` are checked with a small stand-in encoder built here (a seeded
convolution and a dense layer, not FaceNet) on synthetic pictures written to a temporary folder,
so grading needs neither the pretrained model nor the course's face pictures.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import keras
import numpy as np
from PIL import Image

from utils.checks import check_scalar
from utils.faces import build_database, img_to_encoding


def _triplet_variants(anchor, positive, negative, alpha) -> dict[str, float]:
    """The correct loss and the loss that each classic mistake gives, in numpy (float64)."""
    pos = np.sum((anchor - positive) ** 2, axis=-1)
    neg = np.sum((anchor - negative) ** 2, axis=-1)
    return {
        "correct": np.sum(np.maximum(pos - neg + alpha, 0)),
        "the squared distances were summed over every axis (over all examples) before the max; "
        "sum over the last axis only (axis=-1) so that each example has its own distances":
            max(pos.sum() - neg.sum() + alpha, 0),
        "the max with 0 is missing: examples whose negative is already far enough must "
        "contribute 0, not a negative number": np.sum(pos - neg + alpha),
        "the losses of the examples were averaged; the assignment sums them (tf.reduce_sum)":
            np.mean(np.maximum(pos - neg + alpha, 0)),
        "the distances are not squared: use the squared L2 distance, "
        "tf.reduce_sum(tf.square(anchor - positive), axis=-1)":
            np.sum(np.maximum(np.sqrt(pos) - np.sqrt(neg) + alpha, 0)),
        "alpha is ignored: add the margin alpha to pos_dist - neg_dist":
            np.sum(np.maximum(pos - neg, 0)),
        "alpha is subtracted: the basic loss is pos_dist - neg_dist + alpha":
            np.sum(np.maximum(pos - neg - alpha, 0)),
    }


def triplet_case(seed: int, m: int = 4, n: int = 8):
    """Anchors, positives and negatives (m, n) float32 whose per-example losses differ in sign."""
    rng = np.random.default_rng(seed)
    anchor = rng.normal(size=(m, n)).astype(np.float32)
    positive = (anchor + rng.normal(scale=0.5, size=(m, n))).astype(np.float32)
    negative = (anchor + rng.normal(scale=0.5, size=(m, n)) *
                np.linspace(0.5, 1.5, m)[:, None]).astype(np.float32)
    return anchor, positive, negative


def check_triplet_loss(triplet_loss, seeds=(1, 2), alphas=(0.2, 1.0)) -> None:
    """Seeded cases (with positive and negative basic losses), alpha, one example, all zero."""
    fn = "triplet_loss"
    cases = [(triplet_case(seed), alpha) for seed in seeds for alpha in alphas]
    a, p, _ = triplet_case(seeds[0], m=1)
    cases.append(((a, p, a + 10.0), 0.2))  # negative far away: the loss is 0
    for (anchor, positive, negative), alpha in cases:
        variants = _triplet_variants(*(x.astype(np.float64) for x in (anchor, positive, negative)),
                                     alpha)
        got = triplet_loss(None, [anchor, positive, negative], alpha=alpha)
        got = np.asarray(got)
        what = f"loss for {len(anchor)} triplet(s), alpha={alpha}"
        expected = variants.pop("correct")
        if np.ndim(got) == 0 and np.isfinite(got) and not np.isclose(got, expected, rtol=1e-4):
            for mistake, value in variants.items():
                if np.isclose(got, value, rtol=1e-4) and not np.isclose(value, expected, rtol=1e-4):
                    raise AssertionError(f"{fn}: wrong {what}: got {float(got):.6g}, expected "
                                         f"{expected:.6g}. It looks like {mistake}.")
        check_scalar(fn, what, got, expected, rtol=1e-4, atol=1e-5)


class StandIn:
    """A small encoder and synthetic pictures for checking verify and who_is_it (not FaceNet).

    ``model`` maps (batch, 24, 24, 3) pictures to 16 numbers through a seeded 4x4 convolution
    with stride 4 and a dense layer. ``folder`` holds one picture per name (random smooth
    colour fields, sizes and modes differ) and ``database`` their encodings.
    """

    def __init__(self, names=("ana", "ben", "chloe", "dev"), seed: int = 0):
        init = keras.initializers.GlorotUniform
        self.model = keras.Sequential([
            keras.Input(shape=(24, 24, 3)),
            keras.layers.Conv2D(4, 4, strides=4, activation="tanh",
                                kernel_initializer=init(seed=seed)),
            keras.layers.Flatten(),
            keras.layers.Dense(16, kernel_initializer=init(seed=seed + 1)),
        ], name="stand_in_encoder")
        self._tmp = tempfile.TemporaryDirectory(prefix="stand_in_faces_")
        self.folder = Path(self._tmp.name)
        rng = np.random.default_rng(seed)
        for i, name in enumerate(list(names) + ["visitor"]):
            field = rng.uniform(0, 255, size=(4, 5, 3)).astype(np.uint8)
            image = Image.fromarray(field).resize((30 + 7 * i, 28 + 5 * i), Image.BICUBIC)
            image.convert("L" if i == 1 else "RGB").save(self.folder / f"{name}.png")
        self.database = build_database([self.folder / f"{n}.png" for n in names], self.model)
        self.visitor = self.folder / "visitor.png"

    def distances(self, image_path) -> dict[str, float]:
        """{name: distance} from the picture's encoding to each identity in the database."""
        encoding = img_to_encoding(image_path, self.model)
        return {name: float(np.linalg.norm(encoding - stored))
                for name, stored in self.database.items()}


def _bool(fn: str, what: str, got) -> bool:
    if not isinstance(got, (bool, np.bool_)):
        raise AssertionError(f"{fn}: {what} should be True or False, got {type(got).__name__}")
    return bool(got)


def check_verify(verify, seed: int = 0) -> None:
    """Distance to the claimed identity, the threshold used as a strict upper bound, unknown name."""
    fn = "verify"
    s = StandIn(seed=seed)
    for identity in s.database:
        expected = s.distances(s.visitor)[identity]
        for threshold, opens in ((expected + 1e-3, True), (expected - 1e-3, False)):
            result = verify(s.visitor, identity, s.database, s.model, threshold=threshold)
            if not isinstance(result, tuple) or len(result) != 2:
                raise AssertionError(f"{fn}: should return (dist, door_open), got {result!r}")
            dist, door_open = result
            check_scalar(fn, f"distance between the visitor and {identity}", np.asarray(dist),
                         expected, rtol=1e-4, atol=1e-5)
            if _bool(fn, "door_open", door_open) != opens:
                raise AssertionError(
                    f"{fn}: distance {expected:.4f} with threshold {threshold:.4f}: door_open "
                    f"should be {opens} (the door opens when the distance is below the threshold)")
    own = s.folder / f"{next(iter(s.database))}.png"
    dist, door_open = verify(own, next(iter(s.database)), s.database, s.model, threshold=0.5)
    check_scalar(fn, "distance of a picture to its own encoding", np.asarray(dist), 0.0, atol=1e-5)
    try:
        verify(s.visitor, "mallory", s.database, s.model)
    except (KeyError, ValueError) as error:
        if "mallory" not in str(error):
            raise AssertionError(f"{fn}: the error for an unknown identity should name it, got "
                                 f"{error!r}") from None
    else:
        raise AssertionError(f"{fn}: an identity that is not in the database ('mallory') should "
                             "raise a ValueError naming it")


def check_who_is_it(who_is_it, seed: int = 0) -> None:
    """Nearest identity and its distance; None above the threshold; a resident finds herself."""
    fn = "who_is_it"
    s = StandIn(seed=seed)
    distances = s.distances(s.visitor)
    nearest = min(distances, key=distances.get)
    for threshold, identity in ((distances[nearest] + 1e-3, nearest),
                                (distances[nearest] - 1e-3, None)):
        result = who_is_it(s.visitor, s.database, s.model, threshold=threshold)
        if not isinstance(result, tuple) or len(result) != 2:
            raise AssertionError(f"{fn}: should return (min_dist, identity), got {result!r}")
        min_dist, got = result
        check_scalar(fn, "min_dist", np.asarray(min_dist), distances[nearest], rtol=1e-4,
                     atol=1e-5)
        if got != identity:
            raise AssertionError(
                f"{fn}: nearest identity {nearest!r} at distance {distances[nearest]:.4f}, "
                f"threshold {threshold:.4f}: identity should be {identity!r}, got {got!r} "
                "(None means 'not in the database')")
    for name in s.database:
        min_dist, got = who_is_it(s.folder / f"{name}.png", s.database, s.model, threshold=0.5)
        if got != name:
            raise AssertionError(f"{fn}: {name}'s own picture should be recognised as {name!r}, "
                                 f"got {got!r} at distance {float(min_dist):.4f}")
