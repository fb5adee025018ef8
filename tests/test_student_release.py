"""The student distribution (`python -m course student-release DIR`) and the notebooks'
guard against a student's own `utils` hiding the course's helpers."""

import re
import shutil
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

from course import assignments
from course.authoring import student_release
from course.translation.notebooks import translated

AVAILABLE = assignments.available()
HIDDEN_BLOCK = re.compile(r"### BEGIN HIDDEN TESTS.*?### END HIDDEN TESTS", re.S)
SOLUTION_BLOCK = re.compile(r"### BEGIN SOLUTION.*?### END SOLUTION", re.S)
WORD = re.compile(r"\w+")
ZERO_PAD = "X_pad = np.pad(X, ((0, 0), (pad, pad), (pad, pad), (0, 0)))"


@pytest.fixture(scope="module")
def distribution(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("student") / "cnn-course"
    student_release.build(out, AVAILABLE)
    return out


@pytest.fixture(scope="module")
def chinese_distribution(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("student-zh") / "cnn-course"
    student_release.build(out, AVAILABLE, chinese=True)
    return out


def _lines(text: str) -> set[str]:
    return {line.strip() for line in text.splitlines() if line.strip()}


def _secret_lines() -> dict[str, str]:
    """{line: where it comes from} of every solution and hidden-test block of the sources
    (markers included), less the lines that the release notebooks show students anyway and
    the lines of a single word, which give nothing away (``else:``, ``iou_threshold)``)."""
    public = set()
    for assignment in AVAILABLE:
        for cell in nbformat.read(assignment.release_notebook, as_version=4).cells:
            public |= _lines(cell.source)
    secret = {}
    for assignment in AVAILABLE:
        for cell in nbformat.read(assignment.source_notebook, as_version=4).cells:
            for block in SOLUTION_BLOCK.findall(cell.source) + HIDDEN_BLOCK.findall(cell.source):
                for line in _lines(block) - public:
                    if len(WORD.findall(line)) < 2:
                        continue
                    secret.setdefault(line, f"{assignment.id} "
                                      f"{cell.metadata.get('nbgrader', {}).get('grade_id')}")
    return secret


@pytest.mark.parametrize("which", ["distribution", "chinese_distribution"])
def test_distribution_holds_no_solution_and_no_hidden_test(which, request):
    distribution = request.getfixturevalue(which)
    secret = _secret_lines()
    assert len(secret) > 100, "the source notebooks' solutions were not found"
    leaks = []
    for path in sorted(p for p in distribution.rglob("*") if p.is_file()):
        found = _lines(path.read_text(errors="ignore")) & secret.keys()
        leaks += [f"{path.relative_to(distribution)}: {line!r} (from {secret[line]})"
                  for line in sorted(found)]
    assert not leaks, f"{len(leaks)} lines leak:\n" + "\n".join(leaks[:40])


def test_distribution_has_what_a_student_needs_and_no_instructor_tooling(distribution):
    assert not (distribution / "utils" / "course").exists()
    assert not list(distribution.rglob("__pycache__"))
    for name in ("README.md", "requirements.txt", "environment.yml", "utils/registry.csv",
                 "utils/fetch.py", "utils/data.py", "utils/public_tests/__init__.py"):
        assert (distribution / name).is_file(), f"{name} is missing"
    assert "-e ." not in (distribution / "environment.yml").read_text()
    for assignment in AVAILABLE:
        nb = nbformat.read(distribution / f"{assignment.id}.ipynb", as_version=4)
        for cell in nb.cells:
            for link in re.findall(r"!\[[^\]]*\]\(([^)]+)\)", cell.source):
                assert link.startswith("images/") and (distribution / link).is_file(), link


def test_the_chinese_distribution_has_the_chinese_notebooks_figures_and_readme(
        chinese_distribution):
    notebooks = sorted(p.name for p in chinese_distribution.glob("*.ipynb"))
    assert notebooks == sorted(f"{a.id}.ipynb" for a in translated(AVAILABLE)) and notebooks
    links = []
    for name in notebooks:
        nb = nbformat.read(chinese_distribution / name, as_version=4)
        assert nb.metadata["language"] == "zh_CN"
        for cell in nb.cells:
            links += re.findall(r"!\[[^\]]*\]\(([^)]+)\)", cell.source)
    assert links and all(link.startswith("images/zh/") for link in links), links
    assert all((chinese_distribution / link).is_file() for link in links)
    readme = (chinese_distribution / "README.md").read_text()
    assert "## 安装（只需一次）" in readme and "中文 (简体, 中国)" in readme
    assert all(f"]({name})" in readme for name in notebooks)
    assert "jupyterlab-language-pack-zh-cn==" in (
        chinese_distribution / "requirements.txt").read_text()
    assert (chinese_distribution / "utils" / "public_tests" / "__init__.py").is_file()


def _run(nb: nbformat.NotebookNode, folder: Path) -> nbformat.NotebookNode:
    NotebookClient(nb, timeout=120, kernel_name="python3",
                   resources={"metadata": {"path": str(folder)}}).execute()
    return nb


def _text(cell) -> str:
    return "".join(o.get("text", "") for o in cell.outputs)


@pytest.mark.slow
@pytest.mark.parametrize("which", ["distribution", "chinese_distribution"])
def test_a_notebook_runs_from_a_copy_of_the_distribution(which, request, tmp_path):
    """Assignment 1 up to zero_pad's test cell, zero_pad answered, in a fresh folder."""
    distribution = request.getfixturevalue(which)
    folder = tmp_path / "copy"
    shutil.copytree(distribution, folder)
    nb = nbformat.read(folder / "C4W1A1_conv_step_by_step.ipynb", as_version=4)
    ids = [c.metadata.get("nbgrader", {}).get("grade_id") for c in nb.cells]
    nb.cells = nb.cells[:ids.index("test_zero_pad") + 1]
    answer = nb.cells[ids.index("zero_pad")]
    stub = 'raise NotImplementedError("Replace this line with your code.")'
    assert stub in answer.source
    answer.source = answer.source.replace(stub, ZERO_PAD)
    nb.cells.append(nbformat.v4.new_code_cell("import utils; print(utils.__file__)"))
    _run(nb, folder)
    assert "zero_pad: all public tests passed" in _text(nb.cells[-2])
    assert Path(_text(nb.cells[-1]).strip()).parent == folder / "utils"


def _imports_cell(assignment) -> nbformat.NotebookNode:
    nb = nbformat.read(assignment.student_notebook, as_version=4)
    first = next(c for c in nb.cells if c.cell_type == "code")
    assert first.metadata["nbgrader"]["grade_id"] == "imports", assignment.id
    return first


def test_every_notebook_starts_with_the_same_guard():
    guards = {a.id: _imports_cell(a).source.split("\n\n")[0] for a in AVAILABLE}
    assert "COURSE_PACKAGE" in guards[AVAILABLE[0].id]
    assert len(set(guards.values())) == 1, guards


@pytest.mark.parametrize("shadow", ["utils.py", "utils/__init__.py"])
def test_a_students_own_utils_is_named_by_the_first_cell(tmp_path, shadow):
    (tmp_path / shadow).parent.mkdir(parents=True, exist_ok=True)
    (tmp_path / shadow).write_text("def my_helper():\n    return 1\n")
    nb = nbformat.v4.new_notebook(cells=[_imports_cell(AVAILABLE[0])])
    with pytest.raises(CellExecutionError) as error:
        _run(nb, tmp_path)
    message = str(error.value)
    assert str(tmp_path / shadow) in message and "rename your utils file or folder" in message
