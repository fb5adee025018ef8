"""Train the reference ResNet50 on SIGNS and save it: ``python -m utils.course train-resnet``.

The notebook of assignment 3 loads ``pretrained-model/resnet50_signs.keras`` when it exists.
About 2 minutes per epoch on 2 CPU cores.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np

from utils import data
from utils.course.execution import QUIET_TENSORFLOW
from utils.course.reference import reference_functions
from utils.signs import convert_to_one_hot, load_signs_dataset

MODEL_PATH = Path("pretrained-model") / "resnet50_signs.keras"


def train(epochs: int = 10, batch_size: int = 32, learning_rate: float = 0.001,
          seed: int = 0) -> Path:
    """Train for ``epochs`` and save the model; print the test accuracy; return the file."""
    os.environ.update(QUIET_TENSORFLOW)
    import keras

    keras.utils.set_random_seed(seed)
    ResNet50 = reference_functions("C4W2A1_resnets", ["ResNet50"])["ResNet50"]
    X_train_orig, Y_train_orig, X_test_orig, Y_test_orig, _ = load_signs_dataset()
    X_train = (X_train_orig / 255.0).astype(np.float32)
    X_test = (X_test_orig / 255.0).astype(np.float32)
    Y_train = convert_to_one_hot(Y_train_orig, 6).T
    Y_test = convert_to_one_hot(Y_test_orig, 6).T

    model = ResNet50(input_shape=(64, 64, 3), classes=6)
    # Decaying the learning rate to zero lets the weights settle, so that the batch-norm moving
    # statistics used at inference match them (with a constant rate the test accuracy swings).
    steps = epochs * -(-len(X_train) // batch_size)
    schedule = keras.optimizers.schedules.CosineDecay(learning_rate, decay_steps=steps)
    model.compile(optimizer=keras.optimizers.Adam(schedule),
                  loss="categorical_crossentropy", metrics=["accuracy"])
    start = time.perf_counter()
    model.fit(X_train, Y_train, epochs=epochs, batch_size=batch_size, verbose=2)
    minutes = (time.perf_counter() - start) / 60
    train_loss, train_accuracy = model.evaluate(X_train, Y_train, verbose=0)
    loss, accuracy = model.evaluate(X_test, Y_test, verbose=0)
    target = data.course_home() / MODEL_PATH
    target.parent.mkdir(parents=True, exist_ok=True)
    model.save(target)
    print(f"trained {epochs} epochs in {minutes:.1f} min; in inference mode: train accuracy "
          f"{train_accuracy:.4f}, test loss {loss:.4f}, test accuracy {accuracy:.4f}; "
          f"saved {target}")
    return target
