"""A class of generated hostile notebooks, graded as one class with ``grade_class``.

Hypothesis generates notebooks of assignment 1 from its release: cells deleted, duplicated,
moved or retyped, nbgrader metadata and cell metadata replaced by arbitrary JSON (wrong types,
repeated or foreign ids, huge points), arbitrary outputs (unknown types, deep nesting, odd
MIME bundles), notebook metadata (kernels, languages) and arbitrary text in the answer cells.
Three honest controls are graded in the same class. However the notebooks are made, every
student gets a row in scores.csv, the controls keep their exact scores, and no hostile notebook
scores more than the release's provided code deserves (0) or fails to get a status.
"""

from __future__ import annotations

import copy
import csv
import json

import nbformat
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from course import assignments
from course.grading import nbgrader_course
from course.grading.classroom import grade_class
from course.grading.limits import Limits

A1 = assignments.get("C4W1A1_conv_step_by_step")
RELEASE = json.loads(A1.release_notebook.read_text())
CONTROLS = {"good": 100.0, "blank": 0.0, "wrong_zero_pad": 90.0}
HOSTILE = 8  # generated notebooks in the class

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-2 ** 70, 2 ** 70) | st.floats() | st.text(max_size=30),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10),
                                                                        children, max_size=4),
    max_leaves=20)
grade_ids = st.sampled_from([c.get("metadata", {}).get("nbgrader", {}).get("grade_id", "x")
                             for c in RELEASE["cells"]]) | st.text(max_size=12)
nbgrader_metadata = st.fixed_dictionaries({}, optional={
    "grade": json_values, "solution": json_values, "locked": json_values, "task": json_values,
    "grade_id": grade_ids, "points": st.integers(-10, 10 ** 9) | json_values,
    "schema_version": json_values})
outputs = st.lists(st.fixed_dictionaries(
    {"output_type": st.sampled_from(["stream", "display_data", "execute_result", "error",
                                     "update_display_data", "junk"])},
    optional={"name": st.sampled_from(["stdout", "stderr", "junk"]), "text": json_values,
              "data": st.dictionaries(st.sampled_from(["text/plain", "text/html",
                                                       "application/javascript", "image/png",
                                                       "application/x-junk"]), json_values),
              "metadata": json_values, "ename": json_values, "evalue": json_values,
              "traceback": json_values, "execution_count": json_values}), max_size=3)
answers = st.text(max_size=200) | st.sampled_from([
    "def zero_pad(X, pad):\n    return X\n", "raise SystemExit(0)\n", "import sys; sys.exit()\n",
    "del zero_pad\n", "globals().clear()\n", "1/0\n", "exit()\n", "\x00\n", "print('\\x1b[2J')\n",
    "def conv_forward(*a, **k):\n    return None, None\n", "import os\nos.chdir('/')\n"])


@st.composite
def hostile_notebooks(draw) -> str:
    """The text of one generated notebook."""
    nb = copy.deepcopy(RELEASE)
    cells = nb["cells"]
    for _ in range(draw(st.integers(0, 6))):
        index = draw(st.integers(0, len(cells) - 1)) if cells else 0
        action = draw(st.sampled_from(["delete", "duplicate", "move", "retype", "metadata",
                                       "nbgrader", "outputs", "answer", "source"]))
        if not cells:
            break
        cell = cells[index]
        if action == "delete":
            cells.pop(index)
        elif action == "duplicate":
            cells.insert(draw(st.integers(0, len(cells))), copy.deepcopy(cell))
        elif action == "move":
            cells.insert(draw(st.integers(0, len(cells) - 1)), cells.pop(index))
        elif action == "retype":
            cell["cell_type"] = draw(st.sampled_from(["code", "markdown", "raw", "junk"]))
        elif action == "metadata":
            cell["metadata"] = draw(st.dictionaries(st.text(max_size=10), json_values,
                                                    max_size=3))
        elif action == "nbgrader":
            cell.setdefault("metadata", {})["nbgrader"] = draw(nbgrader_metadata)
        elif action == "outputs":
            cell["outputs"] = draw(outputs)
        elif action == "source":
            cell["source"] = draw(json_values)
        else:
            answer_cells = [c for c in cells if c.get("metadata", {}).get("nbgrader", {})
                            .get("solution") is True]
            if answer_cells:
                draw(st.sampled_from(answer_cells))["source"] = draw(answers)
    if draw(st.booleans()):
        nb["metadata"] = draw(st.fixed_dictionaries({}, optional={
            "kernelspec": json_values, "language_info": json_values, "nbgrader": json_values,
            "widgets": json_values}))
    if draw(st.booleans()):
        nb["nbformat_minor"] = draw(json_values)
    return json.dumps(nb)


def _controls() -> dict[str, nbformat.NotebookNode]:
    source = nbformat.read(A1.source_notebook, as_version=4)
    release_nb = nbformat.read(A1.release_notebook, as_version=4)
    wrong = nbgrader_course.reference_answers(source)["zero_pad"].replace("(pad, pad), (0, 0)",
                                                                   "(pad, pad), (pad, pad)")
    return {"good": nbgrader_course.solved_submission(source, release_nb), "blank": release_nb,
            "wrong_zero_pad": nbgrader_course.solved_submission(source, release_nb,
                                                        {"zero_pad": wrong})}


@settings(max_examples=1, deadline=None, derandomize=True, database=None,
          suppress_health_check=list(HealthCheck))
@given(st.lists(hostile_notebooks(), min_size=HOSTILE, max_size=HOSTILE))
def test_a_class_of_generated_hostile_notebooks_keeps_every_row_and_the_controls(
        tmp_path_factory, generated):
    root = tmp_path_factory.mktemp("hostile_class")
    for student, nb in _controls().items():
        (root / "sub" / student / A1.id).mkdir(parents=True)
        nbformat.write(nb, root / "sub" / student / A1.id / A1.notebook)
    for number, text in enumerate(generated):
        (root / "sub" / f"h{number}" / A1.id).mkdir(parents=True)
        (root / "sub" / f"h{number}" / A1.id / A1.notebook).write_text(text)
    grade_class(root / "sub", root / "out", limits=Limits(cell_timeout=30, notebook_timeout=120),
                progress=False)
    with open(root / "out" / "scores.csv") as handle:
        table = {row["student"]: row for row in csv.DictReader(handle)}
    assert set(table) == set(CONTROLS) | {f"h{n}" for n in range(HOSTILE)}
    for student, total in CONTROLS.items():
        assert table[student]["total"] == f"{total}", table[student]
    for number in range(HOSTILE):
        row = table[f"h{number}"]
        assert row["status"], row
        assert row["total"] in ("", "0.0"), (row, generated[number][:2000])
