"""Knowledge distillation (`train.archs.<name>.distill`): train a student on targets that mix the one-hot label
with a teacher's probabilities, e.g. an ensemble's (Hinton et al. 2015, with the teacher's probabilities
computed once on the un-augmented training faces).

The teacher is a saved Keras model (`.keras`; an ensemble graph works), or its probabilities saved by
`write_soft_labels` (`.npz`, a megabyte for FER2013): a GPU host can hand those back when the teachers
themselves are too large to, and a student then trains on the same targets anywhere.

The point is the serving budget: an ensemble of two ResNets is the most accurate model here, but costs two
backbones per face; a student trained on its soft labels keeps part of the gain at one model's cost.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

from fer_platform.config import TrainSettings
from fer_platform.data.dataset import DataError
from fer_platform.io import write_with


def check_teacher(settings: TrainSettings) -> None:
    if settings.distill and not Path(settings.distill.teacher).is_file():
        raise FileNotFoundError(f"{settings.distill.teacher}: distill.teacher not found (a saved .keras model or "
                                "the .npz of its probabilities)")


def soft_targets(settings: TrainSettings, images: np.ndarray, hard: np.ndarray) -> np.ndarray:
    """(1 - weight) * one-hot + weight * teacher probabilities (sharpened or softened by the temperature)."""
    distill = settings.distill
    if distill.teacher.endswith(".npz"):
        probs = _lookup_soft_labels(Path(distill.teacher), images)
    else:
        from fer_platform.models import load_model
        from fer_platform.models.inference import predict_probabilities

        probs = predict_probabilities(load_model(distill.teacher, compile=False), images).astype("float64")
    if distill.temperature != 1.0:
        probs = probs ** (1.0 / distill.temperature)
        probs /= probs.sum(axis=1, keepdims=True)
    return ((1.0 - distill.weight) * hard + distill.weight * probs).astype("float32")


def image_keys(images: np.ndarray) -> np.ndarray:
    """A content key per face (identical faces share one, and then their teacher probabilities too)."""
    return np.array([hashlib.sha1(face.tobytes()).hexdigest() for face in images])


def write_soft_labels(teacher, images: np.ndarray, path: Path) -> Path:
    """The teacher's probabilities on `images` (e.g. every training face), keyed by face content."""
    from fer_platform.models.inference import predict_probabilities

    probabilities = predict_probabilities(teacher, images)

    def save(tmp: Path) -> None:
        with open(tmp, "wb") as fh:
            np.savez_compressed(fh, keys=image_keys(images), probabilities=probabilities)

    write_with(path, save)  # whole or not at all: a student must never train on half a teacher
    return path


def _lookup_soft_labels(path: Path, images: np.ndarray) -> np.ndarray:
    with np.load(path) as saved:
        table = dict(zip(saved["keys"], saved["probabilities"].astype("float64"), strict=True))
    keys = image_keys(images)
    missing = int(sum(k not in table for k in keys))
    if missing:
        raise DataError(f"{path}: no teacher probabilities for {missing} of {len(keys)} training faces "
                        "(written for another dataset or subset?)")
    return np.stack([table[k] for k in keys])
