"""The Chinese edition: its catalogues are current (the drift check), every translation keeps
the code, formulas and links and uses the glossary's terms, a changed English text is named, and
the Chinese release has the English release's graded cells, figures drawn in Chinese."""

from __future__ import annotations

import json
import shutil

import nbformat
import pytest
from PIL import Image

from course import assignments
from course.__main__ import main
from course.authoring import figures
from course.translation import catalogues, notebooks, rules
from course.translation.report import reports
from course.translation.units import Unit, cell_units, code_tokens, figure_units, notebook_units

AVAILABLE = assignments.available()
TRANSLATED = notebooks.translated(AVAILABLE)


def test_the_translated_notebooks_have_catalogues():
    assert {a.id for a in TRANSLATED} >= {"C4W1A1_conv_step_by_step", "C4W1A2_signs_cnn",
                                          "C4W2A1_resnets", "C4W3A1_car_detection",
                                          "C4W4A1_face_recognition",
                                          "C4W4A2_neural_style_transfer"}


@pytest.mark.parametrize("report", reports(AVAILABLE), ids=lambda r: r.name)
def test_catalogue_is_current_and_keeps_the_rules(report):
    """The drift check: a changed English text, a missing or fuzzy translation, an obsolete
    entry, changed code or formulas, or a glossary term not rendered, named by cell."""
    assert not report.problems, (
        f"{report.path.name}:\n  " + "\n  ".join(report.problems)
        + "\nRun `python -m course translations extract`, translate, and see "
          "locale/zh_CN/README.md.")


def test_the_check_command_passes_and_reports_counts(capsys):
    assert main(["translations", "--check"]) == 0
    out = capsys.readouterr().out
    assert "C4W1A1_conv_step_by_step" in out and "up to date" in out


def _edited(assignment, cell_id: str, new_source: str) -> nbformat.NotebookNode:
    nb = nbformat.read(assignment.source_notebook, as_version=4)
    next(c for c in nb.cells if c.get("id") == cell_id).source = new_source
    return nb


def test_a_changed_english_cell_is_named_then_fuzzy_with_its_previous_english(tmp_path):
    assignment = assignments.get("C4W1A1_conv_step_by_step")
    path = tmp_path / "catalogue.po"
    shutil.copy(notebooks.catalogue(assignment), path)
    english = nbformat.read(assignment.source_notebook, as_version=4)
    old = next(c for c in english.cells if c.get("id") == "cell-07").source
    nb = _edited(assignment, "cell-07", old.replace("one number of the output", "one output"))
    units = cell_units(nb) + figure_units(assignment)
    status = catalogues.status(path, units)
    assert [line.split(":")[0] for line in status.changed] == ["cell-07"], status.lines()
    assert not status.missing and not status.fuzzy and not status.obsolete
    after = catalogues.update(path, units, "test")
    assert [line.split(":")[0] for line in after.fuzzy] == ["cell-07"] and not after.obsolete
    entry = catalogues.entries(path)["cell-07", units[[u.context for u in units].index(
        "cell-07")].english]
    assert entry.fuzzy and entry.previous == old and "卷积" in entry.chinese
    # a fuzzy translation is not used: the cell stays English until it is translated again
    assert ("cell-07", entry.english) not in catalogues.translations(path)


def test_a_new_cell_is_missing_and_a_deleted_one_obsolete(tmp_path):
    assignment = assignments.get("C4W1A2_signs_cnn")
    path = tmp_path / "catalogue.po"
    shutil.copy(notebooks.catalogue(assignment), path)
    nb = nbformat.read(assignment.source_notebook, as_version=4)
    new = nbformat.v4.new_markdown_cell("A new lesson about strides.")
    new.id = "new-lesson"
    nb.cells = [c for c in nb.cells if c.get("id") != "cell-04"] + [new]
    status = catalogues.update(path, cell_units(nb) + figure_units(assignment), "test")
    assert [line.split(":")[0] for line in status.missing] == ["new-lesson"]
    assert [line.split(":")[0] for line in status.obsolete] == ["cell-04"]


UNIT = Unit("c", "def f(x):\n    \"\"\"Zero padding of x.\"\"\"\n    ### BEGIN SOLUTION\n"
            "    return x  # the padded batch\n    ### END SOLUTION\n", "code")


@pytest.mark.parametrize("chinese, problem", [
    (UNIT.english.replace("Zero padding of x.", "x 的零填充。").replace(
        "the padded batch", "填充后的一批"), None),
    (UNIT.english.replace("Zero padding of x.", "x 的零填充。").replace("return x", "return x + 0"),
     "code changed"),
    (UNIT.english.replace("Zero padding of x.", "x 的零填充。").replace("### BEGIN SOLUTION",
                                                                  "### 开始"), "code changed"),
    (UNIT.english.replace("Zero padding of x.", "x 周围补 0。"), "glossary: 'zero padding'"),
])
def test_a_translated_code_cell_may_change_its_words_only(chinese, problem):
    found = rules.problems(UNIT, chinese)
    if problem is None:
        assert found == []
    else:
        assert any(p.startswith(problem) for p in found), found


MARKDOWN = Unit("m", "## 1 - Padding\n\nThe stride $s$ of `conv_forward` "
                "([numpy](https://numpy.org)):\n\n```text\nZ = 1\n```", "markdown")


ZH = ("## 1 - 填充\n\n`conv_forward` 的步幅 $s$（[numpy](https://numpy.org)）：\n\n"
      "```text\nZ = 1\n```")


@pytest.mark.parametrize("chinese, problem", [
    (ZH, None),
    (ZH.replace("$s$", "$t$"), "formulas differ"),
    (ZH.replace("`conv_forward` 的", ""), "inline code differ"),
    (ZH.replace("[numpy](https://numpy.org)", "numpy"), "link targets differ"),
    (ZH.replace("Z = 1", "Z = 2"), "code blocks differ"),
    (ZH.replace("## 1", "### 1"), "headings differ"),
    (ZH.replace("步幅", "步长"), "glossary: 'stride' must read 步幅"),
])
def test_a_translated_markdown_cell_keeps_formulas_code_links_and_headings(chinese, problem):
    found = rules.problems(MARKDOWN, chinese)
    if problem is None:
        assert found == []
    else:
        assert any(p.startswith(problem) for p in found), found


def test_a_translators_comment_exempts_a_word_that_is_not_the_term():
    english, chinese = "a large positive number", "一个很大的正数"
    assert rules.glossary_problems(english, chinese) == [
        "glossary: 'positive' must read 正例"]
    assert rules.glossary_problems(english, chinese, frozenset({"positive"})) == []


def test_the_glossary_is_parsed_into_the_notes_terms():
    terms = {t.english: t.chinese for t in rules.glossary()}
    assert terms["stride"] == ("步幅",)
    assert terms["max pooling"] == ("最大池化",)
    assert terms["forward propagation"] == ("前向传播",)
    assert terms["backward propagation"] == ("反向传播",)
    assert terms["filter"] == ("过滤器", "卷积核") and terms["kernel"] == ("过滤器", "卷积核")
    assert terms["filter bank"] == ("滤波器组",)
    assert terms["non max suppression"] == ("非极大值抑制", "NMS")
    assert terms["triplet loss"] == ("三元组损失",) and terms["anchor box"] == ("锚框",)
    assert terms["gram matrix"] == terms["style matrix"] == ("风格矩阵", "Gram 矩阵")
    # a longer term is matched first: a filter bank is not also a filter
    assert rules.glossary_problems("the filter bank", "滤波器组") == []


@pytest.mark.parametrize("assignment", TRANSLATED, ids=lambda a: a.id)
def test_the_chinese_release_has_the_english_graded_cells_and_code(assignment):
    english = nbformat.read(assignment.release_notebook, as_version=4)
    chinese = nbformat.read(assignment.chinese_release_notebook, as_version=4)
    for path in (assignment.chinese_release_notebook, assignment.chinese_student_notebook):
        text = path.read_text()
        assert not any(marker in text for marker in ("BEGIN SOLUTION", "HIDDEN TESTS")), path
    assert chinese.metadata["language"] == "zh_CN" and "language" not in english.metadata
    assert [c.get("id") for c in chinese.cells] == [c.get("id") for c in english.cells]
    translated_cells = 0
    for en, zh in zip(english.cells, chinese.cells):
        info, zh_info = en.metadata.get("nbgrader", {}), zh.metadata.get("nbgrader", {})
        assert {k: v for k, v in info.items() if k != "checksum"} == {
            k: v for k, v in zh_info.items() if k != "checksum"}, en.get("id")
        if info.get("grade"):
            assert zh.source == en.source, f"test cell {info['grade_id']} must stay English"
        elif notebooks.is_imports_cell(en):  # and says that the notebook is Chinese
            assert code_tokens(zh.source) == code_tokens(notebooks.speaking_chinese(en.source))
        elif en.cell_type == "code":
            assert code_tokens(zh.source) == code_tokens(en.source), en.get("id")
        translated_cells += zh.source != en.source
    assert translated_cells >= len([u for u in notebook_units(assignment)
                                    if u.kind == "markdown"])


@pytest.mark.parametrize("assignment", TRANSLATED, ids=lambda a: a.id)
def test_chinese_notebooks_show_chinese_figures_drawn_from_the_current_labels(assignment):
    nb = nbformat.read(assignment.chinese_student_notebook, as_version=4)
    links = [link for cell in nb.cells if cell.cell_type == "markdown"
             for link in rules.LINK_TARGET.findall(cell.source) if "images/" in link]
    assert links and all(link.startswith("../../images/zh/") for link in links), links
    labels = notebooks.figure_labels([assignment])
    folder = next(iter(labels))
    drawn = [name for name in figures.FIGURES if name.startswith(f"{folder}/")]
    recorded = {}
    for name in drawn:
        path = assignments.REPO_ROOT / "images" / "zh" / name
        with Image.open(path) as image:
            # recorded by draw_chinese; none for a figure without words (the residents' faces)
            used = dict(json.loads(image.text[figures.common.LABELS_KEY]))
        assert all(labels[folder].get(en) == zh for en, zh in used.items()), (
            f"{name} was drawn with other labels than the catalogue's: run "
            "`python -m course figures --chinese`")
        recorded.update(used)
    assert recorded, f"no figure of {folder} was drawn with the catalogue's labels"


def test_chinese_figures_are_redrawn_with_the_cjk_font(tmp_path):
    labels = notebooks.figure_labels(TRANSLATED)
    quick = [n for n, f in figures.FIGURES.items() if f.quick and n.split("/")[0] in labels]
    written = figures.draw_chinese(labels, quick, images_root=tmp_path)
    assert [p.relative_to(tmp_path / "zh").as_posix() for p in written] == quick
    for path in written:
        with Image.open(path) as image:
            assert image.format == "PNG" and any(
                "\u4e00" <= ch <= "\u9fff" for ch in image.text[figures.common.LABELS_KEY])
