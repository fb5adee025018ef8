"""Attacks on the stand-ins' row packing and on the hidden-call refusal (helper_calls).

Each test is an attack that a student who has read the code can make from the kernel, which
sends the grader's reference process whatever JSON it likes in place of ``SentRows.pack``'s.
"""
from __future__ import annotations

import base64
import gc
import io
import json
import tracemalloc
import zipfile

import numpy as np

from utils import graded


def _deflated(tree, arrays: dict[str, np.ndarray]) -> str:
    """What ``graded.encode`` makes of ``tree``, its .npz compressed (``decode`` reads any
    zip): a request of kilobytes that decodes to megabytes."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for key, array in arrays.items():
            with archive.open(f"{key}.npy", "w") as member:
                np.lib.format.write_array(member, array, allow_pickle=False)
    return json.dumps({"tree": tree, "npz": base64.b64encode(buffer.getvalue()).decode()})


def _retained(answers, messages) -> tuple[int, int]:
    """(bytes the reference process still holds once it has answered ``messages`` (answered
    or refused), the characters of those requests)."""
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        sent = 0
        for message in messages:
            sent += len(message["args"])
            answers(message)
            del message
        gc.collect()
        return tracemalloc.get_traced_memory()[0] - before, sent
    finally:
        tracemalloc.stop()


def _answers():
    from course.trusted.helper_calls import Answers

    return Answers({"total": lambda x: float(np.asarray(x).sum())}.__getitem__)


def test_rows_sent_as_duplicates_hold_no_more_memory_than_the_row_store_bound():
    """Each request's "new" holds 4,096 copies of one 4 KiB row: the store keeps one row,
    counts 4 KiB, and that row (a view) keeps the whole 16 MiB array alive. Twelve requests of
    a few kilobytes each make the reference process hold 192 MiB, past the MAX_ARGUMENT_BYTES
    the store promises (and, repeated, its whole 2 GiB for the rest of the notebook)."""
    from course.trusted.helper_calls import MAX_ARGUMENT_BYTES

    def messages():
        for i in range(12):
            new = np.full((4096, 1024), i, np.float32)
            packed = {graded.ROWS_KEY: [graded.row_digest(new[0])], "new": {"__array__": "a0"}}
            yield {"call": "total", "args": _deflated([[packed], {}], {"a0": new})}

    answers = _answers()
    retained, sent = _retained(answers, messages())
    assert sent < 2 ** 20  # the attacker sent under 1 MiB in all
    assert retained <= MAX_ARGUMENT_BYTES, f"{retained / 2 ** 20:.0f} MiB held"
    assert "malformed" in answers(next(messages()))["error"]  # a row sent twice: refused


def test_many_tiny_rows_hold_no_more_memory_than_the_row_store_bound():
    """The grader keeps rows of any size (``MIN_ROW_BYTES`` binds only the honest stand-in)
    and counts only their values: a row of one float64 costs 8 bytes in the count and about
    300 in the process (its digest, its array object, its dict entry). One request of 9 MB
    makes the reference process hold more than MAX_ARGUMENT_BYTES."""
    from course.trusted.helper_calls import MAX_ARGUMENT_BYTES

    new = np.arange(800_000, dtype=np.float64).reshape(-1, 1)
    packed = {graded.ROWS_KEY: [graded.row_digest(new[0])], "new": new}
    message = {"call": "total", "args": graded.encode([[packed], {}])}
    del new, packed
    answers = _answers()
    retained, _sent = _retained(answers, iter([message]))
    assert retained <= MAX_ARGUMENT_BYTES, f"{retained / 2 ** 20:.0f} MiB held"
    assert "malformed" in answers(message)["error"]  # rows under MIN_ROW_BYTES: refused


def test_a_hidden_compute_cost_call_with_negative_zeros_is_refused():
    """compute_cost's hidden cases have one-hot labels. The same labels with -0.0 for 0.0 are
    equal as values (the README: refused "as values ... any number type"), and the reference
    computes exactly the same cost, but the fingerprint hashes the bytes of the float64s, in
    which -0.0 is not 0.0: the stand-in answers the hidden case."""
    import tensorflow as tf

    from course.trusted.helper_calls import Answers, call_fingerprints
    from utils.public_tests.signs_cnn import CHECKS

    check = CHECKS["compute_cost"]
    public = call_fingerprints(check, check.inputs())
    hidden = call_fingerprints(check, check.inputs(m=64, seed=32)) - public
    inputs = check.inputs(m=64, seed=32)
    logits, labels = inputs["logits"], inputs["labels"]

    def cost(logits, labels):
        return tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits(labels=labels,
                                                                      logits=logits))

    answers = Answers({"compute_cost": cost}.__getitem__)

    def ask(labels):
        return answers({"call": "compute_cost", "refused": sorted(hidden),
                        "args": graded.encode(graded.to_wire([[tf.constant(logits),
                                                               tf.constant(labels)], {}]))})

    assert "hidden test cases" in ask(labels)["error"]  # the hidden call itself: refused
    signed = np.where(labels == 0, np.float32(-0.0), labels)
    assert np.array_equal(signed, labels)  # equal as values
    reply = ask(signed)
    assert "value" not in reply, (
        f"answered the hidden case: {graded.decode(reply['value'])} "
        f"(its answer: {float(cost(logits, labels))})")


def _stand_in(assignment: str, module: str, name: str, hidden_case: dict):
    """(ask, the reference helper): ``ask(*args, **kwargs)`` sends a stand-in's call of the
    helper ``name`` to ``Answers`` with the fingerprints of the hidden case ``hidden_case`` (a
    case of the source notebook's hidden tests) refused, and returns the decoded answer, or
    the reply when there is none."""
    import importlib

    from course.trusted.helper_calls import Answers, call_fingerprints
    from course.trusted.reference_solution import reference_functions

    check = importlib.import_module(f"utils.public_tests.{module}").CHECKS[name]
    reference = reference_functions(assignment, [name])
    public = call_fingerprints(check, check.inputs(**check.default_case), reference[name])
    hidden = sorted(call_fingerprints(check, check.inputs(**hidden_case), reference[name])
                    - public)  # as the grader computes them (Reference.hidden_calls_text)
    answers = Answers(reference.__getitem__)

    def ask(*args, **kwargs):
        reply = answers({"call": name, "refused": hidden, "args": graded.encode(
            graded.SentRows().pack(graded.to_wire([list(args), kwargs])))})
        return graded.from_wire(graded.decode(reply["value"])) if "value" in reply else reply
    return ask, reference[name]


def _refused(reply) -> bool:
    return isinstance(reply, dict) and "hidden test cases" in reply.get("error", "")


def test_explicit_default_weights_do_not_get_a_hidden_total_cost_answer():
    """total_cost's hidden case (J_content=4.0, J_style=0.5, tensors) calls total_cost(J_content,
    J_style) with its default weights. The same call with the defaults written out (alpha=10,
    beta=40, or 10 as a third argument) is the same call to the reference, which answers it
    with exactly the hidden answer: the fingerprint hashes the arguments sent, not the call."""
    import tensorflow as tf

    ask, total_cost = _stand_in("C4W4A2_neural_style_transfer", "neural_style_transfer",
                                "total_cost", {"J_content": 4.0, "J_style": 0.5, "tensors": True})
    costs = tf.constant(4.0), tf.constant(0.5)
    assert _refused(ask(*costs))
    for written_out in ({"alpha": 10, "beta": 40}, {"alpha": 10}):
        reply = ask(*costs, **written_out)
        assert _refused(reply), (f"answered the hidden case with {written_out}: {reply} "
                                 f"(its answer: {float(total_cost(*costs))})")


def test_renamed_style_layers_do_not_get_a_hidden_compute_style_cost_answer():
    """compute_style_cost reads only the weights of its (layer name, weight) pairs; the names
    are hashed, so the hidden case's call with its layers renamed is answered, exactly as the
    hidden case."""
    import tensorflow as tf

    from utils.public_tests.neural_style_transfer import CHECKS

    case = {"layer_shapes": ((1, 3, 3, 2), (1, 2, 4, 3), (1, 1, 2, 6)),
            "weights": (0.1, 0.5, 0.4), "seed": 4}
    ask, compute_style_cost = _stand_in("C4W4A2_neural_style_transfer",
                                        "neural_style_transfer", "compute_style_cost", case)
    inputs = CHECKS["compute_style_cost"].inputs(**case)
    style, generated = ([tf.constant(a) for a in inputs[k]]
                        for k in ("style_outputs", "generated_outputs"))
    layers = [(name, weight) for name, weight in inputs["style_layers"]]
    assert _refused(ask(style, generated, layers))
    reply = ask(style, generated, [(f"renamed_{name}", weight) for name, weight in layers])
    assert _refused(reply), (f"answered the hidden case: {reply} "
                             f"(its answer: {float(compute_style_cost(style, generated, layers))})")


def test_a_float32_threshold_does_not_get_a_hidden_yolo_filter_boxes_answer():
    """yolo_filter_boxes' hidden case has threshold 0.35 (a Python float), which the reference
    compares with float32 scores, so as float32(0.35). Sent as float32(0.35) (or a float32
    tensor), the threshold hashes as another float64, but the reference sees the same number
    and answers exactly the hidden case's boxes."""
    import tensorflow as tf

    from utils.public_tests.car_detection import CHECKS

    case = {"seed": 7, "threshold": 0.35}
    ask, yolo_filter_boxes = _stand_in("C4W3A1_car_detection", "car_detection",
                                       "yolo_filter_boxes", case)
    inputs = CHECKS["yolo_filter_boxes"].inputs(**case)
    arrays = [tf.constant(inputs[k]) for k in ("box_confidence", "boxes", "box_class_probs")]
    assert _refused(ask(*arrays, threshold=0.35))
    reply = ask(*arrays, threshold=np.float32(0.35))
    if not _refused(reply):
        hidden = yolo_filter_boxes(*arrays, threshold=0.35)
        same = all(np.array_equal(got, wanted) for got, wanted in zip(reply, hidden))
        raise AssertionError(f"answered the hidden case (the same boxes as its answer: {same})")


def test_size_one_axes_do_not_get_a_hidden_answer():
    """An argument with a size-1 axis more or less holds the same values, and the reference
    broadcasts it to the same answer: conv_single_step's hidden case with its bias b of shape
    (1, 1, 1) sent as a 0-d array, compute_cost's hidden case with one leading axis on logits
    and labels. The shapes differ, so the hash does, and the hidden answers come back."""
    import tensorflow as tf

    from utils.public_tests.conv_step_by_step import CHECKS as CONV
    from utils.public_tests.signs_cnn import CHECKS as SIGNS

    answered = []
    case = {"n_C_prev": 16, "f": 3, "seed": 12}
    ask, conv_single_step = _stand_in("C4W1A1_conv_step_by_step", "conv_step_by_step",
                                      "conv_single_step", case)
    a_slice, W, b = CONV["conv_single_step"].inputs(**case).values()
    assert _refused(ask(a_slice, W, b))
    if not _refused(reply := ask(a_slice, W, np.reshape(b, ()))):
        answered.append(f"conv_single_step: {reply} "
                        f"(its answer: {conv_single_step(a_slice, W, b)})")
    case = {"m": 64, "seed": 32}
    ask, compute_cost = _stand_in("C4W1A2_signs_cnn", "signs_cnn", "compute_cost", case)
    inputs = SIGNS["compute_cost"].inputs(**case)
    logits, labels = tf.constant(inputs["logits"]), tf.constant(inputs["labels"])
    assert _refused(ask(logits, labels))
    if not _refused(reply := ask(logits[None], labels[None])):
        answered.append(f"compute_cost: {float(reply)} "
                        f"(its answer: {float(compute_cost(logits, labels))})")
    assert not answered, "answered hidden cases: " + "; ".join(answered)


def test_kept_rows_and_plain_arrays_together_stay_within_the_argument_bound(monkeypatch):
    """``decode`` bounds the arrays a request carries, and ``ReceivedRows.unpack`` the arrays
    it rebuilds from kept rows, each to MAX_ARGUMENT_BYTES, but nothing bounds the two
    together: a call naming a full store of rows kept from an earlier call, beside a plain
    array of MAX_ARGUMENT_BYTES (zeros: kilobytes once deflated), hands the reference twice
    MAX_ARGUMENT_BYTES of arguments (2 x 160 MiB; before the rows were packed, a call's
    arguments were all in the request, and so at most 160 MiB). The bound is made 4 MiB here
    so that the test stays small; the reference process's code reads it at each call."""
    from course.trusted import helper_calls

    bound = 4 * 2 ** 20
    monkeypatch.setattr(helper_calls, "MAX_ARGUMENT_BYTES", bound)
    received = []
    answers = helper_calls.Answers({"sizes": lambda *arrays: received.append(
        sum(np.asarray(a).nbytes for a in arrays)) or 0.0}.__getitem__)
    rows = np.zeros((bound // graded.MIN_ROW_BYTES - 1, graded.MIN_ROW_BYTES // 4), np.float32)
    rows[:, 0] = np.arange(len(rows))  # distinct rows, deflated to a few bytes each
    digests = [graded.row_digest(row) for row in rows]
    first = {"call": "sizes", "args": _deflated(
        [[{graded.ROWS_KEY: digests, "new": {"__array__": "a0"}}], {}], {"a0": rows})}
    assert "value" in answers(first)
    named = {graded.ROWS_KEY: digests, "new": {"__array__": "a0"}}  # no new rows
    second = {"call": "sizes", "args": _deflated(
        [[named, {"__array__": "a1"}], {}],
        {"a0": rows[:0], "a1": np.zeros((bound - 1024) // 4, np.float32)})}  # .npy headers fit
    answers(second)
    assert len(second["args"]) < bound // 8  # a request far smaller than the bound
    assert max(received) <= bound, (
        f"the reference received {max(received) / bound:.1f} x MAX_ARGUMENT_BYTES of arguments")
