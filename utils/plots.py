"""Figures shared by the notebooks: sample images with their labels, and training curves."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np


def show_samples(X: np.ndarray, Y: np.ndarray, classes: np.ndarray, n: int = 6,
                 title: str = "") -> None:
    """Show the first ``n`` images of X with their labels.

    X: array of shape (m, height, width, 3)
    Y: int array of shape (1, m) or (m,)
    classes: array of shape (n_classes,), the label values
    """
    labels = np.asarray(Y).reshape(-1)
    fig, axes = plt.subplots(1, n, figsize=(2 * n, 2.3))
    for ax, image, label in zip(np.atleast_1d(axes), X[:n], labels[:n]):
        ax.imshow(image)
        ax.set_title(f"label {classes[label]}")
        ax.axis("off")
    if title:
        fig.suptitle(title)
    plt.show()


def plot_costs(costs: np.ndarray | list[float], learning_rate: float | None = None,
               ylabel: str = "cost", xlabel: str = "epoch", series: dict | None = None) -> None:
    """Plot a training curve; ``series`` adds named curves (e.g. accuracy), one value per epoch.

    costs: array of shape (epochs,) (or a list), one value per epoch
    """
    plt.figure(figsize=(6, 3.5))
    plt.plot(np.squeeze(costs), label=ylabel)
    for name, values in (series or {}).items():
        plt.plot(values, label=name)
    plt.xlabel(xlabel)
    plt.ylabel(ylabel)
    if learning_rate is not None:
        plt.title(f"learning rate = {learning_rate:g}")
    if series:
        plt.legend()
    plt.show()
