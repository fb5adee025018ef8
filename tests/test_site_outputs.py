"""The stored full-mode executions the course site is built from (course/authoring/executions.py),
and how their outputs read on a page (course/authoring/readable_outputs.py): fresh for the
current source notebooks, stale when a code cell changes, recorded with their date, mode and
versions; a progress bar's final line, one box of printed text per cell, an expected output only
where it differs. The site built from them is tested in test_site.py."""

import os
import re

import nbformat
import pytest

from course import assignments
from course.authoring import executions, readable_outputs, site
from course.execution import QUIET_TENSORFLOW
from course.translation.notebooks import LANGUAGE_CALL, is_imports_cell, translated


@pytest.mark.parametrize("assignment", assignments.available(), ids=lambda a: a.id)
def test_the_stored_execution_is_fresh_and_in_full_mode(assignment):
    problem = executions.stale(assignment)
    assert problem is None, (f"{problem}: run `{executions.EXECUTE_COMMAND}` and commit "
                             "site/executed/")


def test_an_execution_is_stale_when_a_code_cell_changes_and_only_then(tmp_path):
    a = assignments.get("C4W1A1_conv_step_by_step")
    stored = nbformat.read(a.source_notebook, as_version=4)  # as a stored execution would hold
    stored.metadata[executions.METADATA_KEY] = {"date": "2025-01-01", "fast": False,
                                                "minutes": 1.0, "versions": {}}
    nbformat.write(stored, executions.path(a, tmp_path))
    assert executions.stale(a, tmp_path) is None
    markdown = next(c for c in stored.cells if c.cell_type == "markdown")
    markdown.source += "\nA sentence more."
    nbformat.write(stored, executions.path(a, tmp_path))
    assert executions.stale(a, tmp_path) is None
    index, cell = next((i, c) for i, c in enumerate(c for c in stored.cells
                                                    if c.cell_type == "code") if i == 3)
    cell.source += "\nprint('changed')"
    nbformat.write(stored, executions.path(a, tmp_path))
    assert f"code cell {index} ({cell.id}) changed" in executions.stale(a, tmp_path)
    with pytest.raises(executions.StaleExecution, match=re.escape(executions.EXECUTE_COMMAND)):
        executions.load(a, tmp_path)
    stored.cells.remove(cell)
    nbformat.write(stored, executions.path(a, tmp_path))
    assert executions.stale(a, tmp_path) is not None
    assert "no stored execution" in executions.stale(assignments.get(a.id), tmp_path / "none")


@pytest.mark.slow
def test_storing_an_execution_records_it_and_refuses_a_path_of_this_machine(tmp_path,
                                                                           monkeypatch):
    """The command's own path: a notebook executed (fast mode) and stored, its date, mode and
    versions recorded (the site refuses a fast-mode execution); an output naming this machine's
    course folder is refused. The kernel's quiet TensorFlow settings stay the kernel's: this
    process's environment does not get them (a grade-class run after it in the same process
    would compute its reference answers without oneDNN)."""
    a = assignments.get("C4W1A1_conv_step_by_step")
    for name in QUIET_TENSORFLOW:
        monkeypatch.delenv(name, raising=False)
    stored = nbformat.read(executions.store(a, tmp_path, fast=True), as_version=4)
    assert not set(QUIET_TENSORFLOW) & set(os.environ)
    execution = executions.execution(stored)
    assert execution.fast and execution.minutes > 0 and execution.versions["keras"]
    assert executions.stale(a, tmp_path).endswith("the stored execution ran in fast mode")
    assert all("execution" not in cell.metadata for cell in stored.cells)
    note = site.execution_note(execution)
    assert "fast mode" in note and f"Keras {execution.versions['keras']}" in note
    cell = next(c for c in stored.cells if c.cell_type == "code" and c.outputs)
    cell.outputs = [nbformat.v4.new_output(
        "stream", name="stdout", text=f"saved {executions.machine_paths()[0]}/output/x.jpg\n")]
    with pytest.raises(ValueError, match=f"prints the path {executions.machine_paths()[0]}"):
        executions._prepared(stored, execution)


def test_outputs_read_as_on_a_terminal_one_box_per_cell():
    """Keras's progress bar (backspaces and carriage returns) shows its final state; standard
    error is dropped; the printed text of a cell is one output."""
    bar = "1/2 \x1b[32m━━━━\x1b[0m 1s/step" + "\b" * 30 + "\r2/2 ━━━━━━━━ 2s 1s/step\n"
    assert (readable_outputs.terminal_text("Epoch 1/1\n" + bar)
            == "Epoch 1/1\n2/2 ━━━━━━━━ 2s 1s/step\n")
    assert readable_outputs.terminal_text("abc\bX\rZ") == "ZbX"
    cell = nbformat.v4.new_code_cell("who_is_it()")
    cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text="camera_0: "),
                    nbformat.v4.new_output("stream", name="stderr", text="1/1 ━━ 0s\n"),
                    nbformat.v4.new_output("stream", name="stdout", text="it's younes\n"),
                    nbformat.v4.new_output("display_data", data={"text/plain": "<Figure>",
                                                                 "image/png": "iVBORw0KGgo="}),
                    nbformat.v4.new_output("stream", name="stdout", text="Model:\n"),
                    nbformat.v4.new_output("display_data", data={
                        "text/plain": "\x1b[1m Total params: \x1b[0m1,286\n",
                        "text/html": "<pre><b> Total params: </b>1,286\n</pre>"})]
    readable_outputs.readable(cell)
    assert [o.output_type for o in cell.outputs] == ["stream", "display_data", "stream"]
    assert cell.outputs[0].text == "camera_0: it's younes\n"
    assert cell.outputs[2].text == "Model:\n Total params: 1,286\n"


def test_an_expected_output_is_shown_only_where_it_differs_from_the_output_above():
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell("print(x)"),
        nbformat.v4.new_markdown_cell("**Expected output:**\n\n```text\nJ = 6.0659\n```"),
        nbformat.v4.new_code_cell("print(y)"),
        nbformat.v4.new_markdown_cell("**Expected output:**\n\n```text\nJ = 7.1\n```")])
    nb.cells[0].outputs = [nbformat.v4.new_output("stream", name="stdout", text="J = 6.06591\n")]
    nb.cells[2].outputs = [nbformat.v4.new_output("stream", name="stdout", text="J = 7.3\n")]
    assert readable_outputs.without_repeated_expected_outputs(nb) == [1]
    assert [c.cell_type for c in nb.cells] == ["code", "code", "markdown"]


@pytest.mark.parametrize("assignment", translated(assignments.available()), ids=lambda a: a.id)
def test_the_chinese_page_is_built_from_the_stored_execution(assignment):
    """The Chinese student notebook, whose imports cell also sets the language of the checks'
    messages and whose comments are Chinese, gets the same stored outputs on the same cells as
    the English page, and the note of when they were computed in Chinese."""
    stored = executions.load(assignment)
    english = site.page(nbformat.read(assignment.student_notebook, as_version=4), stored)
    chinese = site.page(site._chinese_page(assignment), stored, say=site._chinese)
    imports = next(c for c in chinese.cells if is_imports_cell(c))
    assert LANGUAGE_CALL in imports.source
    english_code = [c for c in english.cells if c.cell_type == "code"]
    chinese_code = [c for c in chinese.cells if c.cell_type == "code"]
    assert [c.outputs for c in chinese_code] == [c.outputs for c in english_code]
    assert any(c.outputs for c in chinese_code)
    note = site.execution_note(executions.execution(stored), site._chinese)
    assert note in chinese.cells[0].source and re.search(r"[\u4e00-\u9fff]", note)
