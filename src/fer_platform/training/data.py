"""Which images a recipe trains and selects on: leak removal, class-balanced caps (deterministic)."""

from __future__ import annotations

import numpy as np

from fer_platform.config import TrainSettings
from fer_platform.data.dataset import FerDataset
from fer_platform.labels import NUM_CLASSES, REPORT, SELECTION, TRAIN
from fer_platform.validation.checks import train_test_duplicate_mask


def cap_per_class(dataset: FerDataset, cap: int | None, seed: int) -> FerDataset:
    """At most `cap` images per class, drawn with a fixed seed (order kept), so subsets are reproducible."""
    if cap is None:
        return dataset
    rng = np.random.default_rng(seed)
    keep = []
    for code in range(NUM_CLASSES):
        members = np.flatnonzero(dataset.labels == code)
        keep.append(np.sort(rng.permutation(members)[:cap]))
    return dataset.subset(np.sort(np.concatenate(keep)))


def recipe_splits(dataset: FerDataset, settings: TrainSettings) -> dict[str, FerDataset]:
    """{Training, PublicTest, PrivateTest} for this recipe. PrivateTest is only ever used for reporting."""
    train = dataset
    if settings.drop_train_test_duplicates:
        train = dataset.subset(~train_test_duplicate_mask(dataset))
    return {
        TRAIN: cap_per_class(train.split(TRAIN), settings.max_train_per_class, settings.seed),
        SELECTION: cap_per_class(dataset.split(SELECTION), settings.max_eval_per_class, settings.seed),
        REPORT: cap_per_class(dataset.split(REPORT), settings.max_eval_per_class, settings.seed),
    }


def class_weights(labels: np.ndarray, mode: str) -> dict[int, float] | None:
    if mode == "none":
        return None
    counts = np.bincount(labels, minlength=NUM_CLASSES).astype(float)
    weights = len(labels) / (NUM_CLASSES * np.maximum(counts, 1))
    if mode == "sqrt":
        weights = np.sqrt(weights)
    weights = weights / (weights * counts).sum() * counts.sum()  # mean weight per image stays 1
    return {c: float(w) for c, w in enumerate(weights)}
