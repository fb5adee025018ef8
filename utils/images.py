"""Reading a picture for a model, and showing a model's predictions."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from PIL import Image


def load_image(path: str | Path, size: tuple[int, int]) -> np.ndarray:
    """Read any image file as the batch of one that a SIGNS-style model expects.

    Converts to RGB (grayscale, palette and RGBA images included), resizes to ``size``
    (height, width) with bilinear filtering, and scales the pixels to [0, 1].
    Raises FileNotFoundError with the path when the file does not exist.
    Returns image: float32 array of shape (1, height, width, 3)
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no image file at {path}")
    with Image.open(path) as image:
        rgb = image.convert("RGB").resize((size[1], size[0]), Image.BILINEAR)
    return (np.asarray(rgb, dtype=np.float32) / 255.0)[None]


def show_predictions(probabilities: np.ndarray, images: np.ndarray,
                     labels: np.ndarray | None = None,
                     classes: np.ndarray | None = None) -> None:
    """Show images with the predicted class and its probability (and the label).

    probabilities: array of shape (m, n_classes)
    images: array of shape (m, h, w, 3)
    labels: int array of shape (m,), or None
    classes: array of shape (n_classes,), the classes' names or values (default 0..n_classes-1)
    """
    classes = np.arange(probabilities.shape[1]) if classes is None else classes
    m = len(images)
    fig, axes = plt.subplots(1, m, figsize=(2.2 * m, 2.6))
    for i, ax in enumerate(np.atleast_1d(axes)):
        predicted = int(np.argmax(probabilities[i]))
        title = f"predicted {classes[predicted]}\n(p = {probabilities[i, predicted]:.2f})"
        if labels is not None:
            title += f", label {classes[int(labels[i])]}"
        ax.imshow(images[i])
        ax.set_title(title, fontsize=9)
        ax.axis("off")
    plt.show()
