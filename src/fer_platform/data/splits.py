"""Which images a recipe trains, selects and reports on: leak removal and class-balanced caps (deterministic).

Training, evaluation and promotion all take their images from `recipe_splits`, so they can never disagree on
which faces a number was measured on.
"""

from __future__ import annotations

import numpy as np

from fer_platform.config import TrainSettings
from fer_platform.data.dataset import FerDataset
from fer_platform.labels import NUM_CLASSES, REPORT, SELECTION, SPLIT_TO_CODE, TRAIN


def train_test_duplicate_mask(dataset: FerDataset, digests: np.ndarray | None = None) -> np.ndarray:
    """True for Training images whose pixels equal a PublicTest/PrivateTest image (a train/test leak)."""
    digests = dataset.image_digests() if digests is None else digests
    is_train = dataset.splits == SPLIT_TO_CODE[TRAIN]
    test_digests = set(digests[~is_train].tolist())
    return is_train & np.isin(digests, list(test_digests))


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
