"""Figures of assignment 5 (face recognition): the residents' pictures, a Siamese network, and a
triplet of real pictures with their FaceNet distances."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from PIL import Image

from course.authoring.figures.common import (
    DATA_COLOUR,
    NOTE_COLOUR,
    OUT_COLOUR,
    arrow,
    box,
    diagram_axes,
    tr,
)
from utils.facenet import load_facenet
from utils.faces import course_faces, img_to_encoding

FOLDER = "face_recognition"  # images/<FOLDER>/: the notebook these figures belong to

# anchor and positive: the same person (camera_0 is younes at the door); negative: someone else.
TRIPLET = {"anchor": "younes", "positive": "camera_0", "negative": "kian"}


def _role_titles() -> dict[str, str]:
    """The titles of TRIPLET's pictures (in the language being drawn)."""
    return {"anchor": tr("anchor ({name})"), "positive": tr("positive ({name})"),
            "negative": tr("negative ({name})")}


def residents():
    """The database: one picture of each of the 12 residents."""
    pictures, _ = course_faces()
    fig, axes = plt.subplots(2, 6, figsize=(8, 3.3))
    for ax, (name, path) in zip(axes.ravel(), pictures.items()):
        with Image.open(path) as picture:
            ax.imshow(picture.convert("RGB"))
        ax.set_title(name, fontsize=9)
        ax.axis("off")
    return fig


def siamese():
    """Two pictures through the same encoder; the distance of the encodings against a threshold."""
    fig, ax = diagram_axes(11, 3.4, (-0.5, 21), (-2.2, 2.4))
    for y, name in ((1.2, "x(i)"), (-1.2, "x(j)")):
        box(ax, (1, y), tr("picture {name}\n160x160x3").format(name=name), DATA_COLOUR,
            width=2.2, height=1.0)
        box(ax, (5.5, y), tr("FaceNet\n(same weights)"), NOTE_COLOUR, width=2.6, height=1.0)
        box(ax, (10, y), tr("f({name})\n128 numbers").format(name=name), OUT_COLOUR, width=2.4,
            height=1.0)
        arrow(ax, (2.1, y), (4.2, y))
        arrow(ax, (6.8, y), (8.8, y))
        arrow(ax, (11.2, y), (13.3, 0.1 if y > 0 else -0.1))
    box(ax, (15.2, 0), "d = ||f(x(i)) - f(x(j))||", DATA_COLOUR, width=3.8)
    box(ax, (19.2, 0), tr("same person\nif d < threshold"), OUT_COLOUR, width=2.8, height=1.0)
    arrow(ax, (17.1, 0), (17.8, 0))
    return fig


def triplet():
    """Anchor, positive and negative pictures with the FaceNet distances between them."""
    pictures = {**course_faces()[0], **course_faces()[1]}
    model = load_facenet()
    paths = {role: pictures[name] for role, name in TRIPLET.items()}
    codes = {role: img_to_encoding(path, model) for role, path in paths.items()}
    d_ap = float(np.linalg.norm(codes["anchor"] - codes["positive"]))
    d_an = float(np.linalg.norm(codes["anchor"] - codes["negative"]))
    fig, axes = plt.subplots(1, 3, figsize=(8, 3.2))
    titles = _role_titles()
    for ax, (role, path) in zip(axes, paths.items()):
        with Image.open(path) as picture:
            ax.imshow(picture.convert("RGB"))
        ax.set_title(titles[role].format(name=TRIPLET[role]), fontsize=9)
        ax.axis("off")
    distances = tr("FaceNet distances: d(A, P) = {d_ap}, d(A, N) = {d_an}; the loss wants "
                   "d(A, P)^2 + alpha <= d(A, N)^2")
    fig.suptitle(distances.format(d_ap=f"{d_ap:.2f}", d_an=f"{d_an:.2f}"), fontsize=9.5, y=0.02)
    return fig
