"""Every registered architecture, with its params.yaml arguments: builds, trains a step, outputs (N, 7)
probabilities, round-trips on disk."""

import numpy as np
import pytest

import yaml

from fer_platform.config import Params, apply_overrides, load_params
from fer_platform.models import build_model, known_architectures
from fer_platform.training.recipe import as_model_input
from tests.conftest import REPO

AUGMENT = {"flip": True, "translation": 0.1, "rotation": 0.05, "zoom": 0.1}


@pytest.fixture(scope="module")
def faces(small_dataset):
    return as_model_input(small_dataset.images[:8]), small_dataset.labels[:8]


def test_unknown_architecture_lists_the_known_ones():
    with pytest.raises(KeyError, match="known: cnn, resnet32, resnet_compact, vgg13_bn, vgg19"):
        build_model("resnet1000")


def test_bad_builder_argument_is_a_clear_error():
    with pytest.raises(ValueError, match="bad model arguments \\['widht'\\]"):
        build_model("cnn", widht=3)


def recipe_model_args(name: str) -> dict:
    """The architecture's `model` arguments in params.yaml: its own arch, or the profile that adds it."""
    params = load_params(REPO / "params.yaml")
    if name in params.architectures():
        return params.train_settings(name).model
    raw = yaml.safe_load((REPO / "params.yaml").read_text())
    for profile in params.profiles:
        extended = Params.model_validate(apply_overrides(raw, params.profile(profile)))
        if name in extended.architectures():
            return extended.train_settings(name).model
    raise AssertionError(f"{name}: registered, but no params.yaml recipe uses it")


@pytest.mark.parametrize("name", known_architectures())
def test_architecture_trains_and_round_trips(name, faces, tmp_path):
    import keras

    x, y = faces
    model = build_model(name, augment=AUGMENT, **recipe_model_args(name))
    assert model.input.dtype == "uint8" and tuple(model.input.shape) == (None, 48, 48, 1)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    loss = model.train_on_batch(x, y)
    assert np.isfinite(loss)
    probs = model.predict(x, verbose=0)
    assert probs.shape == (8, 7) and not np.isnan(probs).any()
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-5)
    # augmentation is train-only: inference is deterministic
    np.testing.assert_array_equal(probs, model.predict(x, verbose=0))
    model.save(tmp_path / f"{name}.keras")
    reloaded = keras.saving.load_model(tmp_path / f"{name}.keras")
    np.testing.assert_allclose(reloaded.predict(x, verbose=0), probs, rtol=1e-6, atol=1e-6)
