"""The student's client, as the README tells students to use it: JupyterLab with nbgrader's lab
extensions, started on loopback and driven in headless Chromium (Playwright).

On assignment 1, the test writes a correct `zero_pad` into its answer cell, runs the cells from
the top to the function's test cell and reads "zero_pad: all public tests passed" from the page;
then writes a wrong answer and reads the test's failure message; then saves and presses nbgrader's
Validate button and reads its verdict, which shows no frame of the course's checks. Screenshots
go to build/test-artifacts/lab_*.png.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import nbformat
from browser import chromium, needs_chromium, screenshot_path

from course import assignments
from course.assignments import REPO_ROOT
from course.execution import QUIET_TENSORFLOW

ASSIGNMENT = assignments.get("C4W1A1_conv_step_by_step")
FUNCTION = "zero_pad"
CORRECT = "X_pad = np.pad(X, ((0, 0), (pad, pad), (pad, pad), (0, 0)))"
WRONG = "X_pad = np.pad(X, pad)"  # pads all four axes, the batch and the channels too
TIMEOUT_MS = 180_000  # for any one thing to appear on the page
# JupyterLab settings of the test's user: every cell kept in the page (no windowing), no news.
SETTINGS = {
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings":
        {"fetchNews": "false", "checkForUpdates": False},
}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def jupyter_lab(root: Path, home: Path, log: Path):
    """Run `jupyter lab` on loopback with a random token, serving ``root``; yield its base URL
    and token. The server and its kernels are always stopped on exit."""
    port, token = _free_port(), secrets.token_hex(16)
    for name, values in SETTINGS.items():
        (home / "settings" / name).parent.mkdir(parents=True, exist_ok=True)
        (home / "settings" / name).write_text(json.dumps(values))
    env = {**os.environ, **QUIET_TENSORFLOW, "JUPYTERLAB_SETTINGS_DIR": str(home / "settings"),
           "JUPYTERLAB_WORKSPACES_DIR": str(home / "workspaces"),
           "JUPYTER_RUNTIME_DIR": str(home / "runtime")}
    command = [sys.executable, "-m", "jupyter", "lab", "--no-browser", "--ip=127.0.0.1",
               f"--port={port}", "--ServerApp.port_retries=0", f"--ServerApp.token={token}",
               f"--ServerApp.root_dir={root}", "--allow-root",  # CI runs as root
               "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"]
    url = f"http://127.0.0.1:{port}"
    with open(log, "w") as output:
        server = subprocess.Popen(command, cwd=root, env=env, stdout=output,
                                  stderr=subprocess.STDOUT, start_new_session=True)
        try:
            deadline = time.monotonic() + 120
            while True:
                try:
                    urllib.request.urlopen(f"{url}/api/status?token={token}", timeout=5)
                    break
                except OSError as error:
                    if server.poll() is not None or time.monotonic() > deadline:
                        raise RuntimeError(
                            f"jupyter lab did not start:\n{log.read_text()}") from error
                    time.sleep(1)
            yield url, token
        finally:
            if server.poll() is None:  # SIGTERM: the server shuts its kernels down, then exits
                server.terminate()
                try:
                    server.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    os.killpg(server.pid, signal.SIGKILL)
                    server.wait()


def _answer(source: str, line: str) -> str:
    """The answer cell's source with ``line`` in place of its `raise NotImplementedError` line."""
    stub = re.search(r"^( *)raise NotImplementedError.*$", source, re.M)
    assert stub, "the answer cell has no `raise NotImplementedError` line"
    return source[:stub.start()] + stub.group(1) + line + source[stub.end():]


def _indices(nb) -> tuple[int, int]:
    """Positions of the function's answer cell and of its test cell in the notebook."""
    ids = [cell.metadata.get("nbgrader", {}).get("grade_id") for cell in nb.cells]
    return ids.index(FUNCTION), ids.index(f"test_{FUNCTION}")


def _write_cell(page, cell, source: str) -> None:
    """Replace the code of a cell, as a student pasting it: select all in the editor, paste."""
    cell.locator(".cm-content").click()
    page.keyboard.press("Control+A")
    page.keyboard.insert_text(source)
    page.keyboard.press("Escape")  # back to command mode


def _run_from(page, cell, count: int) -> None:
    """Select ``cell`` and press Shift+Enter ``count`` times: run it and the cells after it."""
    cell.locator(".jp-InputPrompt").click()
    page.keyboard.press("Escape")
    for _ in range(count):
        page.keyboard.press("Shift+Enter")


def _saved_answer(path: Path, index: int) -> str:
    return nbformat.read(path, as_version=4).cells[index].source


@needs_chromium
def test_a_student_answers_tests_and_validates_in_jupyterlab(tmp_path):
    root = tmp_path / "course"  # what a student has: the notebooks and their figures
    shutil.copytree(REPO_ROOT / "notebooks", root / "notebooks")
    shutil.copytree(REPO_ROOT / "images", root / "images")
    notebook = root / "notebooks" / ASSIGNMENT.student_notebook.name
    nb = nbformat.read(notebook, as_version=4)
    answer_index, test_index = _indices(nb)
    correct = _answer(nb.cells[answer_index].source, CORRECT)
    wrong = _answer(nb.cells[answer_index].source, WRONG)
    (tmp_path / "home").mkdir()
    outside = []
    with jupyter_lab(root, tmp_path / "home", tmp_path / "jupyter.log") as (url, token), \
            chromium() as browser:
        context = browser.new_context(viewport={"width": 1400, "height": 1000})
        context.route(re.compile(r"^(?!http://127\.0\.0\.1:\d+/|data:|blob:).*"),
                      lambda route: (outside.append(route.request.url), route.abort()))
        page = context.new_page()
        page.set_default_timeout(TIMEOUT_MS)
        page.goto(f"{url}/lab/tree/notebooks/{notebook.name}?token={token}")
        cells = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook .jp-Cell")
        cells.nth(test_index).wait_for()
        page.locator(".jp-Notebook-ExecutionIndicator[data-status='idle']").wait_for()
        assert cells.count() == len(nb.cells)
        assert "def zero_pad" in cells.nth(answer_index).inner_text()

        # A correct answer: run the notebook from the top down to the function's test.
        _write_cell(page, cells.nth(answer_index), correct)
        _run_from(page, cells.nth(0), test_index + 1)
        output = cells.nth(test_index).locator(".jp-OutputArea")
        output.get_by_text("zero_pad: all public tests passed").wait_for()
        cells.nth(test_index).scroll_into_view_if_needed()
        page.screenshot(path=screenshot_path("lab_public_tests_passed.png"))

        # A wrong answer: run the answer cell and the test again; the test says what is wrong.
        _write_cell(page, cells.nth(answer_index), wrong)
        _run_from(page, cells.nth(answer_index), test_index - answer_index + 1)
        output.get_by_text("AssertionError").first.wait_for()
        failure = re.search(r"AssertionError: (.*)", output.inner_text())
        assert failure and failure.group(1).startswith(f"{FUNCTION}:"), output.inner_text()
        message = failure.group(1)
        assert not re.search(r"^zero_pad: all public tests passed$", output.inner_text(), re.M)
        cells.nth(test_index).scroll_into_view_if_needed()
        page.screenshot(path=screenshot_path("lab_public_test_failed.png"))

        # Save (the file now holds the wrong answer) and validate with nbgrader's button.
        page.keyboard.press("Control+S")
        deadline = time.monotonic() + 60
        while _saved_answer(notebook, answer_index) != wrong:
            assert time.monotonic() < deadline, "the notebook was not saved"
            time.sleep(0.5)
        page.locator(".jp-NotebookPanel-toolbar .validate-button").click()
        dialog = page.locator(".jp-Dialog")
        dialog.get_by_text("Validation Results").wait_for()
        dialog.get_by_text("The following cell failed:").first.wait_for()
        verdict = dialog.locator(".jp-Dialog-body").inner_text()
        page.screenshot(path=screenshot_path("lab_validate.png"))
        dialog.get_by_role("button", name="Ok").click()
        context.close()
    assert not outside, f"the page asked for something off the machine: {outside[:5]}"
    # The verdict shows the wrong function's failure, word for word as the test cell said it,
    # and the failures of the functions still to write (their tests meet the stubs).
    assert message in verdict, verdict
    assert "NotImplementedError" in verdict, verdict
    assert "Success!" not in verdict
    # and no frame of the course's checks, only the message and the student's own code
    assert not re.search(r"graded\.py|public_tests|notebook_failures", verdict), verdict
