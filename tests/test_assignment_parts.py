"""Every assignment has all its parts (README, "How to add an assignment"): a test names the
assignment and the part it lacks."""

from pathlib import Path

import nbformat
import pytest
from mistakes import MISTAKES

from course import assignments
from course.assignments import COURSE_ROOT, REPO_ROOT, Assignment
from course.authoring.figures import FIGURES
from course.translation.notebooks import catalogue
from course.trusted import cases
from utils import graded


def _relative(path: Path) -> str:
    return str(path.relative_to(REPO_ROOT))


def _source(a: Assignment) -> nbformat.NotebookNode | None:
    return nbformat.read(a.source_notebook, as_version=4) if a.source_notebook.is_file() else None


def _module(a: Assignment) -> str:
    return f"utils.public_tests.{Path(a.notebook).stem}"


def source_notebook(a: Assignment) -> list[str]:
    return [] if a.source_notebook.is_file() else [f"{_relative(a.source_notebook)} is missing"]


def generated_notebooks(a: Assignment) -> list[str]:
    return [f"{_relative(p)} is missing: run `python -m course release`"
            for p in (a.release_notebook, a.student_notebook) if not p.is_file()]


def public_test_module(a: Assignment) -> list[str]:
    path = REPO_ROOT / (_module(a).replace(".", "/") + ".py")
    if not path.is_file():
        return [f"{_relative(path)} is missing"]
    source = _source(a)
    if source is None:
        return []
    try:
        module = cases._module_of(source)
        cases.read(source)  # every test cell's function has a check in the module
    except ValueError as error:
        return [str(error)]
    return [] if module == _module(a) else [
        f"the notebook imports {module} as `tests`, not {_module(a)}"]


def stored_public_answers(a: Assignment) -> list[str]:
    path = graded.public_answers_path(_module(a))
    return [] if path.is_file() else [
        f"{_relative(path)} is missing: run `python -m course public-answers {a.id}`"]


def figures(a: Assignment) -> list[str]:
    folder = Path(a.notebook).stem
    return [] if any(name.startswith(f"{folder}/") for name in FIGURES) else [
        f"course/authoring/figures/__init__.py draws nothing into images/{folder}/"]


def mistakes(a: Assignment) -> list[str]:
    source = _source(a)
    answers = {c.metadata["nbgrader"]["grade_id"] for c in source.cells
               if c.metadata.get("nbgrader", {}).get("solution")} if source else set()
    missing = sorted(answers - set(MISTAKES.get(a.id, {})))
    if a.id not in MISTAKES or missing:
        return [f"tests/mistakes.py has no mistake for {', '.join(missing) or 'it'}"]
    return []


def its_own_tests(a: Assignment) -> list[str]:
    path = REPO_ROOT / "tests" / f"test_{Path(a.notebook).stem}.py"
    return [] if path.is_file() else [f"{_relative(path)} is missing"]


def readme_row(a: Assignment) -> list[str]:
    row = f"| `{a.id}` |"
    return [] if row in (REPO_ROOT / "README.md").read_text() else [
        f"README.md's table of assignments has no row starting {row}"]


def chinese_catalogue(a: Assignment) -> list[str]:
    path = catalogue(a)
    return [] if path.is_file() else [
        f"{_relative(path)} is missing: run `python -m course translations extract {a.id}` "
        "and translate it (locale/zh_CN/README.md)"]


PARTS = {"source notebook": source_notebook,
         "release and student notebooks": generated_notebooks,
         "public test module": public_test_module,
         "stored public answers": stored_public_answers,
         "figures": figures,
         "mistakes": mistakes,
         "tests": its_own_tests,
         "row in the README": readme_row,
         "Chinese catalogue": chinese_catalogue}


def missing_parts(a: Assignment) -> list[str]:
    """'<part>: <what is wrong>' for each part ``a`` lacks."""
    return [f"{part}: {problem}" for part, check in PARTS.items() for problem in check(a)]


@pytest.mark.parametrize("a", assignments.ALL, ids=lambda a: a.id)
def test_every_assignment_has_all_its_parts(a):
    missing = missing_parts(a)
    assert not missing, (f"{a.id} lacks parts (README, How to add an assignment):\n"
                         + "\n".join(missing))


def test_every_source_folder_is_an_assignment_of_the_course():
    known = {a.id for a in assignments.ALL}
    folders = {p.name for p in (COURSE_ROOT / "source").iterdir() if p.is_dir()}
    assert folders <= known, (f"source_release/source/ holds {sorted(folders - known)}, which "
                              "course/assignments.py does not list (ALL)")


def test_a_missing_part_is_named():
    parts = missing_parts(Assignment("C4W9A9_no_such_assignment", "Nothing", "nothing.ipynb"))
    assert [p.split(":")[0] for p in parts] == [
        "source notebook", "release and student notebooks", "release and student notebooks",
        "public test module", "stored public answers", "figures", "mistakes", "tests",
        "row in the README", "Chinese catalogue"]
