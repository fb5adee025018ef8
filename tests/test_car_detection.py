"""Assignment 4: the darknet reader, the YOLO helpers, the published YOLOv3-tiny detector, and
the checks of the graded functions."""

import numpy as np
import pytest
import tensorflow as tf
from graded_cases import (
    edited,
    failed_kinds,
    mistaken,
    reference_failures,
    solution,
    source_notebook,
)
from mistakes import MISTAKES
from PIL import Image

from course.trusted import cases
from utils import darknet, data, yolo
from utils.public_tests import car_detection as t

SMALL_CFG = """
[net]
width=8
height=8
channels=3

[convolutional]
batch_normalize=1
filters=4
size=3
stride=1
pad=1
activation=leaky

[maxpool]
size=2
stride=2

[convolutional]
filters=6
size=1
stride=1
pad=1
activation=linear

[route]
layers=-1,-2

[region]
anchors=1,1, 2,2
classes=1
num=2
"""


def _write_weights(path, arrays, header=(0, 2, 0)):
    """A darknet weights file: int32 major, minor, revision, int64 seen, float32 arrays."""
    with open(path, "wb") as f:
        f.write(np.array(header, "<i4").tobytes() + np.array([0], "<i8").tobytes())
        for array in arrays:
            f.write(np.asarray(array, "<f4").tobytes())


def _small_weights(rng):
    bn = [rng.normal(size=4), rng.uniform(0.5, 2, 4), rng.normal(size=4), rng.uniform(0.5, 2, 4)]
    kernel1 = rng.normal(size=(4, 3, 3, 3))  # darknet order: filters, channels, rows, columns
    bias2, kernel2 = rng.normal(size=6), rng.normal(size=(6, 4, 1, 1))
    return bn, kernel1, bias2, kernel2


def test_small_darknet_network_round_trip(tmp_path):
    rng = np.random.default_rng(0)
    (beta, gamma, mean, variance), kernel1, bias2, kernel2 = _small_weights(rng)
    _write_weights(tmp_path / "small.weights",
                   [beta, gamma, mean, variance, kernel1, bias2, kernel2])
    model, heads = darknet.build_model(darknet.parse_cfg(SMALL_CFG))
    count = darknet.load_weights(model, tmp_path / "small.weights")
    assert count == 4 * 4 + kernel1.size + 6 + kernel2.size
    assert model.output_shape == (None, 4, 4, 10)
    assert heads == [{"kind": "region", "anchors": "1,1, 2,2", "classes": "1", "num": "2"}]

    # the same network in numpy: conv 3x3 (zero padding 1) -> batch norm -> leaky -> maxpool
    x = rng.uniform(0, 1, (1, 8, 8, 3)).astype(np.float32)
    padded = np.pad(x[0], ((1, 1), (1, 1), (0, 0)))
    conv = np.zeros((8, 8, 4))
    for i in range(8):
        for j in range(8):
            conv[i, j] = np.einsum("fcyx,yxc->f", kernel1, padded[i:i + 3, j:j + 3])
    bn = gamma * (conv - mean) / np.sqrt(variance + darknet.BN_EPSILON) + beta
    leaky = np.where(bn > 0, bn, darknet.LEAKY_SLOPE * bn)
    pooled = leaky.reshape(4, 2, 4, 2, 4).max(axis=(1, 3))
    second = np.einsum("fc,yxc->yxf", kernel2[:, :, 0, 0], pooled) + bias2
    expected = np.concatenate([second, pooled], axis=-1)
    np.testing.assert_allclose(model(x).numpy()[0], expected, rtol=1e-4, atol=1e-4)


def test_weights_that_do_not_fit_the_cfg_are_refused(tmp_path):
    rng = np.random.default_rng(1)
    (beta, gamma, mean, variance), kernel1, bias2, kernel2 = _small_weights(rng)
    model, _ = darknet.build_model(darknet.parse_cfg(SMALL_CFG))
    before = [w.numpy() for w in model.weights]
    _write_weights(tmp_path / "short.weights", [beta, gamma, mean, variance, kernel1, bias2])
    with pytest.raises(ValueError, match="the model needs more"):
        darknet.load_weights(model, tmp_path / "short.weights")
    _write_weights(tmp_path / "long.weights",
                   [beta, gamma, mean, variance, kernel1, bias2, kernel2, [1.0]])
    with pytest.raises(ValueError, match="holds 155 floats but the model uses 154"):
        darknet.load_weights(model, tmp_path / "long.weights")
    assert all(np.array_equal(a, w.numpy()) for a, w in zip(before, model.weights))


def test_cfg_errors_are_clear():
    with pytest.raises(ValueError, match="starts with a \\[net\\] section"):
        darknet.parse_cfg("[convolutional]\nfilters=1\n")
    with pytest.raises(ValueError, match="\\[crop\\] is not supported"):
        darknet.build_model(darknet.parse_cfg("[net]\nwidth=4\nheight=4\nchannels=3\n[crop]\n"))


def test_yolov2_architecture():
    model, heads = darknet.build_model(darknet.parse_cfg(darknet.yolov2_cfg()))
    assert model.output_shape == (None, 19, 19, 425)
    assert model.count_params() == 50_983_561  # the published YOLOv2 COCO model's count
    assert heads[0]["kind"] == "region" and heads[0]["num"] == "5"


def test_published_yolov3_tiny_detects_cars_on_the_road():
    try:
        detector = yolo.load_yolov3_tiny()
    except data.DataFileError as error:
        pytest.skip(str(error))
    assert detector.input_size == (416, 416) and len(detector.class_names) == 80
    image, image_data = yolo.preprocess_image(data.fetch("images/road/test.jpg"),
                                              detector.input_size)
    box_xy, box_wh, confidence, probs = detector.outputs(image_data)
    assert box_xy.shape == (1, 13 * 13 * 3 + 26 * 26 * 3, 2) and probs.shape[-1] == 80
    scores = (confidence * probs).numpy()[0]
    best = scores.max(-1) > 0.5
    assert best.sum() >= 3
    assert set(np.array(detector.class_names)[scores[best].argmax(-1)]) == {"car"}


def test_yolo_head_decodes_centres_sizes_and_probabilities():
    features = np.zeros((1, 2, 3, 2 * 7), np.float32)  # 2x3 grid, 2 anchors, 2 classes
    features[0, 1, 2, 7 + 2:7 + 4] = np.log(2.0)  # second anchor of cell (row 1, col 2)
    anchors = np.array([[0.1, 0.2], [0.3, 0.4]], np.float32)
    box_xy, box_wh, confidence, probs = yolo.yolo_head(features, anchors, 2)
    np.testing.assert_allclose(box_xy[0, 1, 2, 1], [(0.5 + 2) / 3, (0.5 + 1) / 2])
    np.testing.assert_allclose(box_wh[0, 1, 2, 1], [0.6, 0.8], rtol=1e-6)
    np.testing.assert_allclose(confidence.numpy(), 0.5)
    np.testing.assert_allclose(probs.numpy(), 0.5)
    _, _, _, sigmoid_probs = yolo.yolo_head(features, anchors, 2, class_activation="sigmoid")
    np.testing.assert_allclose(sigmoid_probs.numpy(), 0.5)


def test_corners_and_scaling():
    corners = yolo.yolo_boxes_to_corners(tf.constant([[0.5, 0.25]]), tf.constant([[0.2, 0.1]]))
    np.testing.assert_allclose(corners.numpy(), [[0.2, 0.4, 0.3, 0.6]], rtol=1e-6)
    np.testing.assert_allclose(yolo.scale_boxes(corners, (720, 1280)).numpy(),
                               [[144, 512, 216, 768]], rtol=1e-5)


def test_anchors_and_classes_files(tmp_path):
    (tmp_path / "anchors.txt").write_text("0.5,1, 2,3.5\n")
    np.testing.assert_array_equal(yolo.read_anchors(tmp_path / "anchors.txt"),
                                  [[0.5, 1], [2, 3.5]])
    with pytest.raises(ValueError, match="pairs"):
        yolo.read_anchors("1,2,3")
    (tmp_path / "names.txt").write_text("car\n\nbus\n")
    assert yolo.read_classes(tmp_path / "names.txt") == ["car", "bus"]


def test_preprocess_and_draw(tmp_path):
    Image.new("L", (64, 48), 128).save(tmp_path / "road.png")
    image, data_ = yolo.preprocess_image(tmp_path / "road.png", (32, 32))
    assert image.mode == "RGB" and data_.shape == (1, 32, 32, 3)
    drawn = yolo.draw_boxes(image, [0.9], [[5, 5, 40, 60]], [1], ["car", "bus"])
    assert drawn.size == image.size and drawn.getpixel((5, 20)) == yolo.class_colors(2)[1]
    with pytest.raises(FileNotFoundError, match="missing.jpg"):
        yolo.preprocess_image(tmp_path / "missing.jpg", (32, 32))


def test_labels_stay_readable_when_a_road_picture_is_scaled_to_a_page():
    """On a 1280x720 road picture shown 700 px wide (a desktop page), a label's letters are at
    least 12 px high; its box holds the text."""
    image = Image.new("RGB", (1280, 720), (90, 90, 90))
    drawn = np.asarray(yolo.draw_boxes(image, [0.73], [[300, 100, 500, 400]], [0], ["car"]))
    label = np.argwhere((drawn[:300, 100:400] == yolo.class_colors(1)[0]).all(axis=-1))
    text = np.argwhere((drawn[:300, 100:400] == 0).all(axis=-1))  # black letters
    assert len(text) and label[:, 0].min() <= text[:, 0].min() <= text[:, 0].max() <= 300
    assert (text[:, 0].max() - text[:, 0].min() + 1) * 700 / 1280 >= 12


# The checks of the graded functions (utils/public_tests/car_detection.py).

ASSIGNMENT = "C4W3A1_car_detection"


@pytest.fixture(scope="module")
def source():
    return source_notebook(ASSIGNMENT)


def test_reference_solution_passes_every_case_of_the_notebook(source):
    assert reference_failures(source, t.CHECKS) == []


@pytest.mark.parametrize("cell_id", sorted(MISTAKES[ASSIGNMENT]))
def test_each_mistake_fails_a_public_and_a_hidden_case(source, cell_id):
    failed = failed_kinds(ASSIGNMENT, source, t.CHECKS, cell_id)
    assert failed == {False, True}, f"a wrong {cell_id} fails only hidden={failed} cases"


def test_argmax_without_axis_is_named(source):
    wrong = edited(source, "yolo_filter_boxes", "tf.math.argmax(box_scores, axis=-1)",
                   "tf.math.argmax(box_scores)")
    with pytest.raises(AssertionError, match=(
            r"yolo_filter_boxes \(seed=1, threshold=0.5\) raised ValueError on box_confidence "
            r"\(19, 19, 5, 1\), boxes \(19, 19, 5, 4\), box_class_probs \(19, 19, 5, 80\): "
            r"Shapes \(19, 5, 80\) and \(19, 19, 5\) are incompatible "
            r"\(at line 21: `classes = tf.boolean_mask\(box_classes, filtering_mask\)`\)\. "
            r"Likely cause: a reduction without an axis reduced the first axis: "
            r"the scores \(19, 19, 5, 80\) became \(19, 5, 80\)")):
        t.check_yolo_filter_boxes(wrong, seed=1, threshold=0.5)


def test_reduce_max_without_axis_is_named(source):
    wrong = edited(source, "yolo_filter_boxes", "tf.math.reduce_max(box_scores, axis=-1)",
                   "tf.math.reduce_max(box_scores)")
    with pytest.raises(AssertionError, match=r"\(case='two_boxes', threshold=0.5\) raised "
                                             r"ValueError.*mask cannot be scalar.*Likely cause: "
                                             r"a reduction without an axis"):
        t.check_yolo_filter_boxes(wrong, case="two_boxes", threshold=0.5)


def test_yolo_outputs_in_the_old_order_are_recognised(source):
    wrong = edited(source, "yolo_eval",
                   "box_xy, box_wh, box_confidence, box_class_probs = yolo_outputs",
                   "box_confidence, box_xy, box_wh, box_class_probs = yolo_outputs")
    with pytest.raises(AssertionError, match=(
            r"^yolo_eval: yolo_outputs is unpacked in the old course's order; this detector "
            r"gives \(box_xy, box_wh, box_confidence, box_class_probs\)\.\n"
            r"yolo_eval raised InvalidArgumentError on yolo_outputs \(box_xy \(1, 19, 19, 5, 2\)"
            r".*image_shape \(720, 1280\): Incompatible shapes.*\(at line 20: `scores, boxes, "
            r"classes = yolo_filter_boxes\(")):
        t.check_yolo_eval(wrong)


def test_other_errors_name_the_function_the_input_and_the_error(source):
    wrong = edited(source, "iou", "iou = inter_area / union_area", "iou = inter_area / 0")
    with pytest.raises(AssertionError, match=r"^iou \(partial_overlap: \(2, 1, 4, 3\), \(1, 2, 3, "
                                             r"4\)\) raised ZeroDivisionError on these two "
                                             r"boxes: division by zero \(at line 23: `iou = "
                                             r"inter_area / 0`\)$"):
        t.check_iou(wrong)


def test_messages_of_the_mistakes(source):
    def wrong(cell_id):
        return mistaken(ASSIGNMENT, source, cell_id)[cell_id]

    with pytest.raises(AssertionError, match=r"(?m)^iou: boxes that do not overlap get an IoU "
                                             r"other than 0; .*\n^iou \(disjoint: \(1, 2, 3, "
                                             r"4\), \(5, 6, 7, 8\)\): wrong IoU: got 1.0, "
                                             r"expected 0.0$"):
        t.check_iou(wrong("iou"))
    with pytest.raises(AssertionError, match=r"(?m)^yolo_non_max_suppression: a box suppresses "
                                             r"the boxes of other classes; .*\n"
                                             r"^yolo_non_max_suppression \(case='two_classes'\): "
                                             r"kept 1 box, expected 2 \(scores 0.9, 0.6\)$"):
        t.check_yolo_non_max_suppression(wrong("yolo_non_max_suppression"), case="two_classes")
    with pytest.raises(AssertionError, match=r"(?m)^yolo_eval: the boxes are not scaled to the "
                                             r"picture; .*\n^yolo_eval: wrong boxes values at 40 "
                                             r"of 40"):
        t.check_yolo_eval(wrong("yolo_eval"))


def test_a_wrong_helper_is_named_first(source):
    namespace = mistaken(ASSIGNMENT, source, "yolo_non_max_suppression")
    with pytest.raises(AssertionError, match="yolo_eval calls yolo_non_max_suppression, which "
                                             "is wrong: fix yolo_non_max_suppression first"):
        t.check_yolo_eval(namespace["yolo_eval"])


def test_unknown_case_names_are_refused():
    with pytest.raises(ValueError, match="iou has no case 'apart'"):
        t.CHECKS["iou"].inputs(case="apart")


def _best_classes(box_confidence, boxes, box_class_probs, threshold) -> dict:
    """The boxes whose best class score is >= threshold, in row-major order, with that score
    and class: the flattened (boxes, classes) score table, its row maxima and their columns."""
    n_classes = box_class_probs.shape[-1]
    table = (box_confidence * box_class_probs).reshape(-1, n_classes)
    columns = np.argmax(table, axis=1)
    best = np.take_along_axis(table, columns[:, None], axis=1)[:, 0]
    rows = np.flatnonzero(best >= threshold)
    return {"scores": best[rows], "boxes": boxes.reshape(-1, 4)[rows],
            "classes": columns[rows].astype(np.int64)}


def _overlaps(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of every corner box of ``a`` (n, 4) with every box of ``b`` (k, 4): shape (n, k).

    On each axis the overlap of two intervals is the sum of their lengths minus the span they
    cover together, clipped at 0; the intersection is the product of the two overlaps.
    """
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    intersection = np.ones((len(a), len(b)))
    area_a, area_b = np.ones(len(a)), np.ones(len(b))
    for low, high in ((0, 2), (1, 3)):
        length_a, length_b = a[:, high] - a[:, low], b[:, high] - b[:, low]
        span = (np.maximum(a[:, None, high], b[None, :, high]) -
                np.minimum(a[:, None, low], b[None, :, low]))
        intersection *= np.clip(length_a[:, None] + length_b[None, :] - span, 0, None)
        area_a, area_b = area_a * length_a, area_b * length_b
    return intersection / (area_a[:, None] + area_b[None, :] - intersection)


def _greedy_nms(detections: dict, max_boxes: int, iou_threshold: float) -> dict:
    """Per-class greedy suppression: visit boxes by decreasing score; keep a box unless a kept
    box of its class overlaps it by more than iou_threshold; stop at max_boxes."""
    scores, boxes, classes = (np.asarray(detections[k]) for k in t.DETECTIONS)
    suppresses = ((_overlaps(boxes, boxes) > iou_threshold)
                  & (classes[:, None] == classes[None, :]))
    kept, removed = [], np.zeros(len(scores), bool)
    for i in np.argsort(-scores, kind="stable"):
        if len(kept) == max_boxes:
            break
        if not removed[i]:
            kept.append(i)
            removed |= suppresses[i]
    kept = np.array(kept, dtype=int)
    return {"scores": scores[kept], "boxes": boxes[kept].reshape(-1, 4),
            "classes": classes[kept]}


def _independent(function: str, inputs: dict) -> dict:
    """The answer to one case, computed in numpy without the reference solution."""
    if function == "yolo_filter_boxes":
        return _best_classes(*(inputs[k] for k in t.YoloFilterBoxes._INPUTS), inputs["threshold"])
    if function == "iou":
        pairs = np.asarray(inputs["pairs"], np.float64)
        return {"answers": [{"iou": _overlaps(a[None], b[None])[0, 0]} for a, b in pairs]}
    if function == "yolo_non_max_suppression":
        return _greedy_nms(inputs, inputs["max_boxes"], inputs["iou_threshold"])
    # yolo_eval: corners (y1, x1, y2, x2), best classes, pixels, NMS
    xy, wh = inputs["box_xy"][..., ::-1], inputs["box_wh"][..., ::-1]  # (y, x), (h, w)
    corners = np.concatenate([xy - wh / 2, xy + wh / 2], axis=-1)
    kept = _best_classes(inputs["box_confidence"], corners, inputs["box_class_probs"],
                         inputs["score_threshold"])
    height, width = inputs["image_shape"]
    kept["boxes"] = kept["boxes"] * np.array([height, width, height, width], np.float32)
    return _greedy_nms(kept, inputs["max_boxes"], inputs["iou_threshold"])


def _by_score(detections: dict) -> dict:
    """The detections in order of decreasing score."""
    order = np.argsort(-np.asarray(detections["scores"]), kind="stable")
    return {k: np.asarray(detections[k])[order] for k in t.DETECTIONS}


def test_the_reference_answers_agree_with_independent_methods(source):
    """Every case the grader uses, public and hidden: the reference solution's answer (what
    students are compared with) equals the numpy computation."""
    reference = solution(source)
    for tests in cases.read(source):
        graded = t.CHECKS[tests.function]
        for case in tests.cases:
            inputs = graded.inputs(**case.params)
            got = graded.call(reference[tests.function], inputs)
            wanted = _independent(tests.function, inputs)
            where = f"{tests.function} {case.params}"
            if tests.function == "iou":
                np.testing.assert_allclose([a["iou"] for a in got["answers"]],
                                           [a["iou"] for a in wanted["answers"]],
                                           rtol=1e-6, atol=1e-9, err_msg=where)
                continue
            assert got["returns_triple"], where
            got, wanted = _by_score(got), _by_score(wanted)
            for key in t.DETECTIONS:
                np.testing.assert_allclose(got[key], wanted[key], rtol=1e-5, atol=1e-4,
                                           err_msg=f"{where} {key}")


def test_numpy_iou_matrix_matches_hand_computed_values():
    boxes = np.array([[2, 1, 4, 3], [1, 2, 3, 4], [0, 0, 4, 4], [10, 10, 11, 11]], float)
    np.testing.assert_allclose(_overlaps(boxes, boxes), [
        [1, 1 / 7, 4 / 16, 0], [1 / 7, 1, 4 / 16, 0], [4 / 16, 4 / 16, 1, 0], [0, 0, 0, 1]])
