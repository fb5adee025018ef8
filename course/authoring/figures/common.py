"""Drawing helpers shared by the figure modules: number grids, volumes, block diagrams, saving,
and the labels' language.

Every label with words goes through ``tr("...")`` (one plain string; numbers through
``.format``), which the Chinese edition's catalogue translates (``course.translation``):
inside ``translated(labels)`` the figures are drawn with Chinese labels in a CJK font, and
``save`` records in the PNG the labels it used, so that a test can tell a stale Chinese figure.
"""

from __future__ import annotations

import contextlib
import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch, Polygon, Rectangle
from PIL import Image, PngImagePlugin

PAD_COLOUR, DATA_COLOUR, WINDOW_COLOUR, OUT_COLOUR = "#eeeeee", "#9ecae1", "#fd8d3c", "#74c476"
NOTE_COLOUR, SHORTCUT_COLOUR = "#fff7bc", "#d62728"
DPI = 100
CJK_FONT = "Noto Sans CJK SC"  # Debian's fonts-noto-cjk
LABELS_KEY = "Labels"  # the PNG text entry of a translated figure: its [English, Chinese] pairs
_translation: dict[str, str] | None = None  # English label -> translation while translating
_used: dict[str, str] = {}


def tr(label: str) -> str:
    """``label`` in the language being drawn: English, or inside ``translated`` its translation
    (the English while it has no current one, as gettext does: the figure then records it, and
    the tests name the figure)."""
    if _translation is None:
        return label
    _used[label] = _translation.get(label, label)
    return _used[label]


@contextlib.contextmanager
def translated(labels: dict[str, str]):
    """Draw with ``labels`` ({English: Chinese}) in the CJK font; RuntimeError when the font is
    not installed (its glyphs would be empty boxes)."""
    global _translation
    from matplotlib import font_manager

    try:
        font_manager.findfont(font_manager.FontProperties(family=CJK_FONT),
                              fallback_to_default=False)
    except ValueError:
        raise RuntimeError(f"the Chinese figures need the font {CJK_FONT!r}: install it "
                           "(Debian: apt-get install fonts-noto-cjk)") from None
    style = {"font.family": "sans-serif", "font.sans-serif": [CJK_FONT, "DejaVu Sans"],
             "axes.unicode_minus": False}
    with matplotlib.rc_context(style):
        _translation = labels
        _used.clear()
        try:
            yield
        finally:
            _translation = None


def save(fig, path: Path, palette: bool = False) -> Path:
    """Write ``fig`` as a PNG at ``path`` (folders created) and close it; a translated figure
    records the labels it was drawn with. ``palette``: in 256 colours (a picture of photographs
    or paintings, which a full-colour PNG stores in several times the bytes, and which looks the
    same)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    metadata = {"Software": None}
    if _translation is not None:
        metadata[LABELS_KEY] = json.dumps(sorted(_used.items()), ensure_ascii=False)
        _used.clear()
    fig.savefig(path, dpi=DPI, bbox_inches="tight", metadata=metadata)
    plt.close(fig)
    if palette:
        with Image.open(path) as image:
            info = PngImagePlugin.PngInfo()
            for key, value in image.text.items():  # the labels of a translated figure
                info.add_text(key, value)
            picture = image.convert("RGB").quantize(256, method=Image.Quantize.MEDIANCUT,
                                                    dither=Image.Dither.FLOYDSTEINBERG)
        picture.save(path, optimize=True, pnginfo=info)
    return path


def grid(ax, values: np.ndarray, colours, title: str, fmt: str = "{:g}",
         origin: tuple[float, float] | None = None, fontsize: int = 9) -> None:
    """Draw a 2D array as labelled squares; ``colours`` is one colour or one per entry.

    Without an origin the grid fills the axes, titled; with an origin (x, y) of its lower left
    corner it is added to a larger drawing, the title above it, and the axes are left alone.
    """
    n_rows, n_cols = values.shape
    colours = np.broadcast_to(np.asarray(colours, dtype=object), values.shape)
    x0, y0 = origin or (0, 0)
    for r in range(n_rows):
        for c in range(n_cols):
            ax.add_patch(Rectangle((x0 + c, y0 + n_rows - 1 - r), 1, 1, facecolor=colours[r, c],
                                   edgecolor="black", linewidth=0.8))
            ax.text(x0 + c + 0.5, y0 + n_rows - 0.5 - r, fmt.format(values[r, c]), ha="center",
                    va="center", fontsize=fontsize)
    if origin is None:
        ax.set_xlim(-0.1, n_cols + 0.1)
        ax.set_ylim(-0.1, n_rows + 0.1)
        ax.set_aspect("equal")
        ax.axis("off")
        ax.set_title(title, fontsize=10)
    elif title:
        ax.text(x0 + n_cols / 2, y0 + n_rows + 0.3, title, ha="center", va="bottom", fontsize=9)


def volume(ax, x: float, height: float, width: float, depth: float, label: str,
           colour: str = DATA_COLOUR) -> float:
    """Draw a box of the given height, width and depth (drawing units) whose front face starts
    at x and is centred on y = 0, with ``label`` below; return the x where it ends."""
    dx, dy = 0.5 * depth, 0.35 * depth
    bottom = -height / 2
    front = Rectangle((x, bottom), width, height, facecolor=colour, edgecolor="black", lw=0.8)
    top = Polygon([(x, bottom + height), (x + dx, bottom + height + dy),
                   (x + width + dx, bottom + height + dy), (x + width, bottom + height)],
                  closed=True, facecolor=colour, edgecolor="black", lw=0.8, alpha=0.7)
    side = Polygon([(x + width, bottom), (x + width + dx, bottom + dy),
                    (x + width + dx, bottom + height + dy), (x + width, bottom + height)],
                   closed=True, facecolor=colour, edgecolor="black", lw=0.8, alpha=0.5)
    for patch in (front, top, side):
        ax.add_patch(patch)
    ax.text(x + (width + dx) / 2, bottom - 0.4, label, ha="center", va="top", fontsize=8.5)
    return x + width + dx


def box(ax, xy: tuple[float, float], text: str, colour: str = DATA_COLOUR, width: float = 1.6,
        height: float = 0.8, fontsize: float = 8.5) -> tuple[float, float]:
    """A rounded box centred on xy with ``text``; returns xy for arrows."""
    x, y = xy
    ax.add_patch(FancyBboxPatch((x - width / 2, y - height / 2), width, height,
                                boxstyle="round,pad=0.05", facecolor=colour, edgecolor="black",
                                linewidth=0.8))
    ax.text(x, y, text, ha="center", va="center", fontsize=fontsize)
    return xy


def arrow(ax, start: tuple[float, float], end: tuple[float, float], colour: str = "black",
          text: str = "", connection: str = "arc3") -> None:
    """An arrow from start to end, with an optional label at its middle."""
    ax.add_patch(FancyArrowPatch(start, end, arrowstyle="-|>", mutation_scale=12, color=colour,
                                 linewidth=1.2, connectionstyle=connection,
                                 shrinkA=2, shrinkB=2))
    if text:
        ax.text((start[0] + end[0]) / 2, (start[1] + end[1]) / 2 + 0.15, text, ha="center",
                va="bottom", fontsize=8, color=colour)


def chain(ax, labels: list[str], y: float = 0.0, spacing: float = 2.0, x0: float = 0.0,
          colours: list[str] | None = None, width: float = 1.6, height: float = 0.8,
          fontsize: float = 8.5) -> list[tuple[float, float]]:
    """Boxes in a row joined by arrows; returns their centres."""
    centres = []
    for i, label in enumerate(labels):
        colour = colours[i] if colours else DATA_COLOUR
        centres.append(box(ax, (x0 + i * spacing, y), label, colour, width=width,
                           height=height, fontsize=fontsize))
        if i:
            arrow(ax, (centres[-2][0] + width / 2, y), (centres[-1][0] - width / 2, y))
    return centres


def diagram_axes(width: float, height: float, xlim: tuple[float, float],
                 ylim: tuple[float, float]):
    """A figure with one blank, equal-aspect axes for a diagram."""
    fig, ax = plt.subplots(figsize=(width, height))
    ax.set_xlim(*xlim)
    ax.set_ylim(*ylim)
    ax.set_aspect("equal")
    ax.axis("off")
    return fig, ax
