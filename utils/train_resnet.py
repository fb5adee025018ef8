"""Train the ResNet50 of assignment 3 longer and save it: ``python -m utils.train_resnet``.

Run it in the folder of the notebooks once your ``identity_block``, ``convolutional_block`` and
``ResNet50`` pass their tests and the notebook is saved. It reads these functions from the
saved notebook (``C4W2A1_resnets.ipynb``, or ``--notebook PATH``), trains that ResNet50 on the
SIGNS training set (12 epochs by default, about 40 seconds each on 2 CPU cores; in fast mode,
``CNN_COURSE_FAST=1``, 1 epoch on 64 images), recomputes its batch-norm statistics and saves it
as ``pretrained-model/resnet50_signs.keras``, which section 5 of the notebook loads.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

from utils import data
from utils.i18n import _
from utils.settings import choose
from utils.signs import PRETRAINED_RESNET50, load_signs_dataset, prepare

NOTEBOOK = "C4W2A1_resnets.ipynb"
FUNCTIONS = ("identity_block", "convolutional_block", "ResNet50")  # the notebook's answer cells


class NotebookError(RuntimeError):
    """The notebook lacks a cell this command reads, or one of its functions is not written."""


def notebook_functions(path: Path, names=FUNCTIONS) -> dict:
    """Run the notebook's imports cell and the cells that define ``names`` (the nbgrader cells
    of those names); return the namespace they made. Magics (``%...``) are skipped."""
    cells = json.loads(Path(path).read_text())["cells"]
    wanted = ("imports", *names)
    found = {cell["metadata"].get("nbgrader", {}).get("grade_id"): cell for cell in cells}
    missing = [name for name in wanted if name not in found]
    if missing:
        raise NotebookError(_("{path} has no cell {cells}: is it the notebook of assignment 3 "
                              "(C4W2A1_resnets)?").format(path=path, cells=", ".join(missing)))
    namespace: dict = {}
    for name in wanted:
        source = found[name]["source"]
        source = "".join(source) if isinstance(source, list) else source
        code = "\n".join(line for line in source.splitlines()
                         if not line.lstrip().startswith(("%", "!")))
        exec(compile(code, f"{path} ({name})", "exec"), namespace)  # noqa: S102 (your own code)
    return namespace


def recalibrate_batch_norm(model, X: np.ndarray, chunk: int = 256) -> None:
    """Set every batch-norm layer's moving mean and variance to the statistics of X.

    During training each batch is normalised with its own statistics, while inference uses
    moving averages that lag behind the changing weights; on a small dataset the two disagree
    and the test accuracy suffers. Forward passes over the training set in training mode, with
    each layer's momentum set so that its averages become the plain mean over the chunks of
    ``chunk`` images, replace them by the statistics of the final weights ("precise batch
    norm"). No other weight changes. Memory: about 3.5 GB for chunks of 256 64x64 images.
    """
    import keras

    batch_norms = [layer for layer in model.layers
                   if isinstance(layer, keras.layers.BatchNormalization)]
    momenta = [layer.momentum for layer in batch_norms]
    for k, start in enumerate(range(0, len(X), chunk), start=1):
        for layer in batch_norms:
            layer.momentum = 1.0 - 1.0 / k  # running mean: the k-th chunk weighs 1/k
        model(X[start:start + chunk], training=True)
    for layer, momentum in zip(batch_norms, momenta):
        layer.momentum = momentum


def train(ResNet50, epochs: int | None = None, batch_size: int = 32,
          learning_rate: float = 0.001, seed: int = 0) -> Path:
    """Train ``ResNet50(input_shape=(64, 64, 3), classes=6)`` on SIGNS for ``epochs`` (12; 1 in
    fast mode) and save it; print the accuracies in inference mode; return the saved file."""
    import keras

    keras.utils.set_random_seed(seed)
    epochs = epochs or choose(full=12, fast=1)
    X_train_orig, Y_train_orig, X_test_orig, Y_test_orig, _ = load_signs_dataset()
    X_train, Y_train = prepare(X_train_orig, Y_train_orig)
    X_test, Y_test = prepare(X_test_orig, Y_test_orig)
    n_train = choose(full=len(X_train), fast=64)
    X_train, Y_train = X_train[:n_train], Y_train[:n_train]

    model = ResNet50(input_shape=(64, 64, 3), classes=6)
    # Decaying the learning rate to zero lets the weights settle, so that the batch-norm moving
    # statistics used at inference match them (with a constant rate the test accuracy swings).
    steps = epochs * -(-len(X_train) // batch_size)
    schedule = keras.optimizers.schedules.CosineDecay(learning_rate, decay_steps=steps)
    model.compile(optimizer=keras.optimizers.Adam(schedule),
                  loss="categorical_crossentropy", metrics=["accuracy"])
    start = time.perf_counter()
    model.fit(X_train, Y_train, epochs=epochs, batch_size=batch_size, verbose=2)
    recalibrate_batch_norm(model, X_train)
    minutes = (time.perf_counter() - start) / 60
    _, train_accuracy = model.evaluate(X_train, Y_train, verbose=0)
    loss, accuracy = model.evaluate(X_test, Y_test, verbose=0)
    target = data.course_home() / PRETRAINED_RESNET50
    target.parent.mkdir(parents=True, exist_ok=True)
    model.save(target)
    print(f"trained {epochs} epoch(s) on {n_train} images in {minutes:.1f} min; in inference "
          f"mode: train accuracy {train_accuracy:.4f}, test loss {loss:.4f}, test accuracy "
          f"{accuracy:.4f}; saved {PRETRAINED_RESNET50}")
    return target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m utils.train_resnet", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--notebook", type=Path, default=Path(NOTEBOOK),
                        help=f"the notebook to read the functions from (default {NOTEBOOK})")
    parser.add_argument("--epochs", type=int, help="epochs to train (default 12; 1 in fast mode)")
    args = parser.parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # TensorFlow's informational lines
    if not args.notebook.is_file():
        print(_("no notebook at {path}: run this command in the folder of {notebook}, or name "
                "it with --notebook").format(path=args.notebook, notebook=NOTEBOOK),
              file=sys.stderr)
        return 1
    try:
        ResNet50 = notebook_functions(args.notebook)["ResNet50"]
        train(ResNet50, args.epochs)
    except NotImplementedError:
        print(_("{path}: write identity_block, convolutional_block and ResNet50 first (their "
                "test cells say when they are right), save the notebook, then run this command "
                "again").format(path=args.notebook), file=sys.stderr)
        return 1
    except NotebookError as error:
        print(error, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
