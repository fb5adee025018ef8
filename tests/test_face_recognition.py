"""Assignment 5: the FaceNet encoder and its weights, face encodings, and the checks' diagnoses."""

import json

import h5py
import keras
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
from utils import data, facenet
from utils.faces import build_database, distance_table, img_to_encoding
from utils.public_tests import face_recognition as checks


@pytest.fixture(scope="module")
def weights_file():
    try:
        return data.fetch(facenet.WEIGHTS_FILE)
    except data.DataFileError as error:
        pytest.skip(str(error))


def test_architecture_is_the_one_of_the_pretrained_file(weights_file):
    """Same layer names and classes (Lambda -> ScaledResidual) and the same connections."""
    with h5py.File(weights_file, "r") as f:
        config = json.loads(f.attrs["model_config"])["config"]["layers"]
    stored = {layer["name"]: (layer["class_name"].replace("Lambda", "ScaledResidual"),
                              sorted(node[0] for node in layer["inbound_nodes"][0])
                              if layer["inbound_nodes"] else [])
              for layer in config}
    model = facenet.inception_resnet_v1()
    built = {layer.name: (type(layer).__name__,
                          sorted(t._keras_history.operation.name
                                 for node in layer._inbound_nodes for t in node.input_tensors))
             for layer in model.layers}
    assert built == stored
    assert model.count_params() == 22_808_144


def test_every_weight_comes_from_the_file(weights_file):
    model = facenet.inception_resnet_v1()
    count = facenet.load_weights_by_name(model, weights_file)
    assert count == len(model.weights) == 490
    with h5py.File(weights_file, "r") as f:
        group = f["model_weights"]
        for variable in model.weights:
            layer = variable.path.split("/")[0]
            stored = group[layer][f"{layer}/{variable.path.split('/')[-1]}:0"][()]
            np.testing.assert_array_equal(variable.numpy(), stored, err_msg=variable.path)


def test_pretrained_encodings_are_deterministic_and_normalised(weights_file, tmp_path):
    model = facenet.load_facenet(weights_file)
    picture = tmp_path / "face.png"
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 255, (96, 96, 3), dtype=np.uint8)).save(picture)
    first, second = img_to_encoding(picture, model), img_to_encoding(picture, model)
    assert first.shape == (1, 128) and first.dtype == np.float32
    np.testing.assert_array_equal(first, second)
    assert np.linalg.norm(first) == pytest.approx(1.0, abs=1e-5)


def _tiny(names=("conv", "bn")):
    inputs = keras.Input(shape=(6, 6, 2))
    x = keras.layers.Conv2D(3, 3, name=names[0])(inputs)
    x = keras.layers.BatchNormalization(name=names[1], **facenet.BN)(x)
    return keras.Model(inputs, x)


def _write_keras2_h5(path, arrays: dict[str, dict[str, np.ndarray]]):
    """A weights file in the layout Keras 2 saved: model_weights/<layer>/<layer>/<name>:0."""
    with h5py.File(path, "w") as f:
        group = f.create_group("model_weights")
        group.attrs["layer_names"] = [name.encode() for name in arrays]
        for layer, weights in arrays.items():
            sub = group.create_group(layer)
            sub.attrs["weight_names"] = [f"{layer}/{k}:0".encode() for k in weights]
            for key, value in weights.items():
                sub[f"{layer}/{key}:0"] = value


def test_loader_round_trip_and_clear_errors(tmp_path):
    rng = np.random.default_rng(1)
    arrays = {"conv": {"kernel": rng.normal(size=(3, 3, 2, 3)).astype(np.float32),
                       "bias": rng.normal(size=3).astype(np.float32)},
              "bn": {"beta": rng.normal(size=3).astype(np.float32),
                     "moving_mean": rng.normal(size=3).astype(np.float32),
                     "moving_variance": rng.uniform(1, 2, size=3).astype(np.float32)}}
    path = tmp_path / "tiny.h5"
    _write_keras2_h5(path, arrays)
    model = _tiny()
    assert facenet.load_weights_by_name(model, path) == 5
    np.testing.assert_array_equal(model.get_layer("conv").kernel.numpy(), arrays["conv"]["kernel"])

    fresh = _tiny(("conv", "other_bn"))
    before = [w.numpy() for w in fresh.weights]
    with pytest.raises(ValueError, match="layers the model lacks: \\['bn'\\]"):
        facenet.load_weights_by_name(fresh, path)
    assert all(np.array_equal(a, w.numpy()) for a, w in zip(before, fresh.weights))

    arrays["conv"]["kernel"] = arrays["conv"]["kernel"][:, :, :1]
    _write_keras2_h5(path, arrays)
    with pytest.raises(ValueError, match="layer 'conv' kernel has shape \\(3, 3, 1, 3\\)"):
        facenet.load_weights_by_name(_tiny(), path)


def test_standardise_gives_zero_mean_unit_std_per_image():
    images = np.random.default_rng(2).uniform(0, 255, (2, 8, 8, 3))
    images[1] *= 0.1
    out = facenet.standardise(images)
    np.testing.assert_allclose(out.mean(axis=(1, 2, 3)), 0, atol=1e-5)
    np.testing.assert_allclose(out.std(axis=(1, 2, 3)), 1, atol=1e-5)


@pytest.mark.parametrize("mode,size", [("L", (50, 40)), ("RGBA", (24, 24)), ("P", (300, 200))])
def test_any_mode_and_size_is_encoded(tmp_path, mode, size):
    encoder = checks.StandIn().model
    path = tmp_path / f"face.{mode}.png"
    ramp = np.linspace(0, 255, size[0] * size[1] * 3).reshape(size[1], size[0], 3)
    Image.fromarray(ramp.astype(np.uint8)).convert(mode).save(path)
    encoding = img_to_encoding(path, encoder)
    assert encoding.shape == (1, 16)
    assert np.linalg.norm(encoding) == pytest.approx(1.0, abs=1e-5)


def test_blank_picture_encodes_without_nan(tmp_path):
    path = tmp_path / "blank.png"
    Image.new("RGB", (30, 30), color=(90, 90, 90)).save(path)
    assert np.isfinite(img_to_encoding(path, checks.StandIn().model)).all()


def test_missing_picture_names_the_path(tmp_path):
    with pytest.raises(FileNotFoundError, match="nowhere.jpg"):
        img_to_encoding(tmp_path / "nowhere.jpg", checks.StandIn().model)


def test_database_from_a_folder_and_distance_table():
    stand_in = checks.StandIn()
    database = build_database(stand_in.folder, stand_in.model)
    assert list(database) == ["ana", "ben", "chloe", "dev", "visitor"]
    table = distance_table(database, database)
    np.testing.assert_allclose(np.diag(table), 0, atol=1e-6)
    np.testing.assert_allclose(table, table.T, atol=1e-6)


ASSIGNMENT = "C4W4A1_face_recognition"


@pytest.fixture(scope="module")
def source():
    return source_notebook(ASSIGNMENT)


def test_reference_solution_passes_every_case_of_the_notebook(source):
    assert reference_failures(source, checks.CHECKS) == []


def test_reference_verify_refuses_an_unknown_identity(source):
    stand_in = checks.StandIn()
    with pytest.raises(ValueError, match="'zoe' is not in the database"):
        solution(source)["verify"](stand_in.visitor, "zoe", stand_in.database, stand_in.model)


@pytest.mark.parametrize("cell_id", sorted(MISTAKES[ASSIGNMENT]))
def test_each_mistake_fails_a_public_and_a_hidden_case(source, cell_id):
    failed = failed_kinds(ASSIGNMENT, source, checks.CHECKS, cell_id)
    assert failed == {False, True}, f"a wrong {cell_id} fails only hidden={failed} cases"


def test_messages_of_the_mistakes(source):
    def wrong(cell_id):
        return mistaken(ASSIGNMENT, source, cell_id)[cell_id]

    with pytest.raises(AssertionError, match=r"(?m)^verify: the door opens when the distance is "
                                             r"above the threshold; .*\n^verify \(seed=0\): "
                                             r"distance \d\.\d+ with threshold \d\.\d+: door_open "
                                             r"should be True, got False"):
        checks.check_verify(wrong("verify"), seed=0)
    with pytest.raises(AssertionError, match=r"(?m)^who_is_it: identity is not None when "
                                             r"min_dist >= threshold; .*\n^who_is_it \(seed=0\): "
                                             r"nearest identity '\w+' at distance \d\.\d+, "
                                             r"threshold \d\.\d+: identity should be None, got "
                                             r"'\w+'"):
        checks.check_who_is_it(wrong("who_is_it"), seed=0)


def test_a_one_element_array_converted_to_float_is_named(source):
    wrong = edited(source, "verify", "np.linalg.norm(encoding - database[identity])",
                   "np.linalg.norm(encoding - database[identity], axis=-1)")
    with pytest.raises(AssertionError, match=(
            r"^verify \(seed=0\) raised TypeError on the visitor's picture, identity 'ana' and "
            r"threshold \d\.\d+: only 0-dimensional arrays can be converted to Python scalars "
            r"\(at line \d+: `dist = float\(np\.linalg\.norm\(encoding - database\[identity\], "
            r"axis=-1\)\)`\)\. Likely cause: float\(\) or int\(\) of an array that still has "
            r"an axis")):
        checks.check_verify(wrong, seed=0)


def test_unknown_identity_must_raise(source):
    wrong = edited(source, "verify", "raise ValueError(", "return 0.0, False; print(")
    with pytest.raises(AssertionError, match=r"an identity that is not in the database "
                                             r"\('mallory'\) should raise a ValueError naming "
                                             r"it; it raised nothing$"):
        checks.check_verify(wrong, seed=0)


def test_thresholds_that_do_not_bracket_the_distance_are_refused(source):
    graded, verify = checks.CHECKS["verify"], solution(source)["verify"]
    inputs = graded.inputs(seed=0)
    expected = graded.call(verify, inputs)
    got = graded.call(verify, inputs)
    got["runs"]["ana"]["runs"][1]["threshold"] += 1.0
    with pytest.raises(AssertionError, match="not 0.001 below the stand-in's distance .*: was "
                                             "the check changed"):
        graded.compare({"seed": 0}, inputs, got, expected)


def _hinge_sum(anchor, positive, negative, alpha) -> float:
    """The triplet loss, in numpy: squared distances as dot products of the differences, the
    hinge as a clip."""
    to_positive, to_negative = anchor - positive, anchor - negative
    basic = (np.einsum("ij,ij->i", to_positive, to_positive)
             - np.einsum("ij,ij->i", to_negative, to_negative) + alpha)
    return float(np.clip(basic, 0, None).sum())


def _independent(function: str, inputs: dict) -> dict:
    """The answer to one case (the entries that carry the answer), computed without the
    reference solution: numpy for triplet_loss, the stand-in's encodings for the others."""
    if function == "triplet_loss":
        a, p, n = (inputs[k].astype(np.float64) for k in checks.TripletLoss.INPUTS)
        alpha = inputs["alpha"]
        return {"loss": _hinge_sum(a, p, n, alpha),
                "probes": {"one_triplet": _hinge_sum(*(x.reshape(1, -1) for x in (a, p, n)),
                                                     alpha),
                           "no_alpha": _hinge_sum(a, p, n, 0.0),
                           "minus_alpha": _hinge_sum(a, p, n, -alpha),
                           "swapped": _hinge_sum(a, n, p, -alpha),
                           "large_alpha": _hinge_sum(a, p, n, alpha + 100),
                           "doubled": _hinge_sum(2 * a, 2 * p, 2 * n, 2 * alpha)}}
    stand_in = checks.StandIn(inputs["seed"], inputs["pictures"])
    visitor = img_to_encoding(stand_in.visitor, stand_in.model)
    distances = {name: float(np.linalg.norm(visitor - stand_in.database[name]))
                 for name in checks.NAMES}
    if function == "verify":
        return {"runs": {name: {"measured": {"first": d},
                                "runs": [{"first": d, "second": True},
                                         {"first": d, "second": False}]}
                         for name, d in distances.items()}}
    nearest = min(distances, key=distances.get)
    d = distances[nearest]
    return {"visitor": {"measured": {"first": d},
                        "runs": [{"first": d, "second": nearest}, {"first": d, "second": None}]},
            "own": {name: {"second": name} for name in checks.NAMES}}


def _assert_agree(got, wanted, where: str) -> None:
    """Every entry of ``wanted`` (nested dicts and lists) is in ``got``: numbers close."""
    if isinstance(wanted, dict):
        for key, value in wanted.items():
            _assert_agree(got[key], value, f"{where} {key}")
    elif isinstance(wanted, list):
        assert len(got) == len(wanted), where
        for i, (g, w) in enumerate(zip(got, wanted)):
            _assert_agree(g, w, f"{where} {i}")
    elif isinstance(wanted, float):
        np.testing.assert_allclose(got, wanted, rtol=1e-4, atol=1e-5, err_msg=where)
    else:
        assert got == wanted, where


def test_the_reference_answers_agree_with_independent_methods(source):
    """Every case the grader uses, public and hidden: the reference solution's answer (what
    students are compared with) equals the independent computation."""
    reference = solution(source)
    for tests in cases.read(source):
        graded = checks.CHECKS[tests.function]
        for case in tests.cases:
            inputs = graded.inputs(**case.params)
            _assert_agree(graded.call(reference[tests.function], inputs),
                          _independent(tests.function, inputs),
                          f"{tests.function} {case.params}")


def _loss(distance_axis, reduce=tf.reduce_sum, square=True, clamp=True, sign=1.0):
    def triplet_loss(y_true, y_pred, alpha=0.2):
        anchor, positive, negative = y_pred

        def dist(other):
            d = tf.reduce_sum(tf.square(anchor - other), axis=distance_axis)
            return d if square else tf.sqrt(d)
        basic = dist(positive) - dist(negative) + sign * alpha
        return reduce(tf.maximum(basic, 0.0) if clamp else basic)
    return triplet_loss


@pytest.mark.parametrize("wrong,diagnosis", [
    (_loss(None), "the squared distances are summed over every axis"),
    (_loss(-1, clamp=False), "the max with 0 is missing"),
    (_loss(-1, reduce=tf.reduce_mean), "the examples' losses are averaged"),
    (_loss(-1, square=False), "the distances are not squared"),
    (_loss(-1, sign=0.0), "alpha is left out"),
    (_loss(-1, sign=-1.0), "alpha is subtracted"),
])
def test_triplet_loss_check_names_the_mistake(wrong, diagnosis):
    with pytest.raises(AssertionError, match=f"^triplet_loss: {diagnosis}; "):
        checks.check_triplet_loss(wrong, seed=1, alpha=0.2)
