"""The messages of the public tests and the grader in the student's language: one gettext
catalogue (``locale/zh_CN/messages.po``, compiled into ``utils/locale/``), the language from
``CNN_COURSE_LANG``, the notebook (the Chinese notebooks' imports cell) or the grader, every
message translated, and the issue's three wrong functions reported in Chinese, by name and case,
in the Chinese notebooks' kernels (the grader's verdicts: ``tests/test_chinese_grading.py``)."""

from __future__ import annotations

import ast
import os
import re
import shutil
import unicodedata
from importlib import import_module

import nbformat
import numpy as np
import pytest
from nbclient import NotebookClient

from course import assignments
from course.execution import QUIET_TENSORFLOW
from course.translation import catalogues, messages, rules
from course.translation.notebooks import is_imports_cell
from course.trusted.executor import HIDDEN_VALUE, NOT_RUN_NOTE, without_values
from utils import i18n
from utils.notebook_failures import WIDTH, CheckFailed
from utils.public_tests import car_detection, conv_step_by_step, resnets
from utils.student_errors import COMMON_CAUSES

CJK = re.compile(r"[\u4e00-\u9fff]")
A1 = assignments.get("C4W1A1_conv_step_by_step")
A4 = assignments.get("C4W3A1_car_detection")
A5 = assignments.get("C4W4A1_face_recognition")

# The three wrong functions, each failing a public case that has parameters, with the
# classic mistake it shows, if any (utils.mistakes).
WRONG_ZERO_PAD = ("def zero_pad(X, pad):\n"  # turns an int64 batch into float64
                  "    return np.pad(X.astype(np.float64), ((0, 0), (pad, pad), (pad, pad), "
                  "(0, 0)))\n")
WRONG_NMS = ("def yolo_non_max_suppression(scores, boxes, classes, max_boxes=10,\n"
             "                             iou_threshold=0.5):\n"  # one class for all boxes
             "    keep = tf.image.non_max_suppression(boxes, scores, max_boxes,\n"
             "                                        iou_threshold=iou_threshold)\n"
             "    return (tf.gather(scores, keep), tf.gather(boxes, keep),\n"
             "            tf.gather(classes, keep))\n")
WRONG_TRIPLET_LOSS = ("def triplet_loss(y_true, y_pred, alpha=0.2):\n"  # the mean of the losses
                      "    anchor, positive, negative = y_pred[0], y_pred[1], y_pred[2]\n"
                      "    pos_dist = tf.reduce_sum(tf.square(anchor - positive), axis=-1)\n"
                      "    neg_dist = tf.reduce_sum(tf.square(anchor - negative), axis=-1)\n"
                      "    return tf.reduce_mean(tf.maximum(pos_dist - neg_dist + alpha, 0.0))\n")
# (assignment, function, wrong code, the label of the failing case, the start of the Chinese
# hint, the start of the English hint)
WRONG = [
    (A1, "zero_pad", WRONG_ZERO_PAD,
     "zero_pad (shape=(1, 2, 2, 1), pad=1, dtype=<class 'numpy.int64'>)：",
     "zero_pad：输出的 dtype 与输入的不同", "zero_pad: the output's dtype is not the input's"),
    (A4, "yolo_non_max_suppression", WRONG_NMS, "yolo_non_max_suppression (case='two_classes')：",
     "yolo_non_max_suppression：一个框抑制了其他类别的框",
     "yolo_non_max_suppression: a box suppresses the boxes of other classes"),
    (A5, "triplet_loss", WRONG_TRIPLET_LOSS, "triplet_loss (seed=1, alpha=0.2)：",
     "triplet_loss：对各样本的损失取了平均",
     "triplet_loss: the examples' losses are averaged"),
]


@pytest.fixture
def language(monkeypatch):
    """Set the language of this process's messages for one test (``None``: not said)."""
    monkeypatch.delenv(i18n.LANGUAGE_ENV, raising=False)

    def choose(notebook: str | None = None, environment: str | None = None) -> None:
        i18n.set_notebook_language(notebook)
        if environment is not None:
            monkeypatch.setenv(i18n.LANGUAGE_ENV, environment)
    return choose


def _failure(check, fn, **case) -> str:
    with pytest.raises(AssertionError) as failure:
        check(fn, **case)
    return str(failure.value)


def _pads_every_axis(X, pad):
    return np.pad(X, pad)


def test_the_language_comes_from_the_grader_then_the_environment_then_the_notebook(language):
    assert i18n.language() == "en"
    language(notebook="zh_CN")
    assert i18n.language() == "zh_CN"
    language(notebook="zh_CN", environment="en")
    assert i18n.language() == "en"
    language(notebook=None, environment="zh_CN")
    assert i18n.language() == "zh_CN"
    with i18n.speaking("en"):  # a grader grading an English submission
        assert i18n.language() == "en"
    assert i18n.language() == "zh_CN"


def test_a_failed_check_speaks_the_notebooks_language_with_the_same_facts(language):
    english = _failure(conv_step_by_step.check_zero_pad, _pads_every_axis)
    language(notebook="zh_CN")
    chinese = _failure(conv_step_by_step.check_zero_pad, _pads_every_axis)
    assert english.startswith("zero_pad: the batch or channel axis is padded too; pad only")
    assert chinese.startswith("zero_pad：批量轴或通道轴也被填充了；只填充高和宽"), chinese
    assert "zero_pad：输出的形状 (10, 9, 9, 8) 不对，应为 (4, 9, 9, 2)" in chinese
    assert "(10, 9, 9, 8)" in english and not CJK.search(english)


def test_the_environment_switches_an_english_notebook(language):
    language(environment="zh_CN")
    message = _failure(car_detection.check_iou, lambda box1, box2: 1.5)
    assert message.startswith("iou：重叠的框得到的 IoU（交并比）不在 [0, 1] 之内；"), message
    assert ("\niou (partial_overlap: (2, 1, 4, 3), (1, 2, 3, 4))：IoU不对：得到 1.5，应为 "
            "0.1428") in message


def test_a_wrapped_chinese_failure_fits_its_width_on_the_screen(language):
    language(notebook="zh_CN")
    message = _failure(conv_step_by_step.check_pool_forward,
                       lambda A_prev, hparameters, mode="max": (A_prev[:, :3, :3] * 0, None))
    lines = CheckFailed(message)._render_traceback_()
    plain = [re.sub(r"\x1b\[[0-9;]*m", "", line) for line in lines]
    columns = [sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in line)
               for line in plain]
    assert len(plain) > 1 and max(columns) <= WIDTH, plain
    assert not any(line.lstrip().startswith(("，", "。", "；", "：")) for line in plain)
    assert "".join("".join(plain).split()) == "".join(f"AssertionError: {message}".split())


def test_hidden_values_are_hidden_next_to_chinese_characters(language):
    language(notebook="zh_CN")
    message = ("triplet_loss (seed=12, alpha=2.0)：4 个三元组的损失，alpha=2.0不对：得到 "
               "3.25，应为 1.5e-3（最大绝对差 .5）；第 2 个")
    hidden = without_values(message)
    assert not re.search(r"\d\.\d|\.\d|\de-", hidden), hidden
    assert hidden.count("（数值已隐藏）") == 5 and "seed=12" in hidden and "第 2 个" in hidden
    assert i18n._(HIDDEN_VALUE) == "（数值已隐藏）"


def test_every_hint_of_a_mistake_has_a_current_translation():
    translated = {english[0] for english, _, _ in messages.translations()}
    shown = [NOT_RUN_NOTE, HIDDEN_VALUE, resnets.RESIDUAL_ADD] + [t for _, t in COMMON_CAUSES]
    for assignment in assignments.available():
        checks = import_module(f"utils.public_tests.{assignment.notebook[:-6]}").CHECKS
        shown += [text for graded in checks.values() for mistake in graded.mistakes
                  for text in (mistake.cause, mistake.fix)]
    assert len(shown) > 150
    assert [text for text in shown if text not in translated] == []


def test_the_catalogue_holds_every_message_of_the_code_translated():
    found = messages.extract()
    assert len(found) > 300
    assert not messages.status(found).lines()
    assert not messages.problems()
    files = {where for m in found for where, _ in m.locations}
    assert {"utils/checks.py", "utils/mistakes.py", "utils/graded.py", "utils/student_errors.py",
            "course/trusted/executor.py"} <= files
    assert all(f"utils/public_tests/{a.notebook[:-6]}.py" in files
               for a in assignments.available())


def test_the_committed_compiled_catalogue_is_current():
    assert messages.stale() == [], "run `python -m course release` and commit the result"


def _own_nodes(scope: ast.AST) -> list[ast.AST]:
    """The nodes of a module or function, without those of the functions defined in it."""
    found, todo = [], list(ast.iter_child_nodes(scope))
    while todo:
        node = todo.pop()
        found.append(node)
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            todo += ast.iter_child_nodes(node)
    return found


def test_no_function_that_translates_rebinds_the_underscore():
    """``for _ in ...`` in a function (or module) that calls ``_("...")`` would hide gettext
    there (a function's nested functions count as its own here)."""
    for path in messages.sources():
        tree = ast.parse(path.read_text())
        for scope in [tree, *(n for n in ast.walk(tree)
                             if isinstance(n, (ast.FunctionDef, ast.Lambda)))]:
            nodes = _own_nodes(tree) if scope is tree else list(ast.walk(scope))
            binds = [n.lineno for n in nodes if isinstance(n, ast.Name) and n.id == "_"
                     and isinstance(n.ctx, ast.Store)]
            calls = any(isinstance(n, ast.Call) and isinstance(n.func, ast.Name)
                        and n.func.id == "_" for n in nodes)
            assert not (binds and calls), f"{path.name}:{binds[0]} rebinds _"


def test_a_message_without_a_current_translation_fails_the_check(tmp_path):
    path = tmp_path / "messages.po"
    shutil.copy(messages.CATALOGUE, path)
    catalogue = catalogues.read(path)
    entries = [m for m in catalogue if m.id]
    entries[0].string = ""
    entries[1].flags.add("fuzzy")
    catalogues.write(path, catalogue)
    status = messages.status(messages.extract(), path)
    assert [line.split(":")[0] for line in status.lines()] == ["missing (not translated; run "
                                                               "extract if it is not in the "
                                                               "catalogue)", "fuzzy (the English "
                                                               "changed; update the translation "
                                                               "and remove the fuzzy flag)"]
    assert entries[0].id[:20] in status.lines()[0] and entries[1].id[:20] in status.lines()[1]


def test_a_changed_english_message_keeps_its_old_translation_marked_fuzzy(tmp_path):
    path = tmp_path / "messages.po"
    shutil.copy(messages.CATALOGUE, path)
    catalogue = catalogues.read(path)
    english = "{function}: modified its input in place; work on a copy instead"
    entry = catalogue.get(english)
    catalogue.delete(english)  # as if the code had said something else before
    catalogue.add(english.replace("work on", "make"), entry.string)
    catalogues.write(path, catalogue)
    status = messages.update(path)
    assert status.missing == [] and status.obsolete == []
    assert status.fuzzy == [repr(english)]
    updated = catalogues.read(path).get(english)
    assert updated.fuzzy and updated.string == entry.string


@pytest.mark.parametrize("chinese, problem", [
    ("{fn}：{what}的形状 {shape} 不对，应为 {expected}", None),
    ("{fn}：{what}的形状不对，应为 {expected}", "placeholders differ"),
    ("{fn}：{what}的形状 {shape} 不对，应为 {expected:.2f}", "placeholders differ"),
    ("{fn}：{what}的形状 {shape} 不对，应为 {expected} {", "not a format string"),
])
def test_a_translation_keeps_the_placeholders(chinese, problem):
    found = rules.message_problems("{fn}: wrong {what} shape {shape}, expected {expected}",
                                   chinese)
    assert found == [] if problem is None else any(p.startswith(problem) for p in found), found


@pytest.mark.parametrize("chinese, problem", [
    ("在每个窗口上用 np.max 取最大值；步幅为 2 时用 axis=-1", None),
    ("在每个窗口上取最大值；步幅为 2 时用 axis=-1", "code words lost: ['np.max']"),
    ("在每个窗口上用 np.max 取最大值；步幅为 3 时用 axis=-1", "code words lost: ['2']"),
    ("在每个窗口上用 np.max 取最大值；步长为 2 时用 axis=-1", "glossary: 'stride' must read 步幅"),
])
def test_a_translation_keeps_code_numbers_and_the_glossarys_terms(chinese, problem):
    found = rules.message_problems("take np.max of each window; with a stride of 2 use axis=-1",
                                   chinese)
    assert found == [] if problem is None else problem in found, found


# ------------------------------------------------------------------------------------------
# In the kernel of a notebook: the public checks of the three wrong functions


def _run_check(notebook_path, function: str, wrong: str, env: dict | None = None) -> str:
    """The error a notebook's public test cell of ``function`` shows, after its imports cell
    and ``wrong`` ran in a fresh kernel started in the notebook's folder."""
    nb = nbformat.read(notebook_path, as_version=4)
    imports = next(c for c in nb.cells if is_imports_cell(c))
    test = next(c for c in nb.cells
                if c.metadata.get("nbgrader", {}).get("grade_id") == f"test_{function}")
    cells = [nbformat.v4.new_code_cell(source) for source in (imports.source, wrong, test.source)]
    client = NotebookClient(nbformat.v4.new_notebook(cells=cells), timeout=300,
                            kernel_name="python3", allow_errors=True,
                            resources={"metadata": {"path": str(notebook_path.parent)}})
    saved = dict(os.environ)
    os.environ.update({**QUIET_TENSORFLOW, **(env or {})})
    try:
        executed = client.execute()
    finally:
        os.environ.clear()
        os.environ.update(saved)
    errors = [o for cell in executed.cells for o in cell.get("outputs", [])
              if o.output_type == "error"]
    assert [o.ename for o in errors] == ["CheckFailed"], errors
    return errors[0].evalue


@pytest.mark.slow
@pytest.mark.parametrize("assignment, function, wrong, case, chinese, english", WRONG,
                         ids=[w[1] for w in WRONG])
def test_a_chinese_notebook_reports_a_wrong_function_in_chinese(assignment, function, wrong,
                                                                 case, chinese, english):
    message = _run_check(assignment.chinese_student_notebook, function, wrong)
    assert message.startswith(chinese), message
    assert case in message, message  # the function and its case, by name and parameters
    assert not re.search(r"[A-Za-z]{3,} [a-z]{3,} [a-z]{3,}",  # no English sentence is left
                         re.sub(r"<class '[^']*'>|'[^']*'", "", message)), message


@pytest.mark.slow
def test_an_english_notebook_stays_english_and_the_environment_switches_it():
    function, wrong = "zero_pad", WRONG_ZERO_PAD
    english = _run_check(A1.student_notebook, function, wrong)
    assert english.startswith("zero_pad: the output's dtype is not the input's") and not (
        CJK.search(english)), english
    switched = _run_check(A1.student_notebook, function, wrong, {i18n.LANGUAGE_ENV: "zh_CN"})
    assert switched.startswith("zero_pad：输出的 dtype 与输入的不同"), switched
    back = _run_check(A1.chinese_student_notebook, function, wrong, {i18n.LANGUAGE_ENV: "en"})
    assert back == english
