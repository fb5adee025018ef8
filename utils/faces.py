"""Face encodings for verification and recognition: encode pictures, build a database, compare.

An encoding is the encoder's output for one picture, L2-normalised: a float32 vector of 128
numbers (for FaceNet) of length 1, so the distance between two encodings lies in [0, 2].
The encoder is any Keras model with a fixed (height, width, 3) input: the pretrained FaceNet
(``utils.facenet.load_facenet``) or a small stand-in in tests.
"""

from __future__ import annotations

from pathlib import Path

import keras
import matplotlib.pyplot as plt
import numpy as np

from utils import data
from utils.facenet import standardise
from utils.images import load_image

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")


def img_to_encoding(image_path: str | Path, model: keras.Model) -> np.ndarray:
    """The L2-normalised encoding of the picture at ``image_path``.

    Returns encoding: float32 array of shape (1, embedding size)

    Any size or mode (grayscale, RGBA, palette) is accepted: the picture is converted to RGB,
    resized to the model's input size and standardised per image. Raises FileNotFoundError
    naming the path when there is no such file.
    """
    height, width = model.input_shape[1:3]
    pixels = load_image(image_path, (height, width)) * 255.0
    embedding = np.asarray(model(standardise(pixels), training=False), dtype=np.float32)
    norm = np.linalg.norm(embedding, axis=1, keepdims=True)
    return embedding / np.maximum(norm, 1e-12)  # a blank picture can encode to zeros: no NaN


def build_database(image_paths: str | Path | list, model: keras.Model) -> dict[str, np.ndarray]:
    """{name: encoding} for the pictures, named by their file stem.

    ``image_paths``: a folder (every .jpg/.jpeg/.png in it) or a list of files.
    Returns {name: float32 array of shape (1, embedding size)}
    """
    if isinstance(image_paths, (str, Path)) and Path(image_paths).is_dir():
        image_paths = sorted(p for p in Path(image_paths).iterdir()
                             if p.suffix.lower() in IMAGE_SUFFIXES)
    return {Path(p).stem: img_to_encoding(p, model) for p in image_paths}


def course_faces() -> tuple[dict[str, Path], dict[str, Path]]:
    """The assignment's pictures: ({resident: path}, {camera shot: path}), sorted by name.

    Fetches them through the data layer; raises ``data.DataFileError`` listing every missing
    picture and the command that fetches it.
    """
    entries = [e for e in data.entries_for("C4W4A1_face_recognition")
               if e.path.startswith("images/faces/")]
    paths = data.fetch_all(entries)
    residents = {p.stem: p for p in sorted(paths) if not p.stem.startswith("camera_")}
    cameras = {p.stem: p for p in sorted(paths) if p.stem.startswith("camera_")}
    return residents, cameras


def distance_table(queries: dict[str, np.ndarray], database: dict[str, np.ndarray]) -> np.ndarray:
    """L2 distances between encodings, rows and columns in the dicts' order.

    queries, database: {name: encoding, array of shape (1, embedding size)}
    Returns table: array of shape (len(queries), len(database))
    """
    q = np.concatenate(list(queries.values()))
    d = np.concatenate(list(database.values()))
    return np.linalg.norm(q[:, None, :] - d[None, :, :], axis=-1)


def plot_distances(queries: dict[str, np.ndarray], database: dict[str, np.ndarray],
                   threshold: float | None = None) -> np.ndarray:
    """Heat map of ``distance_table`` with the distances written in the cells; cells below
    ``threshold`` (a match) are outlined.

    queries, database: {name: encoding, array of shape (1, embedding size)}
    Returns table: array of shape (len(queries), len(database)), as ``distance_table``
    """
    table = distance_table(queries, database)
    fig, ax = plt.subplots(figsize=(0.7 * len(database) + 2, 0.5 * len(queries) + 1.5))
    image = ax.imshow(table, cmap="viridis_r", vmin=0, vmax=max(1.6, table.max()))
    ax.set_xticks(range(len(database)), list(database), rotation=60, ha="right")
    ax.set_yticks(range(len(queries)), list(queries))
    for (i, j), value in np.ndenumerate(table):
        ax.text(j, i, f"{value:.2f}", ha="center", va="center", fontsize=7,
                color="white" if value > 0.8 else "black")
        if threshold is not None and value < threshold:
            ax.add_patch(plt.Rectangle((j - 0.5, i - 0.5), 1, 1, fill=False, color="red", lw=2))
    fig.colorbar(image, ax=ax, label="L2 distance between encodings")
    ax.set_title("distance from each query to each identity" +
                 (f" (red: below {threshold})" if threshold is not None else ""))
    plt.tight_layout()
    plt.show()
    return table
