"""Figures of assignment 3 (ResNets): the skip connection, the two blocks, ResNet-50's stages,
and vanishing gradients measured in a plain and a residual network trained briefly on SIGNS."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import matplotlib.pyplot as plt
import numpy as np

from course.authoring.figures.common import (
    DATA_COLOUR,
    NOTE_COLOUR,
    OUT_COLOUR,
    SHORTCUT_COLOUR,
    WINDOW_COLOUR,
    arrow,
    box,
    chain,
    diagram_axes,
    tr,
)

FOLDER = "resnets"  # images/<FOLDER>/: the notebook these figures belong to

CONV, BN, RELU = "#c6dbef", "#dadaeb", "#c7e9c0"
# (stage, convolutional block filters, identity blocks, output for a 64x64x3 input)
STAGES = [(2, "64, 64, 256", 2, "15x15x256"), (3, "128, 128, 512", 3, "8x8x512"),
          (4, "256, 256, 1024", 5, "4x4x1024"), (5, "512, 512, 2048", 2, "2x2x2048")]


def skip_connection():
    """A plain pair of layers and the same pair as a residual block (He et al., 2016)."""
    fig, ax = diagram_axes(11, 4.0, (-1, 15), (-2.2, 3.0))
    labels = ["a[l]", tr("linear\nz[l+1]"), "ReLU\na[l+1]", tr("linear\nz[l+2]"), "ReLU\na[l+2]"]
    ax.text(-0.9, 2.4, tr("plain:"), fontsize=9, va="center")
    chain(ax, labels, y=2.4, spacing=3.0, x0=1.5, colours=[DATA_COLOUR, CONV, RELU, CONV, RELU])
    ax.text(-0.9, -0.8, tr("residual:"), fontsize=9, va="center")
    centres = chain(ax, labels, y=-0.8, spacing=3.0, x0=1.5,
                    colours=[DATA_COLOUR, CONV, RELU, CONV, OUT_COLOUR])
    arrow(ax, (centres[0][0], -0.4), (centres[4][0] - 0.5, -0.4), SHORTCUT_COLOUR,
          connection="arc3,rad=-0.25")
    ax.text(7.5, 1.2, tr("shortcut (skip connection): a[l] is added before the last ReLU"),
            color=SHORTCUT_COLOUR, ha="center", fontsize=8.5)
    ax.text(7.5, -1.9, tr("a[l+2] = g(z[l+2] + a[l]):  with W[l+2] = 0, b[l+2] = 0 the block "
                          "outputs g(a[l]) = a[l], the identity"), ha="center", fontsize=9)
    return fig


def _block(title: str, first_conv: str, shortcut: list[str]):
    """A bottleneck block: ``first_conv`` labels the main path's first convolution, and
    ``shortcut`` the shortcut's convolution and batch norm (none: the identity)."""
    fig, ax = diagram_axes(12.5, 3.2, (-1, 24), (-2.4, 2.4))
    main = ["X", first_conv, "BatchNorm\n+ ReLU", tr("CONV2D fxf\nF2, same"),
            "BatchNorm\n+ ReLU", tr("CONV2D 1x1\nF3 filters"), "BatchNorm", "+", "ReLU"]
    colours = [DATA_COLOUR, CONV, RELU, CONV, RELU, CONV, BN, OUT_COLOUR, RELU]
    centres = chain(ax, main, y=0.9, spacing=2.75, x0=0.0, colours=colours, width=1.9,
                    height=1.25, fontsize=8)
    if shortcut:
        mid = (centres[0][0] + centres[7][0]) / 2
        box(ax, (mid - 2.2, -1.2), shortcut[0], CONV, width=2.4, height=1.25)
        box(ax, (mid + 1.2, -1.2), shortcut[1], BN, width=1.9)
        arrow(ax, (centres[0][0], 0.5), (mid - 3.4, -1.2), SHORTCUT_COLOUR,
              connection="angle,angleA=-90,angleB=180")
        arrow(ax, (mid - 1.0, -1.2), (mid + 0.25, -1.2), SHORTCUT_COLOUR)
        arrow(ax, (mid + 2.15, -1.2), (centres[7][0], 0.5), SHORTCUT_COLOUR,
              connection="angle,angleA=0,angleB=-90")
    else:
        ax.plot([centres[0][0]] * 2 + [centres[7][0]], [0.25, -1.0, -1.0], color=SHORTCUT_COLOUR,
                lw=1.2)
        arrow(ax, (centres[7][0], -1.0), (centres[7][0], 0.25), SHORTCUT_COLOUR)
        ax.text(centres[4][0], -1.5, tr("shortcut: X unchanged"), color=SHORTCUT_COLOUR,
                ha="center", fontsize=8.5)
    ax.text(11, 2.0, title, ha="center", fontsize=10)
    return fig


def identity_block():
    return _block(tr("identity block: input and output have the same shape"),
                  tr("CONV2D 1x1\nF1 filters"), [])


def convolutional_block():
    return _block(tr("convolutional block: the shortcut's 1x1 convolution (stride s) matches "
                     "the shapes"), tr("CONV2D 1x1\nF1 filters\nstride s"),
                  [tr("CONV2D 1x1\nF3 filters\nstride s"), "BatchNorm"])


def resnet50_stages():
    """ResNet-50 for a 64x64x3 input, stage by stage, as in the assignment's table."""
    fig, ax = diagram_axes(13, 3.0, (-1, 27), (-2.0, 1.9))
    labels = [tr("input\n64x64x3"), tr("zero pad 3\nCONV 7x7 /2\nBN, ReLU\nMAXPOOL 3x3 /2")]
    colours = [DATA_COLOUR, CONV]
    for stage, _filters, identities, shape in STAGES:
        labels.append(tr("stage {stage}\nCONV block\n+ {identities} ID blocks\n{shape}").format(
            stage=stage, identities=identities, shape=shape))
        colours.append(WINDOW_COLOUR if stage % 2 else OUT_COLOUR)
    labels += [tr("AVGPOOL 2x2\nFLATTEN"), tr("DENSE 6\nsoftmax")]
    colours += [NOTE_COLOUR, RELU]
    chain(ax, labels, y=0.0, spacing=3.2, x0=0.6, colours=colours, width=2.5, height=1.9,
          fontsize=7.5)
    ax.text(13, -1.6, tr("1 + 3 x (3 + 4 + 6 + 3) + 1 = 50 layers with weights "
                         "(convolutions and the dense layer); stage 1's output is 15x15x64"),
            ha="center", fontsize=8.5)
    return fig


# The gradient measurement: two networks with the same layers and the same initial weights
# (Keras's default initialisation, no batch normalisation), one plain and one with a shortcut
# around every pair of convolutions, trained with the same mini-batches.
DEPTH = 20  # 3x3 convolutions between the stem and the classifier (10 residual blocks)
WIDTH = 16  # channels of every convolution
STEPS = 300  # Adam steps of 32 SIGNS pictures: about 9 epochs of the 1080 training pictures
BATCH = 32
LEARNING_RATE = 3e-4
SEED = 0  # initial weights and mini-batches
LAST_STEPS = 10  # "after training": the mean over the last steps


@dataclass(frozen=True)
class GradientRun:
    """What one network's training measured, step by step (rows) and layer by layer (columns,
    the stem's convolution first): the root mean square of the gradient of the loss with
    respect to each convolution layer's output (after its ReLU), the norm of the gradient with
    respect to each convolution's kernel, the loss of each mini-batch, and the accuracies
    after training."""

    residual: bool
    output_gradients: np.ndarray  # (steps, DEPTH + 1)
    kernel_gradients: np.ndarray  # (steps, DEPTH + 1)
    losses: np.ndarray  # (steps,)
    train_accuracy: float
    test_accuracy: float


def gradient_network(residual: bool, depth: int = DEPTH, seed: int = SEED):
    """A SIGNS classifier of ``depth`` + 1 convolutions and a softmax layer whose outputs are
    the class probabilities followed by every convolution layer's output: a 5x5 convolution
    with stride 2 and 2x2 max pooling (16x16x16), then ``depth`` 3x3 convolutions with ReLU,
    with (``residual``) or without a shortcut around each pair: a = ReLU(z + a_before)."""
    import keras

    layers = keras.layers
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((64, 64, 3))
    x = layers.Conv2D(WIDTH, 5, strides=2, padding="same", activation="relu", name="conv_0")(inputs)
    outputs = [x]
    x = layers.MaxPooling2D(2)(x)
    for block in range(depth // 2):
        y = layers.Conv2D(WIDTH, 3, padding="same", activation="relu",
                          name=f"conv_{2 * block + 1}")(x)
        outputs.append(y)
        y = layers.Conv2D(WIDTH, 3, padding="same", name=f"conv_{2 * block + 2}")(y)
        x = layers.Activation("relu")(layers.Add()([x, y]) if residual else y)
        outputs.append(x)
    probabilities = layers.Dense(6, activation="softmax", name="dense")(layers.Flatten()(x))
    return keras.Model(inputs, [probabilities] + outputs,
                       name="residual" if residual else "plain")


@lru_cache(maxsize=1)
def _signs() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """SIGNS as the notebook prepares it (``utils.signs``): X_train, Y_train, X_test, Y_test."""
    from utils.signs import load_signs_dataset, prepare

    X_train_orig, Y_train_orig, X_test_orig, Y_test_orig, _ = load_signs_dataset(verbose=False)
    return (*prepare(X_train_orig, Y_train_orig), *prepare(X_test_orig, Y_test_orig))


def measure_gradients(residual: bool, steps: int = STEPS, depth: int = DEPTH,
                      seed: int = SEED) -> GradientRun:
    """Train ``gradient_network(residual, depth, seed)`` for ``steps`` Adam steps on SIGNS
    (``utils.signs.load_signs_dataset``) and record its gradients (``GradientRun``)."""
    import keras
    import tensorflow as tf

    X_train, Y_train, X_test, Y_test = _signs()
    model = gradient_network(residual, depth, seed)
    kernels = [layer.kernel for layer in model.layers
               if isinstance(layer, keras.layers.Conv2D)]
    optimizer = keras.optimizers.Adam(LEARNING_RATE)
    cross_entropy = keras.losses.CategoricalCrossentropy()

    @tf.function
    def step(x, y):
        with tf.GradientTape() as tape:
            probabilities, *activations = model(x, training=True)
            loss = cross_entropy(y, probabilities)
        gradients, to_outputs = tape.gradient(loss, [model.trainable_variables, activations])
        optimizer.apply_gradients(zip(gradients, model.trainable_variables))
        by_variable = {id(v): g for v, g in zip(model.trainable_variables, gradients)}
        return (loss, tf.stack([tf.sqrt(tf.reduce_mean(tf.square(g))) for g in to_outputs]),
                tf.stack([tf.norm(by_variable[id(k)]) for k in kernels]))

    rng = np.random.default_rng(seed)
    records = []
    for _ in range(steps):
        batch = rng.choice(len(X_train), BATCH, replace=False)
        records.append([np.asarray(t) for t in step(X_train[batch], Y_train[batch])])
    losses, to_outputs, to_kernels = (np.stack(column) for column in zip(*records))

    def accuracy(X, Y):
        probabilities = model.predict(X, batch_size=120, verbose=0)[0]
        return float(np.mean(probabilities.argmax(1) == Y.argmax(1)))

    return GradientRun(residual, to_outputs, to_kernels, losses, accuracy(X_train, Y_train),
                       accuracy(X_test, Y_test))


def vanishing_gradients():
    """The gradient that reaches each layer of a plain and a residual network, at the first step
    and after training; the first layer's gradient step by step; the training loss."""
    runs = [measure_gradients(residual) for residual in (False, True)]
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.8), gridspec_kw={"wspace": 0.4})
    colours = {False: "#d62728", True: "#1f77b4"}
    names = {False: tr("plain"), True: tr("residual")}
    layers = np.arange(1, DEPTH + 2)
    for run in runs:
        colour, name = colours[run.residual], names[run.residual]
        axes[0].semilogy(layers, run.output_gradients[0], "--", color=colour,
                         label=tr("{name}, step 1").format(name=name))
        axes[0].semilogy(layers, run.output_gradients[-LAST_STEPS:].mean(0), "-", color=colour,
                         label=tr("{name}, steps {first}-{last}").format(
                             name=name, first=STEPS - LAST_STEPS + 1, last=STEPS))
        axes[1].semilogy(np.arange(1, STEPS + 1), run.kernel_gradients[:, 0], color=colour,
                         lw=0.8, label=name)
        smooth = np.convolve(run.losses, np.ones(LAST_STEPS) / LAST_STEPS, mode="valid")
        axes[2].plot(np.arange(LAST_STEPS, STEPS + 1), smooth, color=colour,
                     label=tr("{name}: test accuracy {accuracy:.2f}").format(
                         name=name, accuracy=run.test_accuracy))
    axes[0].set_xlabel(tr("layer (1 = nearest the input)"))
    axes[0].set_ylabel(tr("gradient of the loss w.r.t.\nthe layer's output (RMS)"))
    axes[0].set_title(tr("the gradient that reaches each layer"), fontsize=10)
    axes[1].set_xlabel(tr("training step"))
    axes[1].set_ylabel(tr("norm of the gradient of\nthe first layer's kernel"))
    axes[1].set_title(tr("how fast the first layer learns"), fontsize=10)
    axes[2].set_xlabel(tr("training step"))
    axes[2].set_ylabel(tr("training loss (mean of 10 steps)"))
    axes[2].axhline(np.log(6), color="grey", lw=0.6, ls=":")
    axes[2].set_title(tr("training ({depth} + 1 convolutions, Adam)").format(depth=DEPTH),
                      fontsize=10)
    for ax in axes:
        ax.legend(fontsize=7.5)
    return fig
