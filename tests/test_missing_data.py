"""Missing data, found fast and said plainly: one download attempt per dataset, and score
tables that mark the points lost for want of the grader's data.

The registry here is written by the test; its files are not course data and no notebook reads
them. Downloads go to a closed port of the loopback interface, so they fail at once.
"""

import csv
import json
import hashlib

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook, new_output

from course import assignments
from course.grading import nbgrader_course, sandbox
from course.grading.classroom import grade_class
from utils import data

PAYLOAD = b"bytes written by the missing-data test\n"
CLOSED_PORT_URL = "http://127.0.0.1:9/file"  # the discard port: nothing listens there


@pytest.fixture
def registry(tmp_path, monkeypatch):
    """A course home with one file present, and a dataset FAR of three files nowhere to be had."""
    home = tmp_path / "home"
    (home / "datasets").mkdir(parents=True)
    (home / "datasets" / "here.bin").write_bytes(PAYLOAD)
    monkeypatch.setenv(data.HOME_ENV, str(home))
    monkeypatch.delenv(data.MIRROR_ENV, raising=False)
    digest = hashlib.sha256(PAYLOAD).hexdigest()
    registry_file = tmp_path / "registry.csv"
    with open(registry_file, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["path", "sha256", "size", "assignments", "url"])
        for path in ("datasets/64x64_FAR/a.jpg", "datasets/64x64_FAR/b.jpg",
                     "datasets/train_far.h5", "datasets/here.bin"):
            writer.writerow([path, digest, len(PAYLOAD), "C4W1A2_signs_cnn", CLOSED_PORT_URL])
    monkeypatch.setattr(data, "REGISTRY_FILE", registry_file)
    return home


def test_files_of_one_dataset_share_its_name():
    assert data.dataset_of("datasets/train_signs.h5") == "SIGNS"
    assert data.dataset_of("datasets/64x64_SIGNS/test_signs/0_IMG_5942.jpg") == "SIGNS"
    assert data.dataset_of("pretrained-model/facenet_keras.h5") == "facenet_keras"


def test_one_failed_download_per_dataset_is_enough(registry, monkeypatch):
    attempts = []
    download = data._download

    def counted(entry, target):
        attempts.append(entry.path)
        download(entry, target)

    monkeypatch.setattr(data, "_download", counted)
    missing = data.check_available(data.entries_for(), progress=False)
    assert attempts == ["datasets/64x64_FAR/a.jpg"]
    assert len(missing) == 1
    gap = missing[0]
    assert (gap.dataset, gap.assignments) == ("FAR", ["C4W1A2_signs_cnn"])
    assert gap.paths == ["datasets/64x64_FAR/a.jpg", "datasets/64x64_FAR/b.jpg",
                         "datasets/train_far.h5"]
    assert gap.reason.startswith("the download from 127.0.0.1:9 failed: ")


def _autograded(tmp_path, ename: str, evalue: str):
    """An autograded notebook whose test cell test_model failed with this error."""
    cell = new_code_cell("", metadata={"nbgrader": {"grade": True, "grade_id": "test_model"}})
    cell.outputs = [new_output("error", ename=ename, evalue=evalue, traceback=[])]
    path = tmp_path / "autograded.ipynb"
    nbformat.write(new_notebook(cells=[cell]), path)
    return path


def test_a_cell_that_failed_for_want_of_data_is_marked(registry, tmp_path):
    message = "model raised DataFileError: 'datasets/train_far.h5' (needed by ...) is not available"
    missing = nbgrader_course.missing_data(_autograded(tmp_path, "DataFileError", message),
                                           "C4W1A2_signs_cnn")
    assert missing == {"test_model": ["FAR"]}
    score = nbgrader_course.Score("reference", "C4W1A2_signs_cnn", {"test_model": (0, 45)},
                          missing_data=missing)
    table = nbgrader_course.format_table([score])
    assert "0/45 (FAR data missing)" in table and "graded (FAR data missing)" in table


@pytest.mark.parametrize("ename, path, assignment", [
    ("AssertionError", "datasets/train_far.h5", "C4W1A2_signs_cnn"),  # another failure
    ("DataFileError", "datasets/here.bin", "C4W1A2_signs_cnn"),  # the grader has the file
    ("DataFileError", "datasets/train_far.h5", "C4W1A1_conv_step_by_step"),  # not its data
])
def test_other_failures_are_not_blamed_on_data(registry, tmp_path, ename, path, assignment):
    autograded = _autograded(tmp_path, ename, f"model raised {ename}: '{path}' is not available")
    assert nbgrader_course.missing_data(autograded, assignment) == {}


@pytest.mark.slow
def test_a_function_that_met_missing_data_is_marked_in_the_score_table(tmp_path, monkeypatch):
    """Graded as a class is (grade-class: sandboxed, trusted grading): the grader's course folder
    lacks SIGNS, which the reference answers of assignment 2 need (model trains on it); no
    submission of the assignment gets a score, each says why, and is graded again next run."""
    monkeypatch.setenv(data.HOME_ENV, str(tmp_path / "empty-home"))
    monkeypatch.delenv(data.MIRROR_ENV, raising=False)
    assignment = assignments.get("C4W1A2_signs_cnn")
    source = nbformat.read(assignment.source_notebook, as_version=4)
    release_nb = nbformat.read(assignment.release_notebook, as_version=4)
    nbgrader_course.submit(tmp_path / "submitted", "reference", assignment,
                           nbgrader_course.solved_submission(source, release_nb))
    [row] = grade_class(tmp_path / "submitted", tmp_path / "out", workers=1, progress=False,
                        sandboxed=not sandbox.check())
    assert row.score is None
    assert row.status.startswith("not graded: the grader's SIGNS data missing"), row.status
    assert row.status.endswith("fetch it and grade again")
    record = json.loads((tmp_path / "out" / "grading.json").read_text())
    assert [e["final"] for e in record["submissions"]] == [False]


def test_a_submission_that_met_the_graders_missing_data_is_not_graded(tmp_path):
    """Missing data is the grader's failure: no score, 'not graded' with the reason, and graded
    again on the next run (never a 0 with status 'graded')."""
    from course.grading import classroom
    from course.grading.limits import Limits
    from course.grading.worker import Ending, Outcome

    score = nbgrader_course.Score("student", "C4W1A2_signs_cnn", {"test_model": (0, 45)},
                                  status="graded", missing_data={"test_model": ["SIGNS"]})
    status, final, graded = classroom._status(Outcome(Ending.GRADED), (), score,
                                              tmp_path / "absent.ipynb", Limits())
    assert status == "not graded: the grader's SIGNS data missing: fetch it and grade again"
    assert not final and not graded


@pytest.mark.parametrize("nbgrader", [{}, {"solution": True, "grade_id": "zero_pad"}])
def test_a_data_error_in_the_students_own_cells_is_not_the_graders(registry, tmp_path, nbgrader):
    """A cell the student added, or an answer cell, is the student's code: its DataFileError is
    its own, even about a file of the assignment that the grader lacks."""
    cell = new_code_cell("", metadata={"nbgrader": nbgrader} if nbgrader else {})
    message = "DataFileError: 'datasets/train_far.h5' (needed by ...) is not available"
    cell.outputs = [new_output("error", ename="DataFileError", evalue=message, traceback=[])]
    nbformat.write(new_notebook(cells=[cell]), tmp_path / "autograded.ipynb")
    assert nbgrader_course.missing_data(tmp_path / "autograded.ipynb", "C4W1A2_signs_cnn") == {}
