"""The student distribution (`python -m course student-release DIR`) and the notebooks'
guard against a student's own `utils` hiding the course's helpers; every command the
distribution tells a student to run exists in it and works from a fresh copy, in a virtual
environment that has the course's pinned packages but not the repository."""

import os
import re
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

from course import assignments
from course.authoring import student_release
from course.grading.nbgrader_course import solved_submission
from utils import data
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


# --- the commands a student is told to run ----------------------------------------------------

PYTHON_MODULE = re.compile(r"python(?:3(?:\.\d+)?)? -m ([\w.]+)")


def _student_texts(distribution: Path) -> dict[str, str]:
    """{file: text} of what a student reads: the README, the notebooks' cells, the helpers."""
    texts = {}
    for path in sorted(distribution.rglob("*")):
        if path.suffix == ".ipynb":
            texts[str(path.relative_to(distribution))] = "\n".join(
                cell.source for cell in nbformat.read(path, as_version=4).cells)
        elif path.suffix in (".md", ".py", ".yml", ".txt", ".csv"):
            texts[str(path.relative_to(distribution))] = path.read_text()
    return texts


@pytest.mark.parametrize("which", ["distribution", "chinese_distribution"])
def test_every_command_a_student_is_told_to_run_is_in_the_distribution(which, request):
    distribution = request.getfixturevalue(which)
    texts = _student_texts(distribution)
    assert any("python -m utils.train_resnet" in text for text in texts.values())
    for name, text in texts.items():
        assert "python -m course" not in text and "make setup" not in text, name
        for module in PYTHON_MODULE.findall(text):
            if module.startswith("utils"):
                assert (distribution / (module.replace(".", "/") + ".py")).is_file(), \
                    (name, module)
            else:
                assert module in ("venv", "pip", "nbgrader"), (name, module)


@pytest.fixture(scope="module")
def student_venv(tmp_path_factory) -> Path:
    """A virtual environment with the course's pinned packages (those of this environment, which
    ``pip install -r requirements.txt`` installed) but not the repository: its site-packages
    folder is on the path, its .pth files (the editable install of the repository) are not
    run. Returns its python."""
    venv = tmp_path_factory.mktemp("venv") / "student"
    subprocess.run([getattr(sys, "_base_executable", sys.executable), "-m", "venv",
                    "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    site_packages = subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True, capture_output=True, text=True).stdout.strip()
    (Path(site_packages) / "course_packages.pth").write_text(sysconfig.get_paths()["purelib"])
    return python


def _student_run(python: Path, folder: Path, *args: str, **env: str):
    environment = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    environment.update(env)
    return subprocess.run([python, *args], cwd=folder, env=environment, capture_output=True,
                          text=True, timeout=900)


@pytest.mark.slow
def test_the_student_commands_work_from_a_fresh_copy(distribution, student_venv, tmp_path):
    """`python -m utils.fetch`, `python -m utils.train_resnet` (fast mode: 1 epoch on 64
    images) on a notebook with the three functions written and on the blank one, and
    `nbgrader validate`, run as the README says, in a copy of the distribution."""
    folder = tmp_path / "cnn-course"
    shutil.copytree(distribution, folder)
    no_repository = _student_run(student_venv, folder, "-c", "import course")
    assert "No module named 'course'" in no_repository.stderr
    mirror = {data.MIRROR_ENV: os.environ.get(data.MIRROR_ENV, "")}
    fetched = _student_run(student_venv, folder, "-m", "utils.fetch", "C4W2A1_resnets", **mirror)
    assert (folder / "datasets" / "test_signs.h5").is_file(), fetched.stdout + fetched.stderr

    blank = _student_run(student_venv, folder, "-m", "utils.train_resnet", CNN_COURSE_FAST="1")
    assert blank.returncode == 1 and "write identity_block, convolutional_block and ResNet50" \
        in blank.stderr, blank.stderr
    resnets = assignments.get("C4W2A1_resnets")
    solved = solved_submission(nbformat.read(resnets.source_notebook, as_version=4),
                               nbformat.read(folder / "C4W2A1_resnets.ipynb", as_version=4))
    nbformat.write(solved, folder / "C4W2A1_resnets.ipynb")
    trained = _student_run(student_venv, folder, "-m", "utils.train_resnet", CNN_COURSE_FAST="1")
    assert trained.returncode == 0, trained.stderr[-3000:]
    assert "trained 1 epoch(s) on 64 images" in trained.stdout, trained.stdout
    assert (folder / "pretrained-model" / "resnet50_signs.keras").is_file()

    nb = nbformat.read(folder / "C4W1A1_conv_step_by_step.ipynb", as_version=4)
    nbformat.write(solved_submission(nbformat.read(
        assignments.get("C4W1A1_conv_step_by_step").source_notebook, as_version=4), nb),
        folder / "C4W1A1_conv_step_by_step.ipynb")
    validated = _student_run(student_venv, folder, "-m", "nbgrader", "validate",
                             "C4W1A1_conv_step_by_step.ipynb")
    assert "Success! Your notebook passes all the tests." in validated.stdout, (
        validated.stdout[-2000:], validated.stderr[-2000:])
