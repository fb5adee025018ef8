"""Tests of assignment 5 (face verification and recognition), one GradedFunction per graded
function.

``triplet_loss`` is compared with the loss computed in numpy in another way (squared distances
as dot products of the differences, the hinge as a clip) and, when the answer is wrong, the
comparison recognises the usual mistakes (distances summed over every axis before the max, no
max, mean instead of sum, unsquared distances, alpha ignored) and names the one that was made.

``verify`` and ``who_is_it`` are checked with a small stand-in encoder (a seeded convolution and
a dense layer, not FaceNet) on synthetic pictures, so grading needs neither the pretrained model
nor the course's face pictures. The pictures travel as arrays in the inputs; ``call`` writes
them to a temporary folder, builds the encoder from the case's seed and the database, and calls
the function with thresholds just above and just below the distance at stake, which the
comparison checks against the expected distance.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import keras
import numpy as np
from PIL import Image

from utils.checks import answer, check_scalar, type_name
from utils.faces import build_database, img_to_encoding
from utils.graded import GradedFunction, register
from utils.student_errors import capture, raised_message

NAMES = ("ana", "ben", "chloe", "dev")  # the stand-in residents
MARGIN = 1e-3  # how far above and below the distance at stake the thresholds lie


def _number(value):
    """A returned number (Python, numpy or a scalar tensor) as plain data; anything else as
    ``answer`` records it."""
    return answer(value.numpy() if hasattr(value, "numpy") else value)


def _triplet_variants(anchor, positive, negative, alpha) -> dict[str, float]:
    """The loss that each classic mistake gives, in numpy (float64)."""
    pos = np.sum((anchor - positive) ** 2, axis=-1)
    neg = np.sum((anchor - negative) ** 2, axis=-1)
    return {
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


def _triplets(seed: int, m: int = 4, n: int = 8):
    """Anchors, positives and negatives (m, n) float32 whose per-example losses differ in sign."""
    rng = np.random.default_rng(seed)
    anchor = rng.normal(size=(m, n)).astype(np.float32)
    positive = (anchor + rng.normal(scale=0.5, size=(m, n))).astype(np.float32)
    negative = (anchor + rng.normal(scale=0.5, size=(m, n)) *
                np.linspace(0.5, 1.5, m)[:, None]).astype(np.float32)
    return anchor, positive, negative


class TripletLoss(GradedFunction):
    """triplet_loss: the sum over the examples of max(|a - p|^2 - |a - n|^2 + alpha, 0)."""

    name = "triplet_loss"
    _INPUTS = ("anchor", "positive", "negative")

    def inputs(self, seed=1, alpha=0.2, case=None):
        """Four seeded triplets of 8 numbers (some with a positive basic loss, some negative),
        or ``case="far_negative"``: one triplet whose negative is far away (loss 0)."""
        if case == "far_negative":
            anchor, positive, _ = _triplets(seed, m=1)
            triplets = (anchor, positive, anchor + np.float32(10))
        elif case is None:
            triplets = _triplets(seed)
        else:
            raise ValueError(f"triplet_loss has no case {case!r}; try 'far_negative'")
        return {**dict(zip(self._INPUTS, triplets)), "alpha": alpha}

    def call(self, fn, inputs):
        loss, raised = capture(fn, None, [inputs[k] for k in self._INPUTS],
                               alpha=inputs["alpha"])
        return {"raised": raised} if raised else {"loss": _number(loss)}

    def expected(self, case, inputs):
        """The squared distances as dot products of the differences, the hinge as a clip."""
        anchor, positive, negative = (inputs[k].astype(np.float64) for k in self._INPUTS)
        to_positive, to_negative = anchor - positive, anchor - negative
        basic = (np.einsum("ij,ij->i", to_positive, to_positive)
                 - np.einsum("ij,ij->i", to_negative, to_negative) + inputs["alpha"])
        return {"loss": float(np.clip(basic, 0, None).sum())}

    def compare(self, case, inputs, got, expected):
        label = self.label(case)
        what = f"loss for {len(inputs['anchor'])} triplet(s), alpha={inputs['alpha']}"
        if "raised" in got:
            raise AssertionError(raised_message(
                label, f"anchor, positive and negative of shape {inputs['anchor'].shape}",
                got["raised"]))
        loss, wanted = got["loss"], float(expected["loss"])
        if (isinstance(loss, (float, np.ndarray, np.generic)) and np.ndim(loss) == 0
                and np.isfinite(loss) and not np.isclose(loss, wanted, rtol=1e-4)):
            variants = _triplet_variants(*(inputs[k].astype(np.float64) for k in self._INPUTS),
                                         inputs["alpha"])
            for mistake, value in variants.items():
                if np.isclose(loss, value, rtol=1e-4) and not np.isclose(value, wanted, rtol=1e-4):
                    raise AssertionError(f"{label}: wrong {what}: got {float(loss):.6g}, expected "
                                         f"{wanted:.6g}. It looks like {mistake}.")
        check_scalar(label, what, loss, wanted, rtol=1e-4, atol=1e-5)


def stand_in_pictures(seed: int) -> dict[str, np.ndarray]:
    """{name: picture} for NAMES and "visitor": random smooth colour fields (uint8) of different
    sizes; ben's is grayscale (2-D)."""
    rng = np.random.default_rng(seed)
    pictures = {}
    for i, name in enumerate((*NAMES, "visitor")):
        field = rng.uniform(0, 255, size=(4, 5, 3)).astype(np.uint8)
        image = Image.fromarray(field).resize((30 + 7 * i, 28 + 5 * i), Image.BICUBIC)
        pictures[name] = np.asarray(image.convert("L" if i == 1 else "RGB"))
    return pictures


class StandIn:
    """A small encoder, pictures in a temporary folder and their database (not FaceNet).

    ``model`` maps (batch, 24, 24, 3) pictures to 16 numbers through a seeded 4x4 convolution
    with stride 4 and a dense layer. ``folder`` holds ``pictures`` (default: the seeded
    ``stand_in_pictures``) as PNG files, ``database`` the encodings of NAMES.
    """

    def __init__(self, seed: int = 0, pictures: dict[str, np.ndarray] | None = None):
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
        for name, picture in (pictures or stand_in_pictures(seed)).items():
            Image.fromarray(np.asarray(picture, np.uint8)).save(self.path(name))
        self.database = build_database([self.path(n) for n in NAMES], self.model)
        self.visitor = self.path("visitor")

    def path(self, name: str) -> Path:
        return self.folder / f"{name}.png"

    def distances(self, image_path) -> dict[str, float]:
        """{name: distance} from the picture's encoding to each identity in the database."""
        encoding = img_to_encoding(image_path, self.model)
        return {name: float(np.linalg.norm(encoding - stored))
                for name, stored in self.database.items()}


def _flag(value):
    """door_open or identity as plain data: None, a bool or a str; else its type name."""
    if isinstance(value, np.bool_):
        return bool(value)
    return value if value is None or isinstance(value, (bool, str)) else {
        "type": type_name(answer(value))}


def _pair(fn, *args, **kwargs) -> dict:
    """Call ``fn``; the pair it returns as plain data (``first``, ``second``), or its error."""
    result, raised = capture(fn, *args, **kwargs)
    if raised:
        return {"raised": raised}
    if not (isinstance(result, tuple) and len(result) == 2):
        return {"returns_pair": False, "type": type_name(answer(result))}
    return {"returns_pair": True, "first": _number(result[0]), "second": _flag(result[1])}


def _check_pair(label: str, names: str, what: str, got: dict) -> None:
    """The call on ``what`` returned a pair without raising."""
    if "raised" in got:
        raise AssertionError(raised_message(label, what, got["raised"]))
    if not got["returns_pair"]:
        raise AssertionError(f"{label}: should return the tuple ({names}), got {got['type']}")


def _check_threshold(label: str, threshold: float, distance: float, above: bool) -> None:
    """The check's threshold lies MARGIN above (or below) the expected distance."""
    if not np.isclose(threshold - distance, MARGIN if above else -MARGIN, atol=MARGIN / 2):
        raise AssertionError(f"{label}: the check used threshold {threshold:.6f}, which is not "
                             f"{MARGIN} {'above' if above else 'below'} the stand-in's "
                             f"distance {distance:.6f}: was the check changed?")


def _bracketing_runs(fn, distance: float, *args) -> list[dict]:
    """``fn(*args, threshold=...)`` with thresholds MARGIN above and below ``distance``, each
    run noting its threshold."""
    return [{**_pair(fn, *args, threshold=distance + offset), "threshold": distance + offset}
            for offset in (MARGIN, -MARGIN)]


class Verify(GradedFunction):
    """verify: the distance to the claimed identity, and the door open only below the threshold."""

    name = "verify"

    def inputs(self, seed=0):
        return {"seed": seed, "pictures": stand_in_pictures(seed)}

    def call(self, fn, inputs):
        s = StandIn(inputs["seed"], inputs["pictures"])
        distances = s.distances(s.visitor)
        runs = {name: _bracketing_runs(fn, distance, s.visitor, name, s.database, s.model)
                for name, distance in distances.items()}
        own = _pair(fn, s.path(NAMES[0]), NAMES[0], s.database, s.model, threshold=0.5)
        _, raised = capture(fn, s.visitor, "mallory", s.database, s.model)
        return {"runs": runs, "own": own,
                "unknown": {"raised": raised["type"] if raised else None,
                            "names_it": bool(raised and "mallory" in raised["message"])}}

    def expected(self, case, inputs):
        s = StandIn(inputs["seed"], inputs["pictures"])
        return {"runs": {name: [{"first": d, "second": True}, {"first": d, "second": False}]
                         for name, d in s.distances(s.visitor).items()}}

    def compare(self, case, inputs, got, expected):
        label = self.label(case)
        for name, runs in expected["runs"].items():
            for run, wanted, above in zip(got["runs"][name], runs, (True, False)):
                _check_pair(label, "dist, door_open", f"the visitor's picture, identity {name!r}"
                            f" and threshold {run['threshold']:.4f}", run)
                distance = float(wanted["first"])
                check_scalar(label, f"distance between the visitor and {name}", run["first"],
                             distance, rtol=1e-4, atol=1e-5)
                _check_threshold(label, run["threshold"], distance, above)
                if not isinstance(run["second"], bool):
                    raise AssertionError(f"{label}: door_open should be True or False, got "
                                         f"{type_name(run['second'])}")
                if run["second"] is not wanted["second"]:
                    raise AssertionError(
                        f"{label}: distance {distance:.4f} with threshold {run['threshold']:.4f}:"
                        f" door_open should be {wanted['second']}, got {run['second']!r} (the "
                        "door opens when the distance is below the threshold)")
        _check_pair(label, "dist, door_open", f"{NAMES[0]}'s own picture", got["own"])
        check_scalar(label, "distance of a picture to its own encoding", got["own"]["first"],
                     0.0, atol=1e-5)
        unknown = got["unknown"]
        if unknown["raised"] not in ("ValueError", "KeyError") or not unknown["names_it"]:
            raised = (f"raised {unknown['raised']}" + ("" if unknown["names_it"] else
                                                       " without naming it")
                      if unknown["raised"] else "raised nothing")
            raise AssertionError(f"{label}: an identity that is not in the database ('mallory') "
                                 f"should raise a ValueError naming it; it {raised}")


class WhoIsIt(GradedFunction):
    """who_is_it: the nearest resident and the distance; None at or above the threshold."""

    name = "who_is_it"

    def inputs(self, seed=0):
        return {"seed": seed, "pictures": stand_in_pictures(seed)}

    def call(self, fn, inputs):
        s = StandIn(inputs["seed"], inputs["pictures"])
        nearest = min(s.distances(s.visitor).values())
        return {"runs": _bracketing_runs(fn, nearest, s.visitor, s.database, s.model),
                "own": {name: _pair(fn, s.path(name), s.database, s.model, threshold=0.5)
                        for name in NAMES}}

    def expected(self, case, inputs):
        s = StandIn(inputs["seed"], inputs["pictures"])
        distances = s.distances(s.visitor)
        nearest = min(distances, key=distances.get)
        return {"runs": [{"first": distances[nearest], "second": nearest},
                         {"first": distances[nearest], "second": None}],
                "own": {name: {"second": name} for name in NAMES}}

    def compare(self, case, inputs, got, expected):
        label = self.label(case)
        for run, wanted, above in zip(got["runs"], expected["runs"], (True, False)):
            _check_pair(label, "min_dist, identity", f"the visitor's picture and threshold "
                        f"{run['threshold']:.4f}", run)
            distance = float(wanted["first"])
            check_scalar(label, "min_dist", run["first"], distance, rtol=1e-4, atol=1e-5)
            _check_threshold(label, run["threshold"], distance, above)
            if run["second"] != wanted["second"]:
                raise AssertionError(
                    f"{label}: nearest identity {expected['runs'][0]['second']!r} at distance "
                    f"{distance:.4f}, threshold {run['threshold']:.4f}: identity should be "
                    f"{wanted['second']!r}, got {run['second']!r} (None means 'not in the "
                    "database')")
        for name, wanted in expected["own"].items():
            run = got["own"][name]
            _check_pair(label, "min_dist, identity", f"{name}'s own picture", run)
            if run["second"] != wanted["second"]:
                raise AssertionError(f"{label}: {name}'s own picture should be recognised as "
                                     f"{name!r}, got {run['second']!r} at distance "
                                     f"{float(run['first']):.4f}")


CHECKS = register(TripletLoss(), Verify(), WhoIsIt())
check_triplet_loss = CHECKS["triplet_loss"].check
check_verify = CHECKS["verify"].check
check_who_is_it = CHECKS["who_is_it"].check
