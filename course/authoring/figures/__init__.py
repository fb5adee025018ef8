"""The explanatory figures of the notebooks (``python -m course figures``).

``FIGURES`` maps each figure's path under images/ to the function that draws it (it returns a
matplotlib figure) and says whether it needs the course data or a pretrained network (slow) or
only numbers computed in the function (quick). ``draw`` writes the figures; the notebooks link
them as ``../../../images/<folder>/<file>.png``. ``draw_chinese`` writes the Chinese versions,
``images/zh/<folder>/<file>.png``, with the labels of the notebook's catalogue.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from course.assignments import REPO_ROOT
from course.translation import FOLDER
from course.authoring.figures import conv, faces, resnets, signs, style, yolo
from course.authoring.figures.common import save, translated


@dataclass(frozen=True)
class Figure:
    draw: Callable
    quick: bool  # True: computed numbers only; False: reads course data or runs a network
    palette: bool = False  # stored in 256 colours (paintings: common.save)


def _folder(name: str, quick: dict, slow: dict, paintings: dict | None = None
            ) -> dict[str, Figure]:
    figures = {f"{name}/{file}": Figure(fn, True) for file, fn in quick.items()}
    figures.update({f"{name}/{file}": Figure(fn, False) for file, fn in slow.items()})
    figures.update({f"{name}/{file}": Figure(fn, False, True)
                    for file, fn in (paintings or {}).items()})
    return figures


FIGURES: dict[str, Figure] = {
    **_folder(conv.FOLDER, {
        "zero_padding.png": conv.zero_padding, "convolution_window.png": conv.convolution_window,
        "window_corners.png": conv.window_corners, "pooling.png": conv.pooling,
        "flipped_convolution.png": conv.flipped_convolution,
        "volume_convolution.png": conv.volume_convolution,
        "backward_overlap.png": conv.backward_overlap,
        "edge_polarity.png": conv.edge_polarity, "sobel_scharr.png": conv.sobel_scharr,
        "dense_versus_conv.png": conv.dense_versus_conv,
    }, {"edge_detection.png": conv.edge_detection, "conv_1d_3d.png": conv.conv_1d_3d}),
    **_folder(signs.FOLDER, {"layer_shapes.png": signs.layer_shapes},
              {"six_signs.png": signs.six_signs}),
    **_folder(resnets.FOLDER, {
        "skip_connection.png": resnets.skip_connection,
        "identity_block.png": resnets.identity_block,
        "convolutional_block.png": resnets.convolutional_block,
        "resnet50_stages.png": resnets.resnet50_stages,
    }, {"vanishing_gradients.png": resnets.vanishing_gradients}),
    **_folder(yolo.FOLDER, {
        "box_encoding.png": yolo.box_encoding, "anchor_boxes.png": yolo.anchor_boxes,
        "iou.png": yolo.iou_picture,
    }, {"class_grid.png": yolo.class_grid, "filtering_steps.png": yolo.filtering_steps,
        "unit_patches.png": yolo.unit_patches}),
    **_folder(faces.FOLDER, {"siamese.png": faces.siamese},
              {"residents.png": faces.residents, "triplet.png": faces.triplet,
               "logistic_verification.png": faces.logistic_verification,
               "recognition_errors.png": faces.recognition_errors}),
    **_folder(style.FOLDER, {
        "unrolling.png": style.unrolling, "algorithm.png": style.algorithm,
    }, {"content_and_style.png": style.content_and_style, "gram_matrix.png": style.gram_colours},
        {"effect_alpha_beta.png": style.effect_of_alpha_beta,
         "effect_style_layers.png": style.effect_of_style_layers}),
}


def draw(names: list[str] | None = None, images_root: Path = REPO_ROOT / "images") -> list[Path]:
    """Draw the figures ``names`` (keys of FIGURES; all by default) under ``images_root``;
    return the files written."""
    return [save(FIGURES[name].draw(), images_root / name, FIGURES[name].palette)
            for name in (names or FIGURES)]


def draw_chinese(labels: dict[str, dict[str, str]], names: list[str] | None = None,
                 images_root: Path = REPO_ROOT / "images") -> list[Path]:
    """Draw the Chinese version of the figures ``names`` (all by default) of the folders that
    ``labels`` translates ({folder: {English label: Chinese}}) under ``images_root/zh/``;
    return the files written."""
    written = []
    for name in names or FIGURES:
        folder = name.split("/")[0]
        if folder in labels:
            with translated(labels[folder]):
                written.append(save(FIGURES[name].draw(), images_root / FOLDER / name,
                                    FIGURES[name].palette))
    return written
