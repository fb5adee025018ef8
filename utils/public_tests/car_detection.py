"""Tests of assignment 4 (YOLO car detection), one GradedFunction per graded function.

Answers are compared with the reference solution's: stored for the public cases, computed by
the grader for all cases (``utils.graded``); the course's tests check the reference solution
itself against numpy methods. Hand-built cases catch the classic mistakes: scores equal to the
threshold (kept), everything below it, disjoint boxes (including boxes apart in both
directions, where an unclamped intersection becomes positive), two overlapping boxes of one
class, the same boxes in different classes, and no boxes at all.

Detections are compared in order of decreasing score. When the function raises, the message
names the function, the case, the input and the likely cause (a reduction without an axis).

The classic mistakes of each exercise are named (``mistakes``, see ``utils.mistakes``), some
through probes, the function called again with one argument changed, whose reference answers
are what a mistake gives: box_confidence of ones (forgotten in the scores), every box in one
class (suppression across classes), the default IoU threshold (an argument not passed on), an
IoU threshold of 1 with no box limit (no suppression at all).

TensorFlow is imported only where a function is called (``call``): comparing answers takes
numpy alone, so a grading worker that compares them never imports TensorFlow.
"""

from __future__ import annotations

import sys

import numpy as np

from utils.checks import (answer, check_close, check_ndarray, check_scalar, check_shape,
                          no_such_case, type_name)
from utils.graded import GradedFunction, register
from utils.i18n import N_, _, ngettext
from utils.mistakes import Mistake, close, numbers
from utils.student_errors import capture, raised_message, shapes_in

DETECTIONS = ("scores", "boxes", "classes")


def random_outputs(seed: int, grid=(19, 19), anchors=5, classes=80):
    """(box_confidence, boxes, box_class_probs) like a YOLO head's, seeded: shapes
    (*grid, anchors, 1), (*grid, anchors, 4) and (*grid, anchors, classes), float32."""
    rng = np.random.default_rng(seed)
    shape = (*grid, anchors)
    confidence = rng.uniform(0, 1, (*shape, 1)).astype(np.float32)
    boxes = rng.uniform(0, 1, (*shape, 4)).astype(np.float32)
    logits = rng.normal(0, 2, (*shape, classes))
    probs = (np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)).astype(np.float32)
    return confidence, boxes, probs


def _plain(value):
    """A returned tensor or array as a numpy array; anything else as ``answer`` records it."""
    tf = sys.modules.get("tensorflow")
    if tf is not None and isinstance(value, (tf.Tensor, tf.Variable)):
        value = value.numpy()
    return answer(value)


def _detections(fn, *args, **kwargs) -> dict:
    """Call ``fn``; its (scores, boxes, classes) as plain data, or the error it raised."""
    result, raised = capture(fn, *args, **kwargs)
    if raised:
        return {"raised": raised}
    if not (isinstance(result, (tuple, list)) and len(result) == 3):
        return {"returns_triple": False, "type": type_name(_plain(result))}
    return {"returns_triple": True, **{k: _plain(v) for k, v in zip(DETECTIONS, result)}}


def _shapes(inputs: dict, names) -> str:
    """``name (shape), ...`` of the input arrays: the input a message names."""
    return ", ".join(f"{n} {tuple(np.shape(inputs[n]))}" for n in names)


def _compare_detections(label: str, got: dict, expected: dict) -> None:
    """Same boxes, scores and classes, in order of decreasing score."""
    if not got["returns_triple"]:
        raise AssertionError(_("{label}: should return the tuple ({names}), got {type}").format(
            label=label, names=", ".join(DETECTIONS), type=got["type"]))
    for key in DETECTIONS:
        check_ndarray(label, key, got[key])
    n = len(expected["scores"])
    if got["scores"].ndim == 1 and len(got["scores"]) != n:
        best = ", ".join(f"{s:.4g}" for s in np.sort(expected["scores"])[::-1][:8])
        kept = len(got["scores"])
        raise AssertionError(ngettext("{label}: kept {count} box, expected {expected} (scores "
                                      "{scores})", "{label}: kept {count} boxes, expected "
                                      "{expected} (scores {scores})", kept).format(
            label=label, count=kept, expected=n, scores=best + (", ..." if n > 8 else "")))
    check_shape(label, "scores", got["scores"], (n,))
    check_shape(label, "boxes", got["boxes"], (n, 4))
    check_shape(label, "classes", got["classes"], (n,))
    if got["classes"].dtype.kind not in "iu":
        raise AssertionError(_("{label}: classes should be integers, got dtype {dtype}").format(
            label=label, dtype=got["classes"].dtype))
    order = np.argsort(-got["scores"], kind="stable")
    by_score = np.argsort(-np.asarray(expected["scores"]), kind="stable")
    for key, rtol, atol in (("scores", 1e-5, 1e-6), ("boxes", 1e-5, 1e-4), ("classes", 0, 0)):
        check_close(label, key, got[key][order], np.asarray(expected[key])[by_score], rtol, atol)


def _by_score(detections: dict) -> tuple[np.ndarray, np.ndarray] | None:
    """(scores, boxes) of a function's detections in order of decreasing score, or None when
    it raised or returned something else."""
    scores, boxes = numbers(detections.get("scores")), numbers(detections.get("boxes"))
    if not detections.get("returns_triple") or scores is None or boxes is None or (
            scores.ndim != 1 or boxes.shape != (len(scores), 4)):
        return None
    order = np.argsort(-scores, kind="stable")
    return scores[order], boxes[order]


def _same_boxes(got: dict, probe: dict, expected: dict) -> bool:
    """Whether ``got`` keeps the boxes and scores of the reference's ``probe`` answer, and not
    those of its answer ``expected``."""
    mine, theirs, right = _by_score(got), _by_score(probe), _by_score(expected)
    def same(a, b):
        return (a is not None and b is not None and len(a[0]) == len(b[0])
                and close(a[0], b[0], rtol=1e-5) and close(a[1], b[1], rtol=1e-5, atol=1e-4))
    return same(mine, theirs) and not same(mine, right)


def _probes(fn, call, variants: dict) -> dict:
    """{name: the detections of ``call(fn, **variant)``} for the probes ``variants``."""
    return {name: call(fn, **variant) for name, variant in variants.items()}


def _filter_causes(inputs: dict, raised: dict) -> str | None:
    """The likely cause of yolo_filter_boxes's error, when the message recognises it."""
    table_shape = np.broadcast_shapes(np.shape(inputs["box_confidence"]),
                                      np.shape(inputs["box_class_probs"]))
    if table_shape[1:] in shapes_in(raised["message"]):
        return _("a reduction without an axis reduced the first axis: the scores {shape} "
                 "became {reduced} (tf.math.argmax reduces axis 0 unless told otherwise); take "
                 "the best class with axis=-1").format(shape=table_shape,
                                                       reduced=table_shape[1:])
    return None


class YoloFilterBoxes(GradedFunction):
    """yolo_filter_boxes keeps the boxes whose best class score is at least the threshold."""

    name = "yolo_filter_boxes"
    default_case = {"seed": 1, "threshold": 0.5}
    _INPUTS = ("box_confidence", "boxes", "box_class_probs")

    def inputs(self, seed=1, threshold=0.5, case=None):
        """Seeded 19x19x5 head outputs with 80 classes, or ``case="two_boxes"``: two boxes
        whose best scores are both exactly 0.5 (one with a tie between two classes)."""
        if case == "two_boxes":
            arrays = (np.ones((1, 1, 2, 1), np.float32),
                      np.arange(8, dtype=np.float32).reshape(1, 1, 2, 4),
                      np.array([[[[0.5, 0.5, 0.0], [0.2, 0.3, 0.5]]]], np.float32))
        elif case is None:
            arrays = random_outputs(seed)
        else:
            raise ValueError(no_such_case(self.name, case, ["two_boxes"]))
        return {**dict(zip(self._INPUTS, arrays)), "threshold": threshold}

    def call(self, fn, inputs):
        """The detections, and those of the probe with box_confidence of ones."""
        def run(fn, box_confidence):
            import tensorflow as tf

            return _detections(fn, tf.constant(box_confidence), tf.constant(inputs["boxes"]),
                               tf.constant(inputs["box_class_probs"]),
                               threshold=inputs["threshold"])
        got = run(fn, inputs["box_confidence"])
        got["unit_confidence"] = run(fn, np.ones_like(inputs["box_confidence"]))
        return got

    def assert_answer(self, case, inputs, got, expected):
        if "raised" in got:
            raise AssertionError(raised_message(
                self.label(case), _shapes(inputs, self._INPUTS), got["raised"],
                _filter_causes(inputs, got["raised"])))
        _compare_detections(self.label(case), got, expected)

    @staticmethod
    def _below(inputs, got, expected):
        scores = _by_score(got)[0]
        total = inputs["box_confidence"][..., 0].size
        return (len(scores) + len(expected["scores"]) == total and len(scores) > 0
                and bool(np.all(scores < inputs["threshold"])))

    @staticmethod
    def _no_confidence(inputs, got, expected):
        return _same_boxes(got, expected["unit_confidence"], expected)

    @staticmethod
    def _strict(inputs, got, expected):
        wanted = np.asarray(expected["scores"])
        return (len(_by_score(got)[0]) == int(np.sum(wanted > inputs["threshold"]))
                < len(wanted))

    mistakes = (
        Mistake("below", N_("the boxes kept are those below the threshold"),
                N_("keep those whose best class score is >= threshold"), _below),
        Mistake("no_confidence", N_("the scores leave out box_confidence"),
                N_("a box's class scores are box_confidence * box_class_probs"), _no_confidence),
        Mistake("strict", N_("a box whose score equals the threshold is dropped"),
                N_("keep the scores >= threshold, not only > threshold"), _strict),
    )


HAND_BOXES = {  # name: (box1, box2), corners (x1, y1, x2, y2)
    "partial_overlap": ((2, 1, 4, 3), (1, 2, 3, 4)),
    "disjoint": ((1, 2, 3, 4), (5, 6, 7, 8)),
    "apart_both_directions": ((0, 0, 1, 1), (2, 2, 3, 3)),
    "touching_corner": ((1, 1, 2, 2), (2, 2, 3, 3)),
    "sharing_edge": ((1, 1, 3, 3), (2, 0, 4, 1)),
    "inside": ((0, 0, 4, 4), (1, 1, 2, 2)),
    "identical": ((1, 2, 3, 5), (1, 2, 3, 5)),
    "apart_negative": ((0.0, 0.0, 1.0, 1.0), (1.5, -3.0, 2.5, -2.0)),
}
SHOWN_BOXES = ("partial_overlap", "disjoint", "apart_both_directions", "touching_corner",
               "sharing_edge", "inside", "identical")


class Iou(GradedFunction):
    """iou of pairs of boxes, including pairs that do not overlap (IoU 0)."""

    name = "iou"

    def inputs(self, case=None, seed=None, count=10):
        """``case``: one pair of HAND_BOXES by name; ``seed``: ``count`` random pairs of
        boxes in [0, 15]; neither: the pairs of SHOWN_BOXES."""
        if seed is not None:
            rng = np.random.default_rng(seed)
            corners = rng.uniform(0, 10, (2 * count, 2))
            boxes = np.concatenate([corners, corners + rng.uniform(0.5, 5, (2 * count, 2))], 1)
            return {"names": [None] * count, "pairs": boxes.reshape(count, 2, 4).tolist()}
        names = [case] if case is not None else list(SHOWN_BOXES)
        unknown = [n for n in names if n not in HAND_BOXES]
        if unknown:
            raise ValueError(no_such_case(self.name, unknown[0], HAND_BOXES))
        return {"names": names, "pairs": [[list(b) for b in HAND_BOXES[n]] for n in names]}

    def call(self, fn, inputs):
        answers = []
        for box1, box2 in inputs["pairs"]:
            value, raised = capture(fn, tuple(box1), tuple(box2))
            answers.append({"raised": raised} if raised else {"iou": _plain(value)})
        return {"answers": answers}

    def assert_answer(self, case, inputs, got, expected):
        for number, (name, (box1, box2), result, wanted) in enumerate(zip(
                inputs["names"], inputs["pairs"], got["answers"], expected["answers"]), 1):
            name = name or _("random pair {number}").format(number=number)
            label = f"iou ({name}: {tuple(box1)}, {tuple(box2)})"
            if "raised" in result:
                raise AssertionError(raised_message(label, _("these two boxes"),
                                                    result["raised"]))
            check_scalar(label, "IoU", result["iou"], float(wanted["iou"]), rtol=1e-6,
                         atol=1e-9)

    @staticmethod
    def _values(got, expected) -> tuple[np.ndarray, np.ndarray]:
        """(the IoU of every pair, the reference's); KeyError when the function raised."""
        return (np.array([float(a["iou"]) for a in got["answers"]]),
                np.array([float(a["iou"]) for a in expected["answers"]]))

    @staticmethod
    def _not_clamped(inputs, got, expected):
        values, wanted = Iou._values(got, expected)
        apart = wanted == 0
        return (bool(np.any(values[apart] != 0))
                and close(values[~apart], wanted[~apart], rtol=1e-6))

    @staticmethod
    def _union_double_counts(inputs, got, expected):
        values, wanted = Iou._values(got, expected)
        return bool(np.any(wanted > 0)) and close(values, wanted / (1 + wanted), rtol=1e-6)

    @staticmethod
    def _corners_swapped(inputs, got, expected):
        values, wanted = Iou._values(got, expected)
        overlapping = wanted > 0
        return bool(np.any((values[overlapping] < 0) | (values[overlapping] > 1)))

    mistakes = (
        Mistake("not_clamped", N_("boxes that do not overlap get an IoU other than 0"),
                N_("clamp the intersection's width and its height at 0, each on its own"),
                _not_clamped),
        Mistake("union_double_counts", N_("the union counts the intersection twice"),
                N_("subtract the intersection from the sum of the two areas"),
                _union_double_counts),
        Mistake("corners_swapped", N_("overlapping boxes get an IoU outside [0, 1]"),
                N_("the intersection's corners are the max of the x1, y1 and the min of the "
                   "x2, y2"),
                _corners_swapped),
    )


def _random_detections(seed: int, n: int = 30, classes: int = 3) -> dict:
    """n boxes (y1, x1, y2, x2) of 10 to 50 pixels in a 120-pixel square, distinct scores, and
    classes among ``classes``; seeded."""
    rng = np.random.default_rng(seed)
    corner = rng.uniform(0, 80, (n, 2))
    size = rng.uniform(10, 40, (n, 2))
    return {"scores": rng.permutation(n).astype(np.float32) / n + 0.01,
            "boxes": np.concatenate([corner, corner + size], axis=1).astype(np.float32),
            "classes": rng.integers(0, classes, n).astype(np.int64)}


def _two_boxes(classes) -> dict:
    """Two boxes with IoU 81/119 = 0.68, scores 0.6 and 0.9, of the given classes."""
    return {"scores": np.array([0.6, 0.9], np.float32),
            "boxes": np.array([[0, 0, 10, 10], [1, 1, 11, 11]], np.float32),
            "classes": np.array(classes, np.int64)}


NMS_CASES = {
    "one_class": lambda: _two_boxes([2, 2]),
    "two_classes": lambda: _two_boxes([2, 5]),
    "empty": lambda: {"scores": np.zeros(0, np.float32), "boxes": np.zeros((0, 4), np.float32),
                      "classes": np.zeros(0, np.int64)},
}


class YoloNonMaxSuppression(GradedFunction):
    """yolo_non_max_suppression removes, class by class, boxes overlapping a better one."""

    name = "yolo_non_max_suppression"
    default_case = {"seed": 1}

    def inputs(self, seed=1, max_boxes=10, iou_threshold=0.5, case=None):
        """30 seeded boxes in 3 classes, or a hand-built case of NMS_CASES by name."""
        if case is not None and case not in NMS_CASES:
            raise ValueError(no_such_case(self.name, case, NMS_CASES))
        detections = NMS_CASES[case]() if case is not None else _random_detections(seed)
        return {**detections, "max_boxes": max_boxes, "iou_threshold": iou_threshold}

    def call(self, fn, inputs):
        """The detections, and the probes: every box in class 0 (``one_class``), and the
        default IoU threshold 0.5 (``default_iou``)."""
        def run(fn, classes=inputs["classes"], iou_threshold=inputs["iou_threshold"]):
            import tensorflow as tf

            return _detections(fn, tf.constant(inputs["scores"]), tf.constant(inputs["boxes"]),
                               tf.constant(classes), max_boxes=inputs["max_boxes"],
                               iou_threshold=iou_threshold)
        return {**run(fn), "probes": _probes(fn, run, {
            "one_class": {"classes": np.zeros_like(inputs["classes"])},
            "default_iou": {"iou_threshold": DEFAULT_IOU}})}

    def assert_answer(self, case, inputs, got, expected):
        if "raised" in got:
            raise AssertionError(raised_message(self.label(case), _shapes(inputs, DETECTIONS),
                                                got["raised"]))
        _compare_detections(self.label(case), got, expected)

    @staticmethod
    def _across_classes(inputs, got, expected):
        return _same_boxes(got, expected["probes"]["one_class"], expected)

    @staticmethod
    def _too_many(inputs, got, expected):
        return len(_by_score(got)[0]) > inputs["max_boxes"]

    @staticmethod
    def _no_suppression(inputs, got, expected):
        best = np.sort(inputs["scores"])[::-1][:inputs["max_boxes"]]
        scores = _by_score(got)[0]
        return len(best) > len(expected["scores"]) and close(scores, best, rtol=1e-6)

    @staticmethod
    def _iou_ignored(inputs, got, expected):
        return (not np.isclose(inputs["iou_threshold"], DEFAULT_IOU)
                and _same_boxes(got, expected["probes"]["default_iou"], expected))

    mistakes = (
        Mistake("across_classes", N_("a box suppresses the boxes of other classes"),
                N_("suppress only within a class: shift each class's boxes apart, or loop over "
                "the classes"), _across_classes),
        Mistake("too_many", N_("more than max_boxes boxes are kept"),
                N_("pass max_boxes to tf.image.non_max_suppression"), _too_many),
        Mistake("no_suppression", N_("the best boxes are kept but none is suppressed"),
                N_("remove the boxes that overlap a better one with tf.image.non_max_suppression"),
                _no_suppression),
        Mistake("iou_ignored", N_("the iou_threshold argument is not used"),
                N_("pass iou_threshold on to tf.image.non_max_suppression"), _iou_ignored),
    )


DEFAULT_IOU = 0.5  # yolo_non_max_suppression's default iou_threshold
YOLO_OUTPUTS = ("box_xy", "box_wh", "box_confidence", "box_class_probs")
OLD_ORDER = ("box_confidence", "box_xy", "box_wh", "box_class_probs")  # the old course's


class YoloEval(GradedFunction):
    """yolo_eval: corners, score filtering, scaling to the picture and NMS, on seeded outputs."""

    name = "yolo_eval"
    helpers = ("yolo_filter_boxes", "yolo_non_max_suppression")

    def inputs(self, seed=1, image_shape=(720, 1280), max_boxes=10, score_threshold=0.6,
               iou_threshold=0.5):
        """Decoded outputs of one 19x19 grid of 5 anchors and 80 classes, each of shape
        (1, 19, 19, 5, .); centres in [0, 1], sizes in [0.02, 0.3]."""
        confidence, _, probs = random_outputs(seed)
        rng = np.random.default_rng(seed + 1000)
        shape = (1, *confidence.shape[:-1], 2)
        return {"box_xy": rng.uniform(0, 1, shape).astype(np.float32),
                "box_wh": rng.uniform(0.02, 0.3, shape).astype(np.float32),
                "box_confidence": confidence[None], "box_class_probs": probs[None],
                "image_shape": list(image_shape), "max_boxes": max_boxes,
                "score_threshold": score_threshold, "iou_threshold": iou_threshold}

    def call(self, fn, inputs):
        """The detections; when it raises, whether it runs with the outputs in the old course's
        order; else the probe of no suppression at all (IoU threshold 1, no limit on the number
        of boxes)."""
        def run(fn, order=YOLO_OUTPUTS, **changed):
            import tensorflow as tf

            arguments = {"max_boxes": inputs["max_boxes"],
                         "score_threshold": inputs["score_threshold"],
                         "iou_threshold": inputs["iou_threshold"], **changed}
            return _detections(fn, tuple(tf.constant(inputs[k]) for k in order),
                               image_shape=tuple(inputs["image_shape"]), **arguments)

        got = run(fn)
        if "raised" in got:  # does it run when the outputs come in the old course's order?
            got["runs_in_old_order"] = "raised" not in run(fn, OLD_ORDER)
            return got
        return {**got, "probes": _probes(fn, run, {
            "unsuppressed": {"iou_threshold": 1.0, "max_boxes": inputs["box_xy"][..., 0].size}})}

    def assert_answer(self, case, inputs, got, expected):
        if "raised" in got:
            raise AssertionError(raised_message(
                self.label(case), f"yolo_outputs ({_shapes(inputs, YOLO_OUTPUTS)}), "
                                  f"image_shape {tuple(inputs['image_shape'])}",
                got["raised"]))
        _compare_detections(self.label(case), got, expected)

    @staticmethod
    def _not_scaled(inputs, got, expected):
        mine, right = _by_score(got), _by_score(expected)
        height, width = inputs["image_shape"]
        return (len(mine[0]) == len(right[0]) > 0 and close(mine[0], right[0], rtol=1e-5)
                and close(mine[1] * [height, width, height, width], right[1], rtol=1e-4,
                          atol=1e-2))

    @staticmethod
    def _no_suppression(inputs, got, expected):
        return _same_boxes(got, expected["probes"]["unsuppressed"], expected)

    @staticmethod
    def _too_many(inputs, got, expected):
        return (len(_by_score(got)[0]) > inputs["max_boxes"]
                and not YoloEval._no_suppression(inputs, got, expected))

    mistakes = (
        Mistake("old_order", N_("yolo_outputs is unpacked in the old course's order"),
                N_("this detector gives (box_xy, box_wh, box_confidence, box_class_probs)"),
                lambda inputs, got, expected: got["runs_in_old_order"]),
        Mistake("not_scaled", N_("the boxes are not scaled to the picture"),
                N_("scale them with scale_boxes(boxes, image_shape) before the suppression"),
                _not_scaled),
        Mistake("no_suppression", N_("no box is suppressed"),
                N_("finish with yolo_non_max_suppression(scores, boxes, classes, max_boxes, "
                "iou_threshold)"), _no_suppression),
        Mistake("too_many", N_("more than max_boxes boxes are kept"),
                N_("pass max_boxes on to yolo_non_max_suppression"), _too_many),
    )


CHECKS = register(YoloFilterBoxes(), Iou(), YoloNonMaxSuppression(), YoloEval())
check_yolo_filter_boxes = CHECKS["yolo_filter_boxes"].check
check_iou = CHECKS["iou"].check
check_yolo_non_max_suppression = CHECKS["yolo_non_max_suppression"].check
check_yolo_eval = CHECKS["yolo_eval"].check
