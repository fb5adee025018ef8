"""Figures of assignment 5 (face recognition): the residents' pictures, a Siamese network, a
triplet of real pictures with their FaceNet distances, verification with a logistic unit on the
encodings' differences (evaluated on people it never saw), and how often a stranger is let in
as the number of residents grows."""

from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations

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
from utils.facenet import load_facenet, standardise
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


# The camera shots whose person the course's data says (the others are not labelled).
KNOWN_CAMERA_SHOTS = {"camera_0": "younes", "camera_2": "benoit"}
VIEWS = 8  # views made of each labelled picture, besides the picture itself
VIEW_SEED = 0
L2_PENALTY = 1e-3  # of the logistic unit's weights
DOOR_THRESHOLD = 0.65  # the notebook's THRESHOLD
STRANGER_THRESHOLDS = (0.65, 0.8, 0.9, 1.0)


def _view(picture: Image.Image, rng: np.random.Generator) -> Image.Image:
    """Another view of a face picture: mirrored half of the time, turned by up to 10 degrees,
    cropped to 80-95 % of its side, lighter or darker and with more or less contrast (up to
    30 %)."""
    from PIL import ImageEnhance

    if rng.random() < 0.5:
        picture = picture.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    picture = picture.rotate(rng.uniform(-10, 10), resample=Image.BILINEAR)
    width, height = picture.size
    scale = rng.uniform(0.8, 0.95)
    crop_w, crop_h = int(width * scale), int(height * scale)
    left, top = rng.integers(0, width - crop_w + 1), rng.integers(0, height - crop_h + 1)
    picture = picture.crop((left, top, left + crop_w, top + crop_h))
    picture = ImageEnhance.Brightness(picture).enhance(rng.uniform(0.7, 1.3))
    return ImageEnhance.Contrast(picture).enhance(rng.uniform(0.7, 1.3))


def _encode(pictures: list[Image.Image], model) -> np.ndarray:
    """L2-normalised encodings of RGB pictures, as ``utils.faces.img_to_encoding`` computes
    them from files (bilinear resizing to the input, per-image standardisation)."""
    height, width = model.input_shape[1:3]
    pixels = np.stack([np.asarray(p.resize((width, height), Image.BILINEAR), np.float32)
                       for p in pictures])
    codes = np.asarray(model.predict(standardise(pixels), batch_size=32, verbose=0))
    return codes / np.maximum(np.linalg.norm(codes, axis=1, keepdims=True), 1e-12)


@dataclass(frozen=True)
class LabelledPictures:
    """Encodings of the labelled pictures (the 12 residents and KNOWN_CAMERA_SHOTS) and of
    VIEWS views of each, in this order: a picture, then its views."""

    encodings: np.ndarray  # (pictures x (1 + VIEWS), 128)
    people: np.ndarray  # the person of each row
    pictures: np.ndarray  # the file name (stem) each row comes from
    original: np.ndarray  # True for the pictures themselves, False for their views


def labelled_pictures(views: int = VIEWS) -> LabelledPictures:
    residents, cameras = course_faces()
    paths = {**residents, **{shot: cameras[shot] for shot in KNOWN_CAMERA_SHOTS}}
    person = {**{name: name for name in residents}, **KNOWN_CAMERA_SHOTS}
    rng = np.random.default_rng(VIEW_SEED)
    images, rows = [], []
    for name, path in paths.items():
        with Image.open(path) as picture:
            picture = picture.convert("RGB")
        images += [picture] + [_view(picture, rng) for _ in range(views)]
        rows += [(person[name], name, k == 0) for k in range(views + 1)]
    people, pictures, original = (np.array(column) for column in zip(*rows))
    return LabelledPictures(_encode(images, load_facenet()), people, pictures, original)


def fit_logistic_unit(features: np.ndarray, same: np.ndarray) -> tuple[np.ndarray, float]:
    """Weights and bias of y = sigmoid(w . features + b) that minimise the cross-entropy on
    the pairs (genuine and impostor pairs weighing half each) plus L2_PENALTY / 2 * |w|^2."""
    from scipy.optimize import minimize
    from scipy.special import expit

    weight = np.where(same, 0.5 / same.mean(), 0.5 / (1 - same.mean())) / len(same)

    def loss(theta):
        z = features @ theta[:-1] + theta[-1]
        error = weight * (expit(z) - same)
        value = np.sum(weight * (np.logaddexp(0, z) - same * z))
        return (value + L2_PENALTY * theta[:-1] @ theta[:-1] / 2,
                np.append(features.T @ error + L2_PENALTY * theta[:-1], error.sum()))

    theta = minimize(loss, np.zeros(features.shape[1] + 1), jac=True, method="L-BFGS-B").x
    return theta[:-1], float(theta[-1])


@dataclass(frozen=True)
class HeldOutPairs:
    """The pairs of pictures that involve a person held out, scored by the logistic unit fitted
    on the pairs of the other people (one fold per person: a pair of two held-out people is
    scored in both of their folds): is it the same person, the unit's probability (on |f(x_i) -
    f(x_j)|, 128 weights), the probability of a unit on the distance alone (1 weight: a learned
    threshold), the distance, and whether both are the pictures themselves (not views)."""

    same: np.ndarray
    unit: np.ndarray
    distance_unit: np.ndarray
    distance: np.ndarray
    photographs: np.ndarray
    first: np.ndarray  # the file names of the pair's pictures
    second: np.ndarray


def leave_one_person_out(found: LabelledPictures) -> HeldOutPairs:
    from scipy.special import expit

    i, j = np.triu_indices(len(found.people), 1)
    differences = np.abs(found.encodings[i] - found.encodings[j])
    distance = np.linalg.norm(found.encodings[i] - found.encodings[j], axis=1)
    same = (found.people[i] == found.people[j]).astype(float)
    folds = []
    for person in sorted(set(found.people)):
        held = (found.people[i] == person) | (found.people[j] == person)
        w, b = fit_logistic_unit(differences[~held], same[~held])
        w_d, b_d = fit_logistic_unit(distance[~held, None], same[~held])
        folds.append((same[held], expit(differences[held] @ w + b),
                      expit(distance[held] * w_d[0] + b_d), distance[held],
                      found.original[i][held] & found.original[j][held],
                      found.pictures[i][held], found.pictures[j][held]))
    return HeldOutPairs(*(np.concatenate(column) for column in zip(*folds)))


def rates(same: np.ndarray, accepted: np.ndarray) -> tuple[float, float]:
    """(fraction of genuine pairs accepted, fraction of impostor pairs rejected)."""
    same = same.astype(bool)
    return float(accepted[same].mean()), float(1 - accepted[~same].mean())


def logistic_verification():
    """The logistic unit's probabilities on held-out pairs, and how many genuine pairs it
    accepts and impostor pairs it rejects, against a threshold on the distance."""
    pairs = leave_one_person_out(labelled_pictures())
    genuine, impostor = pairs.same == 1, pairs.same == 0
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 3.6), gridspec_kw={"wspace": 0.3})
    bins = np.linspace(0, 1, 41)
    left.hist(pairs.unit[impostor], bins, density=True, histtype="step", color="#d62728",
              label=tr("different people: {n} scorings (each pair in 2 folds)").format(
                  n=impostor.sum()))
    left.hist(pairs.unit[genuine], bins, density=True, histtype="step", color="#1f77b4",
              label=tr("same person: {n} pairs").format(n=genuine.sum()))
    left.axvline(0.5, color="grey", lw=0.8, ls=":")
    left.set_yscale("log")
    left.set_ylim(top=30 * left.get_ylim()[1])  # room for the legend above the bars
    left.set_xlabel(tr("the unit's output y-hat (same person if > 0.5)"))
    left.set_ylabel(tr("density (log scale)"))
    left.set_title(tr("pairs of people the unit never saw"), fontsize=10)
    left.legend(fontsize=8, loc="upper center")
    rules = {tr("logistic unit\non |f(x_i) - f(x_j)|"): pairs.unit > 0.5,
             tr("learned threshold\non the distance"): pairs.distance_unit > 0.5,
             tr("distance < {t}\n(the notebook's)").format(t=DOOR_THRESHOLD):
                 pairs.distance < DOOR_THRESHOLD}
    x = np.arange(len(rules))
    for offset, k, colour, label in ((-0.2, 0, "#1f77b4", tr("same person accepted")),
                                     (0.2, 1, "#d62728", tr("different people rejected"))):
        values = [100 * rates(pairs.same, accepted)[k] for accepted in rules.values()]
        bars = right.bar(x + offset, values, 0.38, color=colour, label=label)
        for bar, value in zip(bars, values):
            right.text(bar.get_x() + bar.get_width() / 2, value + 1, f"{value:.1f}",
                       ha="center", fontsize=8)
    right.set_xticks(x, list(rules), fontsize=8)
    right.set_ylim(0, 125)
    right.set_ylabel(tr("% of the held-out pairs"))
    right.legend(fontsize=8, loc="upper center", ncol=2)
    return fig


@dataclass(frozen=True)
class StrangerAcceptance:
    """For each threshold, the fraction of (stranger, database) cases where the door opens,
    for databases of K = 1 .. 11 residents (every database of K residents that leaves the
    stranger out, for every labelled picture as the stranger), and the fraction of single
    (picture, other resident) pairs closer than the threshold."""

    sizes: np.ndarray  # K
    opened: dict[float, np.ndarray]  # threshold -> fraction per K
    per_pair: dict[float, float]
    pairs: int  # the number of (picture, other resident) pairs


def stranger_acceptance(found: LabelledPictures) -> StrangerAcceptance:
    photos = found.original
    residents = [p for p in np.unique(found.pictures[photos]) if p not in KNOWN_CAMERA_SHOTS]
    stored = {name: found.encodings[photos & (found.pictures == name)][0] for name in residents}
    distances = []  # per labelled picture: its distances to the residents other than itself
    for code, person in zip(found.encodings[photos], found.people[photos]):
        distances.append([float(np.linalg.norm(code - stored[r])) for r in residents
                          if r != person])
    others = len(residents) - 1
    sizes = np.arange(1, others + 1)
    opened, per_pair = {}, {}
    for threshold in STRANGER_THRESHOLDS:
        close = [np.array(d) < threshold for d in distances]
        per_pair[threshold] = float(np.mean(np.concatenate(close)))
        opened[threshold] = np.array([np.mean([
            any(c[list(subset)]) for c in close for subset in combinations(range(others), k)])
            for k in sizes])
    return StrangerAcceptance(sizes, opened, per_pair, sum(len(d) for d in distances))


def recognition_errors():
    """How often a door that recognises its K residents lets a stranger in, measured for K = 1
    to 11, against 1 - (1 - p)^K for the fraction p of single pairs accepted."""
    found = stranger_acceptance(labelled_pictures(views=0))
    fig, ax = plt.subplots(figsize=(7, 3.8))
    for threshold, colour in zip(STRANGER_THRESHOLDS, ("#999999", "#2ca02c", "#ff7f0e",
                                                       "#d62728")):
        p = found.per_pair[threshold]
        ax.plot(found.sizes, 100 * found.opened[threshold], "o-", color=colour, ms=4,
                label=tr("threshold {t}: single pairs accepted {p:.1f} %").format(
                    t=threshold, p=100 * p))
        ax.plot(found.sizes, 100 * (1 - (1 - p) ** found.sizes), ":", color=colour)
    ax.set_xlabel(tr("K, the number of residents in the database"))
    ax.set_ylabel(tr("% of strangers let in"))
    ax.set_xticks(found.sizes)
    ax.set_title(tr("dots: measured on every database of K residents; dotted: 1 - (1 - p)^K"),
                 fontsize=9)
    ax.legend(fontsize=8, loc="upper left")
    return fig
