"""Hidden cases are worthless to learn: fresh seeds and fresh numbers in every grading run, and
a failed helper's stand-in refuses the arguments of the helper's own hidden cases."""

from __future__ import annotations

import inspect
import json
import shutil
import subprocess
import sys
from importlib import import_module

import nbformat
import numpy as np
import pytest

from course import assignments
from course.trusted import cases
from course.trusted.helper_calls import Answers, call_fingerprints, fingerprint
from course.trusted.reference_answers import Reference
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
    """Equal values at float32's precision, with size-1 axes more or less, and whatever
    strings come with them, hash alike (the reference reads float32 and broadcasts)."""
    as_sent = decode(encode(to_wire([[-3.5, (3, 3)], {}])))
    assert fingerprint(as_sent) == fingerprint([[np.float32(-3.5), [3, 3]], {}])
    assert fingerprint(as_sent) == fingerprint([[], {"shape": np.array([3, 3]), "dz": -3.5}])
    assert fingerprint(as_sent) == fingerprint([[-3.5000001, [3, 3]], {}])  # float32's
    assert fingerprint(as_sent) != fingerprint([[-3.5001, [3, 3]], {}])
    assert fingerprint(as_sent) != fingerprint([[-3.5, [3, 3, 1]], {}])
    assert fingerprint(as_sent) == fingerprint([[np.array([[-3.5]]), [3, 3], "max"], {}])


def test_a_stand_in_refuses_the_arguments_of_its_hidden_cases():
    graded = checks.CHECKS["distribute_value"]
    hidden = call_fingerprints(graded, graded.inputs(dz=-2.25, shape=(3, 3)))
    answers = Answers({"distribute_value": lambda dz, shape: np.full(shape, dz / 9)}.__getitem__)

    def ask(dz):
        return answers({"call": "distribute_value", "args": encode(to_wire([[dz, (3, 3)], {}])),
                        "refused": sorted(hidden)})

    assert "hidden test cases" in ask(-2.25)["error"]
    assert np.allclose(decode(ask(-2.0)["value"]), -2.0 / 9)


def test_the_hidden_calls_are_kept_with_the_answers_and_read_without_tensorflow(tmp_path):
    """grade-class computes the fingerprints of each helper's hidden calls with the reference
    answers (``classroom._expected_answers``), in a file of their own beside the answers (every
    ``.json`` file there is an answer): they are those of the helper's hidden cases that no
    public case makes, and a worker reads them from the folder, in a process that never
    imports TensorFlow (assignment 4 compares its answers with numpy alone)."""
    from course.grading import classroom

    a = assignments.get("C4W3A1_car_detection")
    course = tmp_path / "course"
    (course / "source" / a.id).mkdir(parents=True)
    shutil.copy(a.source_notebook, course / "source" / a.id / a.notebook)
    folder = tmp_path / "expected"
    kept = classroom._expected_answers(course, a, folder, "a run")
    source = nbformat.read(a.source_notebook, as_version=4)
    tests = cases.read(source, "a run")
    by_function = {t.function: t.cases for t in tests}
    helper = import_module("utils.public_tests.car_detection").CHECKS["yolo_filter_boxes"]
    function = Reference(a.source_notebook).function("yolo_filter_boxes")  # its defaults
    calls = {hidden: set().union(*(call_fingerprints(helper, helper.inputs(**c.params), function)
                                   for c in by_function["yolo_filter_boxes"]
                                   if c.hidden == hidden)) for hidden in (True, False)}
    assert calls[True] - calls[False], "the helper's hidden cases make no call of their own"
    name = Reference(a.source_notebook).hidden_calls_file(helper, tests)
    assert json.loads(kept[f"{a.id}/{name}"]) == sorted(calls[True] - calls[False])
    for path in (folder / a.id).glob("*.json"):  # the answers, which the grader decodes
        decode(path.read_text())
    code = ("import json, sys\n"
            "import nbformat\n"
            "from course.trusted import cases\n"
            "from course.trusted.reference_answers import Reference\n"
            "from utils.public_tests.car_detection import CHECKS\n"
            "reference = Reference(sys.argv[1], sys.argv[2])\n"
            "tests = cases.read(reference.source, 'a run')\n"
            "helper = CHECKS['yolo_filter_boxes']\n"
            "found = reference.hidden_calls(helper, tests)\n"
            "print(json.dumps([sorted(found), 'tensorflow' in sys.modules]))\n")
    found, tensorflow = json.loads(subprocess.run(
        [sys.executable, "-c", code, str(a.source_notebook), str(folder / a.id)],
        capture_output=True, text=True, check=True).stdout.strip().splitlines()[-1])
    assert found == sorted(calls[True] - calls[False])
    assert not tensorflow, "reading the kept hidden calls imported TensorFlow"


@pytest.mark.parametrize("assignment_id", [a.id for a in assignments.available()])
def test_every_hidden_case_of_a_helper_makes_a_call_its_stand_in_refuses(assignment_id):
    """Fingerprints leave out what the reference cannot tell apart (float32 rounding, size-1
    axes, strings, defaults written out), so a hidden call could come to hash as a public one
    and no longer be refused: each hidden case of each helper (with parameters) makes at least
    one call that the stand-in refuses."""
    a = assignments.get(assignment_id)
    reference = Reference(a.source_notebook)
    tests = cases.read(reference.source, "a run")
    checks = {t.function: import_module(t.module).CHECKS[t.function] for t in tests}
    for name in {h for graded in checks.values() for h in graded.helpers}:
        helper, function = checks[name], reference.function(name)
        if not inspect.signature(function).parameters:
            continue  # every case makes the same call
        refused = reference.hidden_calls(helper, tests)
        for case in (c for t in tests if t.function == name for c in t.cases if c.hidden):
            made = call_fingerprints(helper, helper.inputs(**case.params), function)
            assert not made or made & refused, f"{name}'s hidden case {case.params}"
