"""The facts the notebooks' lessons state from measurements (course/authoring/figures/), checked
on shorter runs of the same code: polarity and the hand-designed filters, the shapes of a 1D and
a 3D convolution, vanishing gradients in a plain network and not in a residual one, the
detector's receptive fields, a logistic unit that verifies people it never saw, and strangers
let in more often as the number of residents grows."""

import numpy as np
import pytest

from course.authoring.figures import conv, faces, resnets, yolo
from utils import data


def test_an_edges_sign_says_its_polarity():
    light_to_dark = conv._correlate(conv.STEP_EDGE, conv.VERTICAL)
    dark_to_light = conv._correlate(conv.STEP_EDGE[:, ::-1], conv.VERTICAL)
    assert light_to_dark.shape == (4, 4)  # a valid convolution: 6 - 3 + 1
    assert np.all(light_to_dark[:, 1:3] == 30) and np.all(dark_to_light[:, 1:3] == -30)
    assert np.all(light_to_dark[:, [0, 3]] == 0) and np.all(dark_to_light[:, [0, 3]] == 0)


def test_scharr_estimates_the_direction_of_edges_best():
    angles = np.radians(np.arange(0, 91, 5))
    worst = {name: conv._direction_errors(kernel, angles).max()
             for name, kernel in (("vertical", conv.VERTICAL), ("Sobel", conv.SOBEL_X),
                                  ("Scharr", conv.SCHARR_X))}
    assert worst["Scharr"] < worst["Sobel"] / 5 < worst["vertical"] / 5, worst


def test_one_and_three_dimensional_convolutions_have_the_shapes_the_text_gives():
    from scipy.signal import correlate

    signal = conv._grey_louvre()[conv.SIGNAL_ROW]
    assert correlate(signal, np.array([1.0, 0.0, -1.0]), mode="valid").shape == (398,)
    frames = np.zeros((len(conv.VIDEO_FRAMES), *conv.VIDEO_SIZE))
    assert correlate(frames, conv.TIME_DERIVATIVE, mode="valid").shape == (3, 88, 158)
    assert all(data.fetch(path).is_file() for path in conv.VIDEO_FRAMES)


@pytest.fixture(scope="module")
def gradient_runs():
    return {residual: resnets.measure_gradients(residual, steps=3) for residual in (False, True)}


def test_the_plain_and_the_residual_network_start_from_the_same_weights():
    plain, residual = (resnets.gradient_network(r) for r in (False, True))
    assert len(plain.weights) == len(residual.weights)
    for a, b in zip(plain.weights, residual.weights):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


def test_the_gradient_vanishes_towards_the_input_of_the_plain_network_only(gradient_runs):
    plain, residual = gradient_runs[False], gradient_runs[True]
    first_step = 0
    # plain: each layer passes back about 1/sqrt(2) of the gradient it receives
    assert plain.output_gradients[first_step, 0] < plain.output_gradients[first_step, -1] / 100
    assert np.all(np.diff(plain.output_gradients[first_step, 1:]) > 0)
    # residual: the shortcuts carry it back whole
    assert residual.output_gradients[first_step, 0] > residual.output_gradients[first_step, -1]
    assert (residual.kernel_gradients[first_step, :3] >
            100 * plain.kernel_gradients[first_step, :3]).all()


def test_the_receptive_fields_measured_by_gradients_are_those_of_the_architecture():
    """A 3x3 convolution widens the field by 2 input strides, a 2x2 max pooling by 1 (the
    detector's cfg), so the fields of convolutions 2, 4 and 6 are 8, 38 and 158 pixels."""
    model = yolo.load_yolov3_tiny().model
    fields = {}
    for layer in yolo.UNIT_LAYERS:
        first, last, stride = yolo.receptive_field(model, layer)
        fields[layer] = (last - first + 1, stride)
    assert fields == {"leaky_2": (8, 2), "leaky_6": (38, 8), "leaky_10": (158, 32)}


def test_a_logistic_unit_fits_the_pairs_it_is_given():
    rng = np.random.default_rng(0)
    features = rng.random((400, 5))
    same = (features[:, 2] < 0.3).astype(float)  # one feature decides, as a distance would
    w, b = faces.fit_logistic_unit(features, same)
    assert np.argmax(np.abs(w)) == 2 and w[2] < 0
    accepted = features @ w + b > 0
    assert min(faces.rates(same, accepted)) > 0.9


def test_the_logistic_unit_verifies_people_it_never_saw_better_than_chance():
    pairs = faces.leave_one_person_out(faces.labelled_pictures(views=2))
    genuine_accepted, impostors_rejected = faces.rates(pairs.same, pairs.unit > 0.5)
    assert (genuine_accepted + impostors_rejected) / 2 > 0.8  # chance: 0.5
    photographs = pairs.photographs & (pairs.same == 1)
    assert photographs.sum() == 2 and (pairs.unit[photographs] > 0.5).all()


def test_strangers_get_in_more_often_as_the_number_of_residents_grows():
    found = faces.stranger_acceptance(faces.labelled_pictures(views=0))
    assert found.pairs == 14 * 11
    assert not found.opened[0.65].any()  # the notebook's threshold lets no stranger in
    for threshold, opened in found.opened.items():
        assert opened[0] == pytest.approx(found.per_pair[threshold])  # K = 1: one pair
        assert np.all(np.diff(opened) >= 0)
    assert found.opened[0.8][-1] > 5 * found.opened[0.8][0] > 0
