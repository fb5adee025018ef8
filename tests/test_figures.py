"""The notebooks' figures: every linked image exists, is a readable PNG with alt text, and is
drawn by `python -m course figures`; the quick figures are redrawn here."""

import re

import nbformat
import pytest
from PIL import Image

from course import assignments
from course.authoring import figures

SOURCE_LINK = re.compile(r"!\[([^\]]*)\]\(\.\./\.\./\.\./images/([^)]+)\)")
MAX_BYTES = 300_000


def _links() -> list[tuple[str, str, str]]:
    """(assignment id, alt text, path under images/) of every figure linked from a source."""
    links = []
    for assignment in assignments.available():
        nb = nbformat.read(assignment.source_notebook, as_version=4)
        for cell in nb.cells:
            if cell.cell_type == "markdown":
                found = SOURCE_LINK.findall(cell.source)
                assert len(found) == cell.source.count("](../../../images/"), (
                    f"{assignment.id}: a figure link whose alt text holds brackets")
                links += [(assignment.id, alt, path) for alt, path in found]
    return links


LINKS = _links()


@pytest.mark.parametrize("assignment, alt, path", LINKS, ids=[link[2] for link in LINKS])
def test_linked_figure_is_a_png_with_alt_text_drawn_by_the_figures_command(assignment, alt, path):
    assert len(alt.split()) >= 4, f"{assignment}: {path} needs a meaningful alt text, got {alt!r}"
    assert path in figures.FIGURES, (
        f"{path} is linked but `python -m course figures` does not draw it")
    file = assignments.REPO_ROOT / "images" / path
    with Image.open(file) as image:
        assert image.format == "PNG"
        image.load()
    assert file.stat().st_size < MAX_BYTES, f"{path} is {file.stat().st_size} bytes"


def test_every_figure_is_linked_from_a_notebook():
    linked = {path for _, _, path in LINKS}
    assert set(figures.FIGURES) <= linked, (
        f"figures no notebook shows: {set(figures.FIGURES) - linked}")


def test_every_assignment_has_figures():
    assert {assignment for assignment, _, _ in LINKS} == {a.id for a in assignments.available()}


def test_quick_figures_are_redrawn(tmp_path):
    quick = [name for name, figure in figures.FIGURES.items() if figure.quick]
    written = figures.draw(quick, images_root=tmp_path)
    assert [p.relative_to(tmp_path).as_posix() for p in written] == quick
    for path in written:
        with Image.open(path) as image:
            assert image.format == "PNG" and image.width > 100
