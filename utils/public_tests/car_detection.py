"""Checks for assignment 4 (YOLO car detection).

Expected values come from numpy versions written here: score filtering, IoU, and a greedy
per-class non-max suppression. Hand-built cases have answers known in advance: disjoint boxes
(including boxes apart in both directions, where an unclamped intersection becomes positive),
two overlapping boxes of one class, the same boxes in different classes, everything below the
threshold, and empty input. Detections are compared in order of decreasing score.

``GRADING_HELPERS`` is empty for students; the grader's hidden tests fill it with reference
versions of yolo_filter_boxes and yolo_non_max_suppression so that yolo_eval is graded alone.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from utils.checks import check_close, check_scalar, helpers_replaced

GRADING_HELPERS: dict = {}


def _np(fn: str, what: str, value) -> np.ndarray:
    try:
        return np.asarray(value)
    except Exception:  # noqa: BLE001 (anything that is not an array or tensor)
        raise AssertionError(f"{fn}: {what} should be a tensor, got {type(value).__name__}")


def filter_reference(box_confidence, boxes, box_class_probs, threshold):
    scores = box_confidence * box_class_probs
    classes, best = scores.argmax(-1), scores.max(-1)
    keep = best >= threshold
    return best[keep], boxes[keep], classes[keep]


def iou_reference(a, b) -> float:
    """IoU of two corner boxes (either corner order, as long as both use the same)."""
    inter = (max(0.0, min(a[2], b[2]) - max(a[0], b[0])) *
             max(0.0, min(a[3], b[3]) - max(a[1], b[1])))
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union


def nms_reference(scores, boxes, classes, max_boxes, iou_threshold):
    """Greedy per-class NMS: highest score first; drop a box overlapping a kept box of its
    class by more than iou_threshold; at most max_boxes in all."""
    keep = []
    for i in np.argsort(-scores, kind="stable"):
        if len(keep) == max_boxes:
            break
        if all(classes[j] != classes[i] or iou_reference(boxes[i], boxes[j]) <= iou_threshold
               for j in keep):
            keep.append(i)
    keep = np.array(keep, dtype=int)
    return scores[keep], boxes[keep], classes[keep]


def _compare(fn: str, case: str, got, expected) -> None:
    if not isinstance(got, (tuple, list)) or len(got) != 3:
        raise AssertionError(f"{fn}: should return (scores, boxes, classes), got {got!r}")
    scores, boxes, classes = (_np(fn, w, g) for w, g in zip(("scores", "boxes", "classes"), got))
    if scores.shape[0] != len(expected[0]):
        raise AssertionError(f"{fn} ({case}): kept {scores.shape[0]} boxes, expected "
                             f"{len(expected[0])} (scores {np.round(expected[0], 4).tolist()})")
    order = np.argsort(-scores, kind="stable")
    by_score = np.argsort(-np.asarray(expected[0]), kind="stable")
    expected = [np.asarray(e)[by_score] for e in expected]
    check_close(f"{fn} ({case})", "scores", scores[order], expected[0], rtol=1e-5, atol=1e-6)
    check_close(f"{fn} ({case})", "boxes", boxes[order].reshape(-1, 4), expected[1], rtol=1e-5,
                atol=1e-4)
    if classes.dtype.kind not in "iu":
        raise AssertionError(f"{fn}: classes should be integers, got dtype {classes.dtype}")
    check_close(f"{fn} ({case})", "classes", classes[order], expected[2])


def random_outputs(seed: int, grid=(19, 19), anchors=5, classes=80):
    """(box_confidence, boxes, box_class_probs) like a YOLO head's, seeded."""
    rng = np.random.default_rng(seed)
    shape = (*grid, anchors)
    confidence = rng.uniform(0, 1, (*shape, 1)).astype(np.float32)
    boxes = rng.uniform(0, 1, (*shape, 4)).astype(np.float32)
    logits = rng.normal(0, 2, (*shape, classes))
    probs = (np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)).astype(np.float32)
    return confidence, boxes, probs


def check_yolo_filter_boxes(yolo_filter_boxes, seed: int = 1, threshold: float = 0.5) -> None:
    """Seeded head outputs; a score equal to the threshold is kept; all below gives empty."""
    fn = "yolo_filter_boxes"
    confidence, boxes, probs = random_outputs(seed)
    for t in (threshold, threshold / 2):
        expected = filter_reference(confidence, boxes, probs, t)
        got = yolo_filter_boxes(tf.constant(confidence), tf.constant(boxes), tf.constant(probs),
                                threshold=t)
        _compare(fn, f"threshold={t}", got, expected)
    one = np.zeros((1, 1, 2, 1), np.float32) + 1.0
    box = np.arange(8, dtype=np.float32).reshape(1, 1, 2, 4)
    probs_two = np.array([[[[0.5, 0.5, 0.0], [0.2, 0.3, 0.5]]]], np.float32)
    got = yolo_filter_boxes(tf.constant(one), tf.constant(box), tf.constant(probs_two),
                            threshold=0.5)
    _compare(fn, "scores equal to the threshold are kept", got,
             filter_reference(one, box, probs_two, 0.5))
    got = yolo_filter_boxes(tf.constant(one), tf.constant(box), tf.constant(probs_two),
                            threshold=0.9)
    _compare(fn, "every score below the threshold", got,
             (np.zeros(0), np.zeros((0, 4)), np.zeros(0, int)))


IOU_CASES = [  # (box1, box2, what the case is)
    ((2, 1, 4, 3), (1, 2, 3, 4), "partial overlap"),
    ((1, 2, 3, 4), (5, 6, 7, 8), "disjoint boxes"),
    ((0, 0, 1, 1), (2, 2, 3, 3), "boxes apart in both directions (clamp each side at 0)"),
    ((1, 1, 2, 2), (2, 2, 3, 3), "boxes touching at a corner"),
    ((1, 1, 3, 3), (2, 0, 4, 1), "boxes sharing only an edge"),
    ((0, 0, 4, 4), (1, 1, 2, 2), "one box inside the other"),
    ((1, 2, 3, 5), (1, 2, 3, 5), "identical boxes"),
]


def check_iou(iou, cases=IOU_CASES) -> None:
    """Known answers, including 0 for boxes that do not overlap."""
    for box1, box2, what in cases:
        got = iou(box1, box2)
        check_scalar(f"iou ({what}: {box1}, {box2})", "IoU", np.asarray(got, dtype=float),
                     iou_reference(box1, box2), rtol=1e-6, atol=1e-9)


def _random_detections(seed: int, n: int = 30, classes: int = 3):
    rng = np.random.default_rng(seed)
    corner = rng.uniform(0, 80, (n, 2))
    size = rng.uniform(10, 40, (n, 2))
    boxes = np.concatenate([corner, corner + size], axis=1).astype(np.float32)
    return (rng.permutation(n).astype(np.float32) / n + 0.01, boxes,
            rng.integers(0, classes, n).astype(np.int64))


def check_yolo_non_max_suppression(yolo_non_max_suppression, seed: int = 1) -> None:
    """Per-class suppression: hand-built cases and seeded boxes against greedy NMS."""
    fn = "yolo_non_max_suppression"
    two = np.array([[0, 0, 10, 10], [1, 1, 11, 11]], np.float32)  # IoU 81/119 = 0.68
    scores = np.array([0.6, 0.9], np.float32)
    cases = [("two overlapping boxes of one class", scores, two, np.array([2, 2]), 10, 0.5),
             ("the same boxes in different classes", scores, two, np.array([2, 5]), 10, 0.5),
             ("a threshold above their IoU", scores, two, np.array([2, 2]), 10, 0.7),
             ("empty input", np.zeros(0, np.float32), np.zeros((0, 4), np.float32),
              np.zeros(0, np.int64), 10, 0.5)]
    s, b, c = _random_detections(seed)
    cases += [(f"30 random boxes, iou_threshold={t}, max_boxes={m}", s, b, c, m, t)
              for t, m in ((0.5, 10), (0.2, 10), (0.5, 4))]
    for what, s, b, c, max_boxes, t in cases:
        got = yolo_non_max_suppression(tf.constant(s), tf.constant(b), tf.constant(c),
                                       max_boxes=max_boxes, iou_threshold=t)
        _compare(fn, what, got, nms_reference(s, b, c, max_boxes, t))


def _yolo_outputs(seed: int, grid=(19, 19), anchors=5, classes=80):
    confidence, _, probs = random_outputs(seed, grid, anchors, classes)
    rng = np.random.default_rng(seed + 1000)
    box_xy = rng.uniform(0, 1, (1, *grid, anchors, 2)).astype(np.float32)
    box_wh = rng.uniform(0.02, 0.3, (1, *grid, anchors, 2)).astype(np.float32)
    return box_xy, box_wh, confidence[None], probs[None]


def check_yolo_eval(yolo_eval, seed: int = 1, image_shape=(720, 1280)) -> None:
    """Seeded head outputs through corners, filtering, scaling and NMS, against numpy."""
    fn = "yolo_eval"
    box_xy, box_wh, confidence, probs = _yolo_outputs(seed)
    corners = np.concatenate([box_xy[..., ::-1] - box_wh[..., ::-1] / 2,
                              box_xy[..., ::-1] + box_wh[..., ::-1] / 2], axis=-1)
    h, w = image_shape
    for max_boxes, score_threshold, iou_threshold in ((10, 0.6, 0.5), (5, 0.3, 0.3)):
        s, b, c = filter_reference(confidence, corners, probs, score_threshold)
        expected = nms_reference(s, b * np.array([h, w, h, w], np.float32), c, max_boxes,
                                 iou_threshold)
        with helpers_replaced(yolo_eval, **GRADING_HELPERS):
            got = yolo_eval(tuple(tf.constant(x) for x in (box_xy, box_wh, confidence, probs)),
                            image_shape=image_shape, max_boxes=max_boxes,
                            score_threshold=score_threshold, iou_threshold=iou_threshold)
        _compare(fn, f"image {image_shape}, max_boxes={max_boxes}, score_threshold="
                     f"{score_threshold}, iou_threshold={iou_threshold}", got, expected)
