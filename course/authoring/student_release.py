"""The student distribution: what a student receives, and nothing only an instructor may see.

``python -m course student-release DIR`` writes into DIR:

    README.md                 how to set up, start JupyterLab, fill in, test, validate, and
                              train the ResNet50 of assignment 3 (``python -m utils.train_resnet``)
    requirements.txt          the course's pinned packages
    environment.yml           the same pins for conda
    <id>.ipynb                the student notebooks, their figure links pointing to images/
    images/                   the figures the notebooks link to
    utils/                    the helper package: the public tests and the data registry, with
                              ``python -m utils.fetch`` to fetch the data and
                              ``python -m utils.train_resnet`` (the instructor's
                              tooling, course/, is a package of its own and never copied)

The notebooks sit next to utils/, so a notebook's kernel (started in the notebook's folder)
imports the course's helpers with no install step; data files land under DIR too.
Solutions and hidden tests exist only in source_release/source/, which is never copied.

``python -m course student-release DIR --lang zh`` writes the Chinese edition instead: the
Chinese student notebooks (``notebooks/zh/``) of the translated assignments, with the Chinese
figures (``images/zh/``), and the README in Chinese (``locale/zh_CN/pages.po``); the pinned
packages include JupyterLab's Chinese interface (``jupyterlab-language-pack-zh-cn``).
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import nbformat

from course.assignments import REPO_ROOT, Assignment
from course.authoring.release import CHINESE_STUDENT_IMAGE_PREFIX, STUDENT_IMAGE_PREFIX
from course.translation import pages
from course.translation.notebooks import translated

DISTRIBUTION_IMAGE_PREFIX = "](images/"
_FIGURE_LINK = re.compile(r"!\[[^\]]*\]\(images/([^)]+)\)")

GUIDE = """\
## Set up (once)

With Python 3.11, in this folder:

```bash
python3.11 -m venv .venv
.venv/bin/pip install -r requirements.txt
.venv/bin/python -m utils.fetch
```

or with conda: `conda env create -f environment.yml && conda activate cnn-course`, then
`python -m utils.fetch`. The last command downloads the datasets, pretrained weights and sample
pictures (listed with their checksums in `utils/registry.csv`) into `datasets/`, `images/` and
`pretrained-model/`; `python -m utils.fetch <notebook id>` fetches one notebook's files. When a
file is missing, the notebook stops with a `DataFileError` that names it and this command. If
your course gives you a copy of the data, set `CNN_COURSE_MIRROR` to its folder first.

## Work on a notebook

1. Start JupyterLab in this folder: `.venv/bin/jupyter lab` (or `jupyter lab` in the conda
   environment) and open a notebook, `C4W1A1_conv_step_by_step.ipynb` first. Keep the notebooks
   next to the `utils/` folder: it holds the course's helpers and tests. Do not name a file or
   folder of your own `utils`.
2. Run the cells from the top. Write your code between `### START CODE HERE ###` and
   `### END CODE HERE ###`, in place of the `raise NotImplementedError` line.
3. Run the test cell below each function. Public tests say exactly what is wrong; when every
   one passes, the cell prints `<function>: all public tests passed`. The grader also runs
   hidden tests with other shapes and parameters, and grades each function on its own.
4. Before you hand a notebook in, restart the kernel and run all cells (Kernel > Restart Kernel
   and Run All Cells), save it, then validate it: press **Validate** in the notebook's toolbar,
   or run `.venv/bin/nbgrader validate <notebook>.ipynb`. Do not delete or edit the test cells:
   the grader restores them.

## A ResNet50 trained longer (assignment 3)

The notebook of assignment 3 trains its ResNet50 for 2 epochs, then loads one trained for 12
epochs from `pretrained-model/resnet50_signs.keras`. Make it from your own functions: once
`identity_block`, `convolutional_block` and `ResNet50` pass their tests, save the notebook and
run `.venv/bin/python -m utils.train_resnet` in this folder (about 10 minutes on 2 CPU cores).
"""
README = """\
# Convolutional networks: the student notebooks

Six graded notebooks; in each one you write the functions that the text asks for.

| notebook | what you build |
|---|---|
{table}

"""


def student_guide(heading: str = "##", chinese: bool = False) -> str:
    """The README's sections on setting up, working on a notebook and training the ResNet50
    (in Chinese with ``chinese``), their headings made ``heading`` (the landing page of the site
    shows them too)."""
    guide = pages.translate(GUIDE, pages.README) if chinese else GUIDE
    return "\n".join(f"{heading} {line[3:]}" if line.startswith("## ") else line
                     for line in guide.splitlines()) + "\n"


def _student_notebook(assignment: Assignment, chinese: bool) -> nbformat.NotebookNode:
    """The committed student notebook (the Chinese one with ``chinese``) with its figure links
    rebased from notebooks/ (or notebooks/zh/) to DIR."""
    path, prefix = ((assignment.chinese_student_notebook, CHINESE_STUDENT_IMAGE_PREFIX)
                    if chinese else (assignment.student_notebook, STUDENT_IMAGE_PREFIX))
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            cell.source = cell.source.replace(prefix, DISTRIBUTION_IMAGE_PREFIX)
    return nb


def _environment_file() -> str:
    """environment.yml without the course package itself (a student has no repository)."""
    lines = (REPO_ROOT / "environment.yml").read_text().splitlines()
    kept = [line for line in lines if not line.startswith("#") and line.strip() != "- -e ."]
    return "\n".join(["# Conda environment of the course: `conda env create -f environment.yml`.",
                      *kept]) + "\n"


def _ignore_compiled(folder: str, names: list[str]) -> list[str]:
    """shutil.copytree's filter: compiled files stay behind."""
    return [name for name in names if name == "__pycache__" or name.endswith(".pyc")]


def build(out: Path, assignments: list[Assignment], chinese: bool = False) -> list[Path]:
    """Write the student distribution into ``out`` (which must not exist), in Chinese with
    ``chinese`` (the translated assignments); return its files."""
    out = Path(out)
    out.mkdir(parents=True)
    if chinese:
        assignments = translated(assignments)
    figures: set[str] = set()
    for assignment in assignments:
        nb = _student_notebook(assignment, chinese)
        for cell in nb.cells:
            if cell.cell_type == "markdown":
                figures.update(_FIGURE_LINK.findall(cell.source))
        nbformat.write(nb, out / f"{assignment.id}.ipynb")
    for figure in sorted(figures):
        (out / "images" / figure).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(REPO_ROOT / "images" / figure, out / "images" / figure)
    shutil.copytree(REPO_ROOT / "utils", out / "utils", ignore=_ignore_compiled)
    shutil.copyfile(REPO_ROOT / "requirements.txt", out / "requirements.txt")
    (out / "environment.yml").write_text(_environment_file())
    title = (lambda a: pages.words(a.title, pages.TITLES)) if chinese else (lambda a: a.title)
    table = "\n".join(f"| [{a.id}.ipynb]({a.id}.ipynb) | {title(a)} |" for a in assignments)
    readme = pages.translate(README, pages.README) if chinese else README
    (out / "README.md").write_text(readme.format(table=table) + student_guide(chinese=chinese))
    return sorted(p for p in out.rglob("*") if p.is_file())
