"""Tests of assignment 5 (face verification and recognition), one GradedFunction per graded
function.

Answers are compared with the reference solution's: stored for the public cases, computed by
the grader for all cases (``utils.graded``); the course's tests check the reference solution
itself against numpy methods.

``triplet_loss`` is also called on probes, related inputs (the triplets as one long triplet,
alpha 0, negated or large, positives and negatives swapped, everything doubled): when the loss is
wrong, the reference's answers to those inputs give the losses of the classic mistakes
(distances summed over every axis, the max after the sum or none, mean instead of sum, alpha
ignored or subtracted), and unsquared distances show as a loss that only doubles when the
encodings and alpha double. The comparison names the mistake made (``mistakes``, see
``utils.mistakes``); ``verify`` and ``who_is_it`` name theirs from the distances and decisions
they return.

``verify`` and ``who_is_it`` are checked with a small stand-in encoder (a seeded convolution and
a dense layer, not FaceNet) on synthetic pictures, so grading needs neither the pretrained model
nor the course's face pictures. The pictures travel as arrays in the inputs; ``call`` writes
them to a temporary folder, builds the encoder from the case's seed and the database, calls the
function once, then again with thresholds just above and just below the distance it returned;
the comparison checks that distance, and the thresholds, against the reference's distance.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import keras
import numpy as np
from PIL import Image

from utils.checks import answer, check_scalar, no_such_case, type_name
from utils.faces import build_database
from utils.graded import GradedFunction, register
from utils.i18n import N_, _, ngettext
from utils.mistakes import Mistake, close, scalar, shape
from utils.student_errors import capture, raised_message

NAMES = ("ana", "ben", "chloe", "dev")  # the stand-in residents
MARGIN = 1e-3  # how far above and below the distance at stake the thresholds lie


def _number(value):
    """A returned number (Python, numpy or a scalar tensor) as plain data; anything else as
    ``answer`` records it."""
    return answer(value.numpy() if hasattr(value, "numpy") else value)


def _probe_is_right(name: str, right: bool):
    """A condition on (got, expected): the probe ``name`` is (``right``) or is not the
    reference's."""
    return lambda got, expected: close(got["probes"][name], expected["probes"][name]) == right


def _triplet_mistake(name: str, cause: str, fix: str, value, also=None) -> Mistake:
    """The mistake whose loss is ``value(inputs, expected)`` (a wrong loss), when ``also(got,
    expected)`` holds too."""
    def seen(inputs, got, expected):
        loss, wanted, wrong = (scalar(got["loss"]), float(expected["loss"]),
                               float(value(inputs, expected)))
        return (loss is not None and not np.isclose(wrong, wanted, rtol=1e-4, atol=1e-6)
                and bool(np.isclose(loss, wrong, rtol=1e-4, atol=1e-6))
                and (also is None or also(got, expected)))
    return Mistake(name, cause, fix, seen)


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
    INPUTS = ("anchor", "positive", "negative")

    def inputs(self, seed=1, alpha=0.2, case=None):
        """Four seeded triplets of 8 numbers (some with a positive basic loss, some negative),
        or ``case="far_negative"``: one triplet whose negative is far away (loss 0)."""
        if case == "far_negative":
            anchor, positive, _ = _triplets(seed, m=1)
            triplets = (anchor, positive, anchor + np.float32(10))
        elif case is None:
            triplets = _triplets(seed)
        else:
            raise ValueError(no_such_case(self.name, case, ["far_negative"]))
        return {**dict(zip(self.INPUTS, triplets)), "alpha": alpha}

    def call(self, fn, inputs):
        """The loss, and the losses of the probes: the triplets as one long triplet
        (``one_triplet``), alpha 0 (``no_alpha``), -alpha (``minus_alpha``) or alpha + 100
        (``large_alpha``: every example's basic loss positive), positives and negatives swapped
        with -alpha (``swapped``, the sum of max(-basic loss, 0)), encodings and alpha doubled
        (``doubled``); a probe that raises is None."""
        anchor, positive, negative = (inputs[k] for k in self.INPUTS)
        alpha = inputs["alpha"]

        def loss(triplet, margin):
            """(the loss as plain data, or None; the error raised, or None)"""
            value, raised = capture(fn, None, list(triplet), alpha=margin)
            return (None, raised) if raised else (_number(value), None)

        value, raised = loss((anchor, positive, negative), alpha)
        if raised:
            return {"raised": raised}
        probes = {"one_triplet": ([x.reshape(1, -1) for x in (anchor, positive, negative)], alpha),
                  "no_alpha": ((anchor, positive, negative), 0.0),
                  "minus_alpha": ((anchor, positive, negative), -alpha),
                  "swapped": ((anchor, negative, positive), -alpha),
                  "large_alpha": ((anchor, positive, negative), alpha + 100.0),
                  "doubled": ((2 * anchor, 2 * positive, 2 * negative), 2 * alpha)}
        return {"loss": value, "probes": {name: loss(*args)[0] for name, args in probes.items()}}

    def assert_answer(self, case, inputs, got, expected):
        label = self.label(case)
        count = len(inputs["anchor"])
        what = ngettext("loss for {count} triplet, alpha={alpha}",
                        "loss for {count} triplets, alpha={alpha}", count).format(
            count=count, alpha=inputs["alpha"])
        if "raised" in got:
            raise AssertionError(raised_message(
                label, _("anchor, positive and negative of shape {shape}").format(
                    shape=inputs["anchor"].shape), got["raised"]))
        check_scalar(label, what, got["loss"], float(expected["loss"]), rtol=1e-4, atol=1e-5)

    # The sum of max(b, 0) minus the sum of max(-b, 0) is the sum of the basic losses b.
    mistakes = (
        _triplet_mistake(
            "summed_all_axes", N_("the squared distances are summed over every axis"),
            N_("sum over the last axis only (axis=-1): each example has its own distances"),
            lambda inputs, expected: expected["probes"]["one_triplet"],
            _probe_is_right("large_alpha", False)),
        _triplet_mistake(
            "max_after_sum", N_("the max with 0 is taken after the sum"),
            N_("take it for each example, then add the results up"),
            lambda inputs, expected: max(
                float(expected["loss"]) - float(expected["probes"]["swapped"]), 0.0),
            _probe_is_right("large_alpha", True)),
        _triplet_mistake(
            "no_max", N_("the max with 0 is missing"),
            N_("an example whose negative is far enough adds 0: tf.maximum(basic_loss, 0)"),
            lambda inputs, expected: (float(expected["loss"])
                                      - float(expected["probes"]["swapped"]))),
        _triplet_mistake(
            "mean", N_("the examples' losses are averaged"),
            N_("the assignment adds them up with tf.reduce_sum"),
            lambda inputs, expected: float(expected["loss"]) / len(inputs["anchor"])),
        Mistake("unsquared", N_("the distances are not squared"),
                N_("use the squared L2 distance, tf.reduce_sum(tf.square(...), axis=-1)"),
                lambda inputs, got, expected: (
                    close(scalar(got["probes"]["doubled"]), 2 * scalar(got["loss"]))
                    and not close(scalar(got["loss"]), float(expected["loss"]))
                    and scalar(got["loss"]) > 0)),
        _triplet_mistake(
            "no_alpha", N_("alpha is left out"), N_("add the margin: pos_dist - neg_dist + alpha"),
            lambda inputs, expected: expected["probes"]["no_alpha"]),
        _triplet_mistake(
            "minus_alpha", N_("alpha is subtracted"),
            N_("the basic loss is pos_dist - neg_dist + alpha"),
            lambda inputs, expected: expected["probes"]["minus_alpha"]),
    )


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
        raise AssertionError(_("{label}: should return the tuple ({names}), got {type}").format(
            label=label, names=names, type=got["type"]))


def _check_threshold(label: str, threshold: float, distance: float, above: bool) -> None:
    """The check's threshold lies MARGIN above (or below) the reference's distance."""
    if not np.isclose(threshold - distance, MARGIN if above else -MARGIN, atol=MARGIN / 2):
        message = (_("{label}: the check used threshold {threshold:.6f}, which is not {margin} "
                     "above the stand-in's distance {distance:.6f}: was the check changed?")
                   if above else
                   _("{label}: the check used threshold {threshold:.6f}, which is not {margin} "
                     "below the stand-in's distance {distance:.6f}: was the check changed?"))
        raise AssertionError(message.format(label=label, threshold=threshold, margin=MARGIN,
                                            distance=distance))


def _bracketing_runs(fn, *args) -> dict:
    """``fn(*args, threshold=0.5)`` (``measured``), then ``fn(*args, threshold=...)`` with
    thresholds MARGIN above and below the distance it returned (``runs``, each noting its
    threshold; none when that distance is not one finite number)."""
    measured = _pair(fn, *args, threshold=0.5)
    distance = measured.get("first")
    if not (isinstance(distance, (np.ndarray, np.generic, int, float)) and np.ndim(distance) == 0
            and np.isrealobj(distance) and np.isfinite(distance)):
        return {"measured": measured, "runs": []}
    distance = float(distance)
    return {"measured": measured,
            "runs": [{**_pair(fn, *args, threshold=distance + offset),
                      "threshold": distance + offset} for offset in (MARGIN, -MARGIN)]}


def _check_runs(label: str, names: str, what: str, distance_name: str, got: dict,
                expected: dict) -> float:
    """The calls of ``_bracketing_runs`` on ``what`` returned pairs with the reference's
    distance, and their thresholds bracket it; returns that distance."""
    distance = float(expected["measured"]["first"])
    for run in (got["measured"], *got["runs"]):
        _check_pair(label, names, _("{what} and threshold {threshold:.4f}").format(
            what=what, threshold=run.get("threshold", 0.5)), run)
        check_scalar(label, distance_name, run["first"], distance, rtol=1e-4, atol=1e-5)
    for run, above in zip(got["runs"], (True, False)):
        _check_threshold(label, run["threshold"], distance, above)
    return distance


class Verify(GradedFunction):
    """verify: the distance to the claimed identity, and the door open only below the threshold."""

    name = "verify"

    def inputs(self, seed=0):
        return {"seed": seed, "pictures": stand_in_pictures(seed)}

    def call(self, fn, inputs):
        s = StandIn(inputs["seed"], inputs["pictures"])
        runs = {name: _bracketing_runs(fn, s.visitor, name, s.database, s.model)
                for name in NAMES}
        own = _pair(fn, s.path(NAMES[0]), NAMES[0], s.database, s.model, threshold=0.5)
        _, raised = capture(fn, s.visitor, "mallory", s.database, s.model)
        return {"runs": runs, "own": own,
                "unknown": {"raised": raised["type"] if raised else None,
                            "names_it": bool(raised and "mallory" in raised["message"])}}

    def assert_answer(self, case, inputs, got, expected):
        label = self.label(case)
        for name in NAMES:
            runs, wanted = got["runs"][name], expected["runs"][name]
            distance = _check_runs(
                label, "dist, door_open",
                _("the visitor's picture, identity {name!r}").format(name=name),
                _("distance between the visitor and {name}").format(name=name), runs, wanted)
            for run, door_open in zip(runs["runs"], (True, False)):
                if not isinstance(run["second"], bool):
                    raise AssertionError(_("{label}: door_open should be True or False, got "
                                           "{type}").format(label=label,
                                                            type=type_name(run["second"])))
                if run["second"] is not door_open:
                    raise AssertionError(_(
                        "{label}: distance {distance:.4f} with threshold {threshold:.4f}: "
                        "door_open should be {door_open}, got {got!r} (the door opens when the "
                        "distance is below the threshold)").format(
                        label=label, distance=distance, threshold=run["threshold"],
                        door_open=door_open, got=run["second"]))
        _check_pair(label, "dist, door_open",
                    _("{name}'s own picture").format(name=NAMES[0]), got["own"])
        check_scalar(label, _("distance of a picture to its own encoding"),
                     got["own"]["first"], 0.0, atol=1e-5)
        unknown = got["unknown"]
        if unknown["raised"] not in ("ValueError", "KeyError") or not unknown["names_it"]:
            if not unknown["raised"]:
                message = _("{label}: an identity that is not in the database ('mallory') "
                            "should raise a ValueError naming it; it raised nothing")
            elif unknown["names_it"]:
                message = _("{label}: an identity that is not in the database ('mallory') "
                            "should raise a ValueError naming it; it raised {error}")
            else:
                message = _("{label}: an identity that is not in the database ('mallory') "
                            "should raise a ValueError naming it; it raised {error} without "
                            "naming it")
            raise AssertionError(message.format(label=label, error=unknown["raised"]))

    @staticmethod
    def _door_reversed(inputs, got, expected):
        return all([run["second"] for run in got["runs"][name]["runs"]] == [False, True]
                   for name in NAMES)

    @staticmethod
    def _squared(inputs, got, expected):
        return all(close(scalar(got["runs"][name]["measured"]["first"]),
                         float(expected["runs"][name]["measured"]["first"]) ** 2)
                   for name in NAMES)

    @staticmethod
    def _distance_array(inputs, got, expected):
        return all(shape(got["runs"][name]["measured"]["first"]) == (1,)
                   and close(got["runs"][name]["measured"]["first"].item(),
                             float(expected["runs"][name]["measured"]["first"]))
                   for name in NAMES)

    mistakes = (
        Mistake("door_reversed", N_("the door opens when the distance is above the threshold"),
                N_("open it when dist < threshold"), _door_reversed),
        Mistake("squared", N_("dist is the squared distance"),
                N_("use the L2 distance itself, np.linalg.norm(encoding - database[identity])"),
                _squared),
        Mistake("distance_array", N_("dist is an array of shape (1,), not a number"),
                N_("take the norm over every axis, or float() of the one distance"),
                _distance_array),
    )


class WhoIsIt(GradedFunction):
    """who_is_it: the nearest resident and the distance; None at or above the threshold."""

    name = "who_is_it"

    def inputs(self, seed=0):
        return {"seed": seed, "pictures": stand_in_pictures(seed)}

    def call(self, fn, inputs):
        s = StandIn(inputs["seed"], inputs["pictures"])
        return {"visitor": _bracketing_runs(fn, s.visitor, s.database, s.model),
                "own": {name: _pair(fn, s.path(name), s.database, s.model, threshold=0.5)
                        for name in NAMES}}

    def assert_answer(self, case, inputs, got, expected):
        label = self.label(case)
        distance = _check_runs(label, "min_dist, identity", _("the visitor's picture"),
                               "min_dist", got["visitor"], expected["visitor"])
        nearest = expected["visitor"]["runs"][0]["second"]  # the reference's, below its threshold
        for run, identity in zip(got["visitor"]["runs"], (nearest, None)):
            if run["second"] != identity:
                raise AssertionError(_(
                    "{label}: nearest identity {nearest!r} at distance {distance:.4f}, threshold "
                    "{threshold:.4f}: identity should be {identity!r}, got {got!r} (None means "
                    "'not in the database')").format(
                    label=label, nearest=nearest, distance=distance, threshold=run["threshold"],
                    identity=identity, got=run["second"]))
        for name in NAMES:
            run = got["own"][name]
            _check_pair(label, "min_dist, identity",
                        _("{name}'s own picture").format(name=name), run)
            if run["second"] != name:
                raise AssertionError(_("{label}: {name}'s own picture should be recognised as "
                                       "{name!r}, got {got!r} at distance {distance:.4f}").format(
                    label=label, name=name, got=run["second"], distance=float(run["first"])))

    @staticmethod
    def _never_none(inputs, got, expected):
        nearest = expected["visitor"]["runs"][0]["second"]
        runs = got["visitor"]["runs"]
        return [run["second"] for run in runs] == [nearest, nearest]

    @staticmethod
    def _starts_at_zero(inputs, got, expected):
        measured = got["visitor"]["measured"]
        return (close(scalar(measured["first"]), 0.0) and measured["second"] is None
                and scalar(expected["visitor"]["measured"]["first"]) > 1e-3)

    @staticmethod
    def _farthest(inputs, got, expected):
        measured = got["visitor"]["measured"]
        distance = scalar(measured["first"])
        return (distance is not None
                and distance > float(expected["visitor"]["measured"]["first"]) * (1 + 1e-3))

    mistakes = (
        Mistake("never_none", N_("identity is not None when min_dist >= threshold"),
                N_("set identity = None when the nearest resident is too far"), _never_none),
        Mistake("starts_at_zero", N_("min_dist starts at 0, so no distance is ever smaller"),
                N_("start it above every distance: min_dist = np.inf"), _starts_at_zero),
        Mistake("farthest", N_("the resident kept is not the nearest one"),
                N_("keep a resident when dist < min_dist, starting from an infinite min_dist"),
                _farthest),
    )


CHECKS = register(TripletLoss(), Verify(), WhoIsIt())
check_triplet_loss = CHECKS["triplet_loss"].check
check_verify = CHECKS["verify"].check
check_who_is_it = CHECKS["who_is_it"].check
