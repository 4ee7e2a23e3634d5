"""Every registered architecture, with its params.yaml arguments: builds, trains a step, outputs (N, 7)
probabilities, round-trips on disk."""

import re

import numpy as np
import pytest

import yaml

from fer_platform.config import Params, apply_overrides, load_params
from fer_platform.models import build_model, known_architectures
from fer_platform.training.recipe import as_model_input, build_before_tracing
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


@pytest.mark.slow  # a training step per architecture
@pytest.mark.parametrize("name", known_architectures())
def test_architecture_trains_and_round_trips(name, faces, tmp_path):
    import keras

    x, y = faces
    model = build_model(name, augment=AUGMENT, **recipe_model_args(name))
    assert model.input.dtype == "uint8" and tuple(model.input.shape) == (None, 48, 48, 1)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    build_before_tracing(model, x[:1], y[:1])  # as the trainings do: the step is traced once
    assert model.optimizer.built
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


@pytest.mark.slow  # two training steps
@pytest.mark.parametrize("name", ["resnet32", "resnet_compact"])
def test_a_narrow_resnet_trains_on_an_odd_sized_batch(name, faces):
    """An epoch's last batch is often odd-sized. There, on an Intel AVX-512 CPU (oneDNN in TF 2.21), the backward
    pass of a strided 1x1 conv over 8 channels (the quick profile's widths) freed memory twice and killed the
    training process; the resnets subsample before their 1x1 projections instead."""
    x, y = faces
    narrow = {**recipe_model_args(name), "blocks_per_stage": [1, 1], "widths": [8, 16]}
    model = build_model(name, augment=AUGMENT, **narrow)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    assert np.isfinite(model.fit(x[:5], y[:5], batch_size=5, epochs=2, verbose=0).history["loss"]).all()


def _params_file(tmp_path, edit) -> "Path":
    raw = yaml.safe_load((REPO / "params.yaml").read_text())
    edit(raw["train"])
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(raw, sort_keys=False))
    return tmp_path / "params.yaml"


def test_a_typo_in_the_train_section_is_an_error_with_its_line(tmp_path):
    """#23.3: `train.comon:` was silently ignored (the real common settings applied)."""
    from fer_platform.config import ConfigError

    path = _params_file(tmp_path, lambda train: train.update(comon={"epochs": 1}))
    with pytest.raises(ConfigError, match=r"params.yaml:\d+: train.comon: unknown key"):
        load_params(path)


def test_an_unknown_architecture_or_builder_argument_is_one_line_per_mistake_before_keras(tmp_path):
    """#23.3: these failed late, as a KeyError/ValueError inside the train task (retried twice)."""
    import subprocess
    import sys

    from fer_platform.config import ConfigError
    from fer_platform.models.architectures import check_recipes

    def edit(train):
        train["archs"]["cnn"]["model"]["widht"] = [8, 16, 32]
        del train["archs"]["vgg19"]["model"]["dense_units"]
        train["archs"]["resnet32"]["architecture"] = "resnet1000"

    path = _params_file(tmp_path, edit)
    with pytest.raises(ConfigError) as err:
        check_recipes(load_params(path), path)
    lines = str(err.value).splitlines()
    assert len(lines) == 3, lines
    assert any(re.search(r"params.yaml:\d+: train.archs.cnn.model.widht: not an argument of the cnn builder", x)
               for x in lines), lines
    assert any("train.archs.vgg19.model.dense_units: required by the vgg19 builder" in x for x in lines), lines
    assert any("train.archs.resnet32.architecture: unknown architecture 'resnet1000'" in x for x in lines), lines
    check = ("import sys\nfrom fer_platform.config import ConfigError, load_params\n"
             "from fer_platform.models.architectures import check_recipes\n"
             f"try:\n    check_recipes(load_params({str(path)!r}), {str(path)!r})\n"
             "except ConfigError:\n    print('keras' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"  # the check reads the builders' signatures without importing Keras


def test_the_train_stage_and_the_hosted_trainer_check_the_recipes_before_anything_runs(tmp_path, capsys):
    """#23.3: a builder argument that does not exist is one line and exit 1 at the train stage's entry and at the
    GPU host's `train` (which failed late, on the host, before), before any Prefect server or training starts."""
    from flows.train import main as train_stage
    from fer_platform.hosted.cli import main as hosted

    path = _params_file(tmp_path, lambda train: train["archs"]["cnn"]["model"].update(widht=[8, 16, 32]))
    assert train_stage(["--params", str(path), "--arch", "cnn"]) == 1
    assert hosted(["train", "--params", str(path), "--arch", "cnn", "--images-pack", str(tmp_path / "pack"),
                   "--out", str(tmp_path / "out")]) == 1
    lines = [x for x in capsys.readouterr().err.splitlines() if x.strip()]
    assert len(lines) == 2 and all("train.archs.cnn.model.widht: not an argument of the cnn builder" in x
                                   for x in lines), lines


def test_every_recipe_in_params_yaml_passes_the_check():
    from fer_platform.models.architectures import recipe_problems

    assert recipe_problems(load_params(REPO / "params.yaml")) == []
