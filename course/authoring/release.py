"""Generate the student release from the source notebooks, and check it is up to date.

One source of truth: ``source_release/source/<id>/`` holds the notebooks with solutions and
hidden tests. ``nbgrader generate_assignment`` turns them into ``source_release/release/<id>/``,
and the student notebooks ``notebooks/<id>.ipynb`` are the release notebooks with their figure
links pointing from notebooks/ to images/. Nothing in release/ or notebooks/ is edited by hand.

The Chinese edition goes the same way: the Chinese source notebook of each translated assignment
(``course.translation.notebooks``, generated in a scratch course, never stored) becomes
``source_release/release_zh/<id>/`` and ``notebooks/zh/<id>.ipynb``.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import nbformat

from course.assignments import COURSE_ROOT, SOURCE_IMAGE_PREFIX, Assignment
from course.execution import nbgrader_api, new_gradebook
from course.translation.notebooks import chinese_source, translated

# Student notebooks sit one folder below the repository root (the Chinese student notebooks two).
STUDENT_IMAGE_PREFIX = "](../images/"
CHINESE_STUDENT_IMAGE_PREFIX = "](../../images/"


def new_course(root: Path, assignments: list[Assignment], chinese: bool = False) -> Path:
    """Make a working nbgrader course in ``root`` (config, sources, gradebook, release); with
    ``chinese``, of the assignments' Chinese source notebooks.

    Returns ``root``. The course's own folder is never written to, so a test or a grading run
    cannot leave a gradebook or submissions behind in the repository.
    """
    root.mkdir(parents=True, exist_ok=True)
    shutil.copy(COURSE_ROOT / "nbgrader_config.py", root / "nbgrader_config.py")
    if not (root / "gradebook.db").exists():
        new_gradebook(root / "gradebook.db")
    api = nbgrader_api(root)
    for assignment in assignments:
        for path in assignment.sources:
            target = root / path.relative_to(COURSE_ROOT)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(path, target)
        if chinese:
            nbformat.write(chinese_source(assignment),
                           root / "source" / assignment.id / assignment.notebook)
        result = api.generate_assignment(assignment.id, force=True)
        if not result["success"]:
            raise RuntimeError(f"nbgrader generate_assignment {assignment.id} failed in {root}:"
                               f"\n{result['log']}\n{result.get('error', '')}")
    return root


def student_version(release_nb: nbformat.NotebookNode, prefix: str = STUDENT_IMAGE_PREFIX
                    ) -> nbformat.NotebookNode:
    """The student notebook for notebooks/ (``prefix``: notebooks/zh/): the release notebook
    with figure links rebased."""
    nb = nbformat.from_dict(release_nb)
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            cell.source = cell.source.replace(SOURCE_IMAGE_PREFIX, prefix)
    return nb


def build(assignments: list[Assignment], out_root: Path) -> dict[Path, nbformat.NotebookNode]:
    """Generate the release and student notebooks of ``assignments``.

    Returns {path relative to the repository root: notebook}; nothing is written there.
    """
    outputs = {}
    with tempfile.TemporaryDirectory() as scratch:
        course = new_course(Path(scratch) / "en", assignments)
        for assignment in assignments:
            release_nb = nbformat.read(course / "release" / assignment.id / assignment.notebook,
                                       as_version=4)
            outputs[assignment.release_notebook.relative_to(out_root)] = release_nb
            outputs[assignment.student_notebook.relative_to(out_root)] = student_version(release_nb)
        chinese = translated(assignments)
        course = new_course(Path(scratch) / "zh", chinese, chinese=True)
        for assignment in chinese:
            release_nb = nbformat.read(course / "release" / assignment.id / assignment.notebook,
                                       as_version=4)
            outputs[assignment.chinese_release_notebook.relative_to(out_root)] = release_nb
            outputs[assignment.chinese_student_notebook.relative_to(out_root)] = student_version(
                release_nb, CHINESE_STUDENT_IMAGE_PREFIX)
    return outputs


def write(outputs: dict[Path, nbformat.NotebookNode], out_root: Path) -> None:
    """Write the notebooks returned by ``build`` under ``out_root``."""
    for relative, nb in outputs.items():
        (out_root / relative).parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, out_root / relative)


def stale(outputs: dict[Path, nbformat.NotebookNode], out_root: Path) -> list[str]:
    """The generated notebooks that are missing under ``out_root`` or differ from ``outputs``."""
    problems = []
    for relative, nb in outputs.items():
        path = out_root / relative
        if not path.is_file():
            problems.append(f"{relative} is missing")
        elif nbformat.read(path, as_version=4) != nb:
            problems.append(f"{relative} differs from what its source notebook generates")
    return problems
