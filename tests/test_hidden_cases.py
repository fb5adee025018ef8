"""Hidden cases are worthless to learn: fresh seeds and fresh numbers in every grading run, and
a failed helper's stand-in refuses the arguments of the helper's own hidden cases."""

from __future__ import annotations

import nbformat
import numpy as np

from course import assignments
from course.trusted import cases
from course.trusted.helper_calls import Answers, call_fingerprints, fingerprint
from utils.graded import decode, encode, to_wire
from utils.public_tests import conv_step_by_step as checks

A1 = assignments.get("C4W1A1_conv_step_by_step")


def _cases(secret: str) -> dict[str, list[cases.Case]]:
    source = nbformat.read(A1.source_notebook, as_version=4)
    return {t.function: t.cases for t in cases.read(source, secret)}


def test_hand_built_hidden_cases_change_with_every_run_and_keep_their_meaning():
    written, one, two = _cases(None), _cases("run one"), _cases("run two")
    for function in ("create_mask_from_window", "distribute_value"):
        for case, first, second in zip(written[function], one[function], two[function]):
            if not case.hidden:
                assert case == first == second, "a public case changed"
                continue
            name = checks.CHECKS[function].varied[0]
            if name not in case.params:
                continue
            original, a, b = (np.asarray(c.params[name], float) for c in (case, first, second))
            assert not np.array_equal(a, b), f"{function}'s hidden {name} is the same each run"
            assert (np.sign(a) == np.sign(original)).all() and (
                np.argsort(a, axis=None) == np.argsort(original, axis=None)).all()
            assert first.params.get("shape") == case.params.get("shape")  # integers kept


def test_seeded_hidden_cases_get_fresh_seeds_and_the_same_run_the_same():
    one, again, two = _cases("run one"), _cases("run one"), _cases("run two")
    seeds = [c.params["seed"] for c in one["conv_forward"] if c.hidden]
    assert seeds == [c.params["seed"] for c in again["conv_forward"] if c.hidden]
    assert seeds != [c.params["seed"] for c in two["conv_forward"] if c.hidden]


def test_a_call_has_one_fingerprint_whatever_the_types_of_its_values():
    as_sent = decode(encode(to_wire([[-3.5, (3, 3)], {}])))
    assert fingerprint(as_sent) == fingerprint([[np.float32(-3.5), [3, 3]], {}])
    assert fingerprint(as_sent) == fingerprint([[], {"shape": np.array([3, 3]), "dz": -3.5}])
    assert fingerprint(as_sent) != fingerprint([[-3.5000001, [3, 3]], {}])
    assert fingerprint(as_sent) != fingerprint([[-3.5, [3, 3, 1]], {}])


def test_a_stand_in_refuses_the_arguments_of_its_hidden_cases():
    graded = checks.CHECKS["distribute_value"]
    hidden = call_fingerprints(graded, graded.inputs(dz=-2.25, shape=(3, 3)))
    answers = Answers({"distribute_value": lambda dz, shape: np.full(shape, dz / 9)}.__getitem__)

    def ask(dz):
        return answers({"call": "distribute_value", "args": encode(to_wire([[dz, (3, 3)], {}])),
                        "refused": sorted(hidden)})

    assert "hidden test cases" in ask(-2.25)["error"]
    assert np.allclose(decode(ask(-2.0)["value"]), -2.0 / 9)
