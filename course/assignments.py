"""The six assignments of the course: ids, titles and notebook names, and where they live."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
COURSE_ROOT = REPO_ROOT / "source_release"  # the nbgrader course: config, source/, release/
NOTEBOOKS_DIR = REPO_ROOT / "notebooks"  # student notebooks, generated from the release
CHINESE_RELEASE = COURSE_ROOT / "release_zh"  # the Chinese edition's release (course.translation)
CHINESE_NOTEBOOKS = NOTEBOOKS_DIR / "zh"  # and its student notebooks
# How a source or release notebook (three folders below the repository root) links a figure.
SOURCE_IMAGE_PREFIX = "](../../../images/"


@dataclass(frozen=True)
class Assignment:
    """One graded notebook. ``id`` is the nbgrader assignment id (course C4, week W, number A)."""

    id: str
    title: str
    notebook: str  # file name of the notebook inside source/<id>/ and release/<id>/

    @property
    def source_notebook(self) -> Path:
        return COURSE_ROOT / "source" / self.id / self.notebook

    @property
    def sources(self) -> tuple[Path, ...]:
        """What the course builds this assignment from: its source notebook. Anything else in
        ``source/<id>/`` (a picture a run of the notebook left there) is not part of the
        course: neither built, nor hashed, nor sent to the graders (a test checks that git
        tracks no other file there)."""
        return (self.source_notebook,)

    @property
    def release_notebook(self) -> Path:
        return COURSE_ROOT / "release" / self.id / self.notebook

    @property
    def student_notebook(self) -> Path:
        return NOTEBOOKS_DIR / f"{self.id}.ipynb"

    @property
    def chinese_release_notebook(self) -> Path:
        return CHINESE_RELEASE / self.id / self.notebook

    @property
    def chinese_student_notebook(self) -> Path:
        return CHINESE_NOTEBOOKS / f"{self.id}.ipynb"


ALL = (
    Assignment("C4W1A1_conv_step_by_step", "Convolution step by step", "conv_step_by_step.ipynb"),
    Assignment("C4W1A2_signs_cnn", "SIGNS classifier in TensorFlow", "signs_cnn.ipynb"),
    Assignment("C4W2A1_resnets", "Residual networks", "resnets.ipynb"),
    Assignment("C4W3A1_car_detection", "YOLO car detection", "car_detection.ipynb"),
    Assignment("C4W4A1_face_recognition", "Face recognition", "face_recognition.ipynb"),
    Assignment("C4W4A2_neural_style_transfer", "Neural style transfer",
               "neural_style_transfer.ipynb"),
)


def available() -> list[Assignment]:
    """The assignments whose source notebook exists, in course order."""
    return [a for a in ALL if a.source_notebook.is_file()]


def get(assignment_id: str) -> Assignment:
    """The assignment with this id; ValueError naming the known ids otherwise."""
    for assignment in ALL:
        if assignment.id == assignment_id:
            return assignment
    raise ValueError(f"unknown assignment {assignment_id!r}; known: {', '.join(a.id for a in ALL)}")
