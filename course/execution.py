"""How the course runs notebooks and nbgrader: one environment with quiet TensorFlow."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import nbformat
from nbclient import NotebookClient

from utils import data

# TensorFlow writes informational lines to stderr, which would land in the outputs the course
# keeps (the site's executions, the tests' notebooks). Its note that oneDNN is on comes before
# its logging starts, so no log level silences it: those kernels run without oneDNN.
QUIET_TENSORFLOW = {"TF_CPP_MIN_LOG_LEVEL": "3", "TF_ENABLE_ONEDNN_OPTS": "0"}
# Grading kernels compute as a student's own kernel does, with oneDNN (TensorFlow's default on
# x86; without it, assignment 2's training runs 2.7 times slower). Their outputs count for
# nothing (the grader decides every verdict), and with the fork server TensorFlow is imported,
# and its note written, before any kernel starts. Python warnings (deprecations in a student's
# code) are not shown, and the kernel downloads nothing (the grader fetches the course data
# before it grades).
GRADING = {**QUIET_TENSORFLOW, "TF_ENABLE_ONEDNN_OPTS": "1", "PYTHONWARNINGS": "ignore",
           data.NO_DOWNLOAD_ENV: "1"}
CELL_TIMEOUT = 600  # seconds a cell of a notebook the course runs may take




def grading_env(**extra: str) -> dict[str, str]:
    """The environment nbgrader runs in: this one, quiet TensorFlow, no warnings on stderr, and
    this interpreter's bin folder on PATH (nbgrader calls the `alembic` command of its
    environment, which may not be activated); plus ``extra``."""
    path = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    return {**os.environ, **GRADING, "PATH": path, **extra}


def nbgrader(args: list[str], course_root: Path, timeout: float | None = None,
             check: bool = True) -> subprocess.CompletedProcess:
    """Run ``nbgrader ARGS`` with the course's nbgrader_config.py (cwd = course_root).

    Returns the completed process with its output; raises RuntimeError with nbgrader's log
    when ``check`` is set and nbgrader fails.
    """
    command = [sys.executable, "-m", "nbgrader", *args]
    result = subprocess.run(command, cwd=course_root, env=grading_env(), capture_output=True,
                            text=True, timeout=timeout)
    if check and result.returncode != 0:
        raise RuntimeError(f"`nbgrader {' '.join(args)}` failed in {course_root}:\n"
                           f"{result.stdout}\n{result.stderr}")
    return result


def nbgrader_api(course_root: Path):
    """nbgrader's API on the course in ``course_root`` with its nbgrader_config.py, in this
    process (nbgrader's own command would first spend seconds importing itself)."""
    from nbgrader.apps import NbGraderAPI
    from nbgrader.coursedir import CourseDirectory
    from traitlets.config.loader import PyFileConfigLoader

    config = PyFileConfigLoader("nbgrader_config.py", path=str(course_root)).load_config()
    config.CourseDirectory.root = str(course_root)
    return NbGraderAPI(coursedir=CourseDirectory(config=config), config=config)


def new_gradebook(path: Path) -> None:
    """Create an empty gradebook database at ``path``, stamped with nbgrader's schema version
    as nbgrader stamps a new one, without the `alembic heads` command nbgrader runs for that
    (a Python start of a few seconds); nbgrader creates the tables when it opens it."""
    import sqlite3

    import nbgrader
    from alembic.script import ScriptDirectory

    head = ScriptDirectory(str(Path(nbgrader.__file__).parent / "alembic")).get_current_head()
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL)")
        db.execute("INSERT INTO alembic_version (version_num) VALUES (?)", (head,))
    db.close()


# Run silently in the kernel before a source notebook: its hidden checks then compare with the
# reference answers, which only this package computes (``utils.graded.hidden_answers``).
ANSWER_HIDDEN_CASES = ("import utils.graded\n"
                       "from course.trusted.reference_answers import reference_answer\n"
                       "utils.graded.hidden_answers = reference_answer\n")


def execute_notebook(nb: nbformat.NotebookNode, cwd: Path, cell_timeout: int = CELL_TIMEOUT,
                     hidden_answers: bool = False) -> nbformat.NotebookNode:
    """Run every cell of ``nb`` in a fresh kernel started in ``cwd``; return the executed copy.
    ``hidden_answers``: ``nb`` is a source notebook, whose hidden checks the kernel can answer.

    Stops at the first error (nbclient raises CellExecutionError naming the cell).
    """
    client = NotebookClient(nbformat.from_dict(nb), timeout=cell_timeout,
                            kernel_name="python3", resources={"metadata": {"path": str(cwd)}})
    if hidden_answers:
        async def answer_hidden_cases(notebook) -> None:
            reply = await client.async_wait_for_reply(
                client.kc.execute(ANSWER_HIDDEN_CASES, silent=True, store_history=False))
            if reply is None or reply["content"]["status"] != "ok":
                raise RuntimeError(f"the kernel could not load the reference answers: {reply}")
        client.on_notebook_start = answer_hidden_cases
    # The kernel's environment only: this process keeps its own (a grade-class run after this
    # one would otherwise compute its reference answers without oneDNN, 2.7 times slower)
    return client.execute(env={**os.environ, **QUIET_TENSORFLOW})
