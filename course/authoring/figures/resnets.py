"""Diagrams of assignment 3 (ResNets): the skip connection, the two blocks, ResNet-50's stages."""

from __future__ import annotations

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
