"""The course's check of the cells' grading metadata (``course/trusted/cell_metadata.py``)
accepts and refuses exactly what nbgrader's own does, with the same errors, and checks
nbgrader's schema once per process instead of once per cell."""

import copy

import jsonschema
import nbformat
import pytest
from nbgrader.nbgraderformat import MetadataValidator as NbgraderMetadataValidator
from nbgrader.nbgraderformat import ValidationError

from course import assignments
from course.trusted import cell_metadata

NOTEBOOKS = {f"{a.id} {kind}": nbformat.read(path, as_version=4)
             for a in assignments.available()
             for kind, path in (("source", a.source_notebook), ("release", a.release_notebook))}


def _graded(nb, which: int) -> nbformat.NotebookNode:
    """The which-th cell (counting from the end when negative) that has nbgrader metadata."""
    return [c for c in nb.cells if "nbgrader" in c.metadata][which]


def _first_grade_id(nb):
    return _graded(nb, 0).metadata.nbgrader.grade_id


def _as_graded_markdown(cell):
    cell.cell_type = "markdown"
    cell.pop("outputs", None)
    cell.pop("execution_count", None)
    cell.metadata.nbgrader.update(grade=True, solution=False, task=False, points=1)


# name: how it corrupts a notebook (in place)
CORRUPTIONS = {
    "intact": lambda nb: None,
    "no grade id": lambda nb: _graded(nb, -1).metadata.nbgrader.pop("grade_id"),
    "empty grade id": lambda nb: _graded(nb, -1).metadata.nbgrader.update(grade_id=""),
    "points as text": lambda nb: _graded(nb, 0).metadata.nbgrader.update(points="ten"),
    "grade as text": lambda nb: _graded(nb, 1).metadata.nbgrader.update(grade="yes"),
    "grade id a number": lambda nb: _graded(nb, 1).metadata.nbgrader.update(grade_id=7),
    "duplicate grade id": lambda nb: _graded(nb, -1).metadata.nbgrader.update(
        grade_id=_first_grade_id(nb)),
    "graded markdown that is no solution": lambda nb: _as_graded_markdown(_graded(nb, 0)),
    "metadata not a dict": lambda nb: _graded(nb, 0).metadata.update(nbgrader=[1]),
    "old schema": lambda nb: _graded(nb, 0).metadata.nbgrader.update(schema_version=2),
    "new schema": lambda nb: _graded(nb, 0).metadata.nbgrader.update(schema_version=4),
    "schema version as text": lambda nb: _graded(nb, 0).metadata.nbgrader.update(
        schema_version="3"),
    "schema version not a number": lambda nb: _graded(nb, 0).metadata.nbgrader.update(
        schema_version=float("nan")),
}


def _outcome(validator, nb):
    """None, or the type and text of the error validating nb raised."""
    try:
        validator.validate_nb(nb)
    except Exception as error:  # noqa: BLE001 (the error itself is the result compared)
        return type(error), str(error)
    return None


@pytest.mark.parametrize("corruption", list(CORRUPTIONS))
@pytest.mark.parametrize("notebook", list(NOTEBOOKS))
def test_the_course_check_decides_as_nbgraders(notebook, corruption):
    nb = copy.deepcopy(NOTEBOOKS[notebook])
    CORRUPTIONS[corruption](nb)
    expected = _outcome(NbgraderMetadataValidator(), nb)
    assert (expected is None) == (corruption == "intact"), expected
    assert _outcome(cell_metadata.MetadataValidator(), nb) == expected


def test_the_preprocessor_refuses_corrupted_metadata_as_nbgraders_does():
    nb = copy.deepcopy(NOTEBOOKS[next(iter(NOTEBOOKS))])
    CORRUPTIONS["points as text"](nb)
    with pytest.raises(ValidationError, match="the nbgrader metadata may be corrupted"):
        cell_metadata.CheckCellMetadata().preprocess(nb, {})


def test_the_schema_is_checked_once_per_process(monkeypatch):
    nb = NOTEBOOKS[next(iter(NOTEBOOKS))]
    cell_metadata.MetadataValidator().validate_nb(nb)
    checks = []
    schema_class = type(cell_metadata._VALIDATORS[cell_metadata.MetadataValidator.schema_version])
    monkeypatch.setattr(schema_class, "check_schema", classmethod(lambda cls, s: checks.append(s)))
    monkeypatch.setattr(jsonschema, "validate", lambda *a, **k: checks.append(a))
    cell_metadata.CheckCellMetadata().preprocess(nb, {})
    assert checks == []
    assert sum("nbgrader" in c.metadata for c in nb.cells) > 1
