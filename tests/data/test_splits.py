"""Which images a recipe trains, selects and reports on: leaks dropped, caps per class, all deterministic."""

import numpy as np

from fer_platform.config import load_params
from fer_platform.data.dataset import FerDataset
from fer_platform.data.splits import cap_per_class, recipe_splits, train_test_duplicate_mask
from fer_platform.labels import REPORT, SELECTION, SPLIT_TO_CODE, TRAIN
from tests.conftest import REPO


def _settings(**update):
    return load_params(REPO / "params.yaml").train_settings("cnn").model_copy(update=update)


def _with_leak(dataset: FerDataset) -> tuple[FerDataset, int]:
    """The dataset with its first Training image replaced by a copy of a PrivateTest image."""
    images = dataset.images.copy()
    train_index = int(np.flatnonzero(dataset.splits == SPLIT_TO_CODE[TRAIN])[0])
    test_index = int(np.flatnonzero(dataset.splits == SPLIT_TO_CODE[REPORT])[0])
    images[train_index] = images[test_index]
    return FerDataset(images, dataset.labels, dataset.splits, dataset.source_ids), train_index


def test_a_training_image_equal_to_a_test_image_is_a_leak_and_dropped(small_dataset):
    leaky, index = _with_leak(small_dataset)
    mask = train_test_duplicate_mask(leaky)
    assert mask[index] and mask.sum() >= 1 and not mask[leaky.splits != SPLIT_TO_CODE[TRAIN]].any()
    kept = recipe_splits(leaky, _settings(drop_train_test_duplicates=True))[TRAIN]
    assert leaky.source_ids[index] not in set(kept.source_ids)
    everything = recipe_splits(leaky, _settings(drop_train_test_duplicates=False))[TRAIN]
    assert len(everything) == len(kept) + int(mask.sum())


def test_caps_are_per_class_and_reproducible(small_dataset):
    capped = cap_per_class(small_dataset.split(SELECTION), 2, seed=1)
    assert np.bincount(capped.labels, minlength=7).tolist() == [2] * 7
    again = cap_per_class(small_dataset.split(SELECTION), 2, seed=1)
    np.testing.assert_array_equal(capped.source_ids, again.source_ids)
    assert cap_per_class(small_dataset, None, seed=1) is small_dataset


def test_private_test_is_only_ever_capped_never_mixed_in(small_dataset):
    splits = recipe_splits(small_dataset, _settings(max_eval_per_class=3, max_train_per_class=4))
    assert {name: len(ds) for name, ds in splits.items()} == {TRAIN: 28, SELECTION: 21, REPORT: 21}
    assert set(np.unique(splits[REPORT].splits)) == {SPLIT_TO_CODE[REPORT]}
    assert set(np.unique(splits[SELECTION].splits)) == {SPLIT_TO_CODE[SELECTION]}
