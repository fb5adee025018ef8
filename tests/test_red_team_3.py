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
