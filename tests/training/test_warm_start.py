"""`init_from`: a recipe starts from a saved model's weights (fine-tuning a release member), or says why not."""

import numpy as np
import pytest

from fer_platform.errors import InvalidArgument
from tests.training.recipes import small_cnn


def test_a_recipe_starts_from_the_saved_weights_and_may_change_its_augmentation(tmp_path, small_dataset):
    from fer_platform.models import build_recipe_model
    from fer_platform.training.checkpoints import fingerprint
    from fer_platform.training.recipe import build_compiled

    base = small_cnn()
    saved = build_recipe_model(base)
    saved.save(tmp_path / "member.keras")
    camera = base.augment.model_copy(update={"blur": 0.3, "brightness": 0.2})  # adds a layer without weights
    warm = base.model_copy(update={"init_from": str(tmp_path / "member.keras"), "augment": camera})
    model = build_compiled(warm, steps_per_epoch=3)
    for ours, theirs in zip(model.get_weights(), saved.get_weights(), strict=True):
        assert np.array_equal(ours, theirs)
    cold = build_compiled(base.model_copy(update={"augment": camera}), steps_per_epoch=3)
    assert not all(np.array_equal(a, b) for a, b in zip(cold.get_weights(), saved.get_weights(), strict=True))
    # Another starting point is another training: its checkpoints never resume this one's.
    assert fingerprint(warm, small_dataset) != fingerprint(base.model_copy(update={"augment": camera}), small_dataset)


def test_another_graph_or_a_missing_file_is_one_clear_error(tmp_path):
    from fer_platform.models import build_recipe_model
    from fer_platform.training.recipe import build_compiled

    wider = small_cnn(**{"train.archs.cnn.model.widths": [16, 32, 128]})
    build_recipe_model(wider).save(tmp_path / "wider.keras")
    with pytest.raises(InvalidArgument, match=r"wider.keras is another graph .*first difference is tensor"):
        build_compiled(small_cnn().model_copy(update={"init_from": str(tmp_path / "wider.keras")}), 3)
    with pytest.raises(InvalidArgument, match="init_from: .*nowhere.keras not found"):
        build_compiled(small_cnn().model_copy(update={"init_from": str(tmp_path / "nowhere.keras")}), 3)


def test_a_missing_warm_start_file_stops_the_training_before_it_starts(tmp_path, small_dataset):
    from fer_platform.training.fit import train_architecture

    settings = small_cnn(epochs=1).model_copy(update={"init_from": str(tmp_path / "gone.keras")})
    with pytest.raises(InvalidArgument, match="init_from: .*gone.keras not found"):
        train_architecture("cnn", settings, small_dataset, tmp_path / "ckpt", tmp_path / "out", tracking=False)
    assert not (tmp_path / "out").exists()


def test_a_training_resolves_its_warm_start_once(tmp_path, small_dataset, monkeypatch):
    """One resolution feeds the fingerprint and the weights (a registry alias looked up twice could differ)."""
    from fer_platform.models import build_recipe_model
    from fer_platform.training import checkpoints, recipe
    from fer_platform.training.fit import train_architecture

    base = small_cnn(epochs=1)
    saved = build_recipe_model(base)
    saved.save(tmp_path / "member.keras")
    resolved = []
    real = recipe.init_from_file
    for module in (recipe, checkpoints):  # the real resolution, counted
        monkeypatch.setattr(module, "init_from_file", lambda ref: resolved.append(ref) or real(ref))
    warm = base.model_copy(update={"init_from": str(tmp_path / "member.keras")})
    train_architecture("cnn", warm, small_dataset, tmp_path / "ckpt", tmp_path / "out", tracking=False)
    assert resolved == [warm.init_from]


def test_a_registered_model_is_a_starting_point_and_an_unknown_alias_one_clear_error(tmp_path, small_dataset,
                                                                                      monkeypatch):
    """init_from: models:/NAME@ALIAS, from a real MLflow store (SQLite): the registered weights; the same checkpoint
    fingerprint on a later download (a resumed fine-tune resumes); another once the alias moves."""
    import mlflow
    from mlflow import MlflowClient

    from fer_platform.models import build_recipe_model
    from fer_platform.tracking import store
    from fer_platform.tracking.model_logging import log_keras_model
    from fer_platform.training import recipe
    from fer_platform.training.checkpoints import fingerprint
    from fer_platform.training.recipe import build_compiled

    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    monkeypatch.chdir(tmp_path)  # the store's artifacts land here
    monkeypatch.setattr(recipe, "INIT_FROM_CACHE", tmp_path / "downloads")
    base = small_cnn()
    store.configure()
    members = [build_recipe_model(base), build_recipe_model(base)]  # two different initialisations
    for member in members:
        with mlflow.start_run():
            version = mlflow.register_model(log_keras_model(member).model_uri, "warm-start-test").version
    MlflowClient().set_registered_model_alias("warm-start-test", "champion", 1)

    warm = base.model_copy(update={"init_from": "models:/warm-start-test@champion"})
    model = build_compiled(warm, steps_per_epoch=3)
    for ours, theirs in zip(model.get_weights(), members[0].get_weights(), strict=True):
        assert np.array_equal(ours, theirs)
    first = fingerprint(warm, small_dataset)
    assert fingerprint(warm, small_dataset) == first != fingerprint(base, small_dataset)
    resolved = recipe.check_init_from(warm.init_from)  # what a training resolves once, before anything else
    MlflowClient().set_registered_model_alias("warm-start-test", "champion", version)  # the alias moves
    assert fingerprint(warm, small_dataset) != first
    # ... but a training that resolved it before the move fingerprints and loads the same version 1
    assert fingerprint(warm, small_dataset, init_weights=resolved) == first
    pinned = build_compiled(warm, 3, resolved)
    assert all(np.array_equal(a, b) for a, b in zip(pinned.get_weights(), members[0].get_weights(), strict=True))
    model = build_compiled(warm, steps_per_epoch=3)
    assert all(np.array_equal(a, b) for a, b in zip(model.get_weights(), members[1].get_weights(), strict=True))
    assert len(list((tmp_path / "downloads").iterdir())) == 2  # one folder a version, nothing half-written
    with pytest.raises(InvalidArgument, match="init_from: models:/warm-start-test@nobody cannot be read"):
        build_compiled(base.model_copy(update={"init_from": "models:/warm-start-test@nobody"}), 3)
