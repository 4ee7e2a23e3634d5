"""The training-mechanics tests' recipe: params.yaml's cnn at the quick profile's small widths (the same builder
and code paths as the full recipe at a fraction of the compute), on the small real-face subset."""

from __future__ import annotations

import yaml

from fer_platform.config import Params, TrainSettings, apply_overrides, load_params
from tests.conftest import REPO


def small_cnn_raw(**overrides) -> dict:
    """params.yaml as a dict with the quick profile's graph sizes, 0 warmup, batch 16, every face, `overrides`."""
    quick = load_params(REPO / "params.yaml").profile("quick")
    sizes = {k: v for k, v in quick.items() if ".model." in k}
    return apply_overrides(yaml.safe_load((REPO / "params.yaml").read_text()), {
        **sizes, "train.common.warmup_epochs": 0, "train.common.batch_size": 16,
        "train.common.max_train_per_class": None, **overrides})


def small_cnn(epochs: int = 3, **overrides) -> TrainSettings:
    return Params.model_validate(small_cnn_raw(**{"train.common.epochs": epochs, **overrides})).train_settings("cnn")
