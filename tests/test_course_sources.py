"""What the course is built from: each assignment's sources (``Assignment.sources``), never
whatever else lies in their folder, such as a picture a run of the notebook left there. A stray
file must neither start a whole-class regrade (the sources' key) nor travel to the graders (the
bundle)."""

import subprocess

import pytest

from course import assignments
from course.assignments import COURSE_ROOT
from course.authoring import release
from course.grading import classroom
from course.grading.record import ClassRecord

A1 = assignments.get("C4W1A1_conv_step_by_step")


@pytest.mark.parametrize("assignment", assignments.available(), ids=lambda a: a.id)
def test_git_tracks_exactly_the_sources_of_each_assignment(assignment):
    folder = COURSE_ROOT / "source" / assignment.id
    listed = subprocess.run(["git", "ls-files", "-z", "."], cwd=folder, capture_output=True)
    if listed.returncode != 0:
        pytest.skip("not a git checkout")
    tracked = {folder / name for name in listed.stdout.decode().split("\0") if name}
    assert tracked == set(assignment.sources), (
        f"{assignment.id}: git tracks {sorted(p.name for p in tracked)} in its source folder, "
        f"Assignment.sources lists {sorted(p.name for p in assignment.sources)}")


def _key_and_bundle(tmp_path):
    """The sources' key of assignment 1 and the sources its grading bundle carries."""
    key = classroom._sources_key(A1)
    out = tmp_path / "out"
    course = release.new_course(out / "course", [A1])
    record = ClassRecord(out)
    record.assignments[A1.id] = key
    bundles, _unavailable = classroom._bundles(course, out, [A1], record, run_demonstrations=False,
                                               record_folder=None)
    bundle = bundles[A1.id]
    return key, bundle.sources


def test_a_stray_file_in_a_source_folder_changes_neither_the_key_nor_the_bundle(tmp_path):
    key, sources = _key_and_bundle(tmp_path / "before")
    assert sources == {f"{A1.id}/{A1.notebook}": A1.source_notebook.read_bytes()}
    stray = A1.source_notebook.parent / "out" / "stray-picture-of-a-test.jpg"
    stray.parent.mkdir(exist_ok=True)
    try:
        stray.write_bytes(b"a picture a run of the notebook left behind")
        assert _key_and_bundle(tmp_path / "after") == (key, sources)
    finally:
        stray.unlink()
        if not any(stray.parent.iterdir()):
            stray.parent.rmdir()


@pytest.mark.slow
def test_running_the_source_notebooks_leaves_nothing_next_to_them(executed_references):
    """The demonstrations show their pictures and save them, if at all, in a temporary folder."""
    for assignment in assignments.available():
        assert executed_references[assignment.id] is not None
        folder = COURSE_ROOT / "source" / assignment.id
        left = sorted(str(p.relative_to(folder)) for p in folder.rglob("*")
                      if p.is_file() and p not in assignment.sources)
        assert not left, f"running {assignment.id}'s source notebook left {left} in {folder}"
