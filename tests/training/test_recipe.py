"""Recipe options: SGD with Nesterov momentum, step and reduce-on-plateau schedules (real Keras, real faces)."""

import json

import pytest
import yaml

from fer_platform.config import ConfigError, Params, apply_overrides
from fer_platform.training.recipe import make_optimizer, schedule_callbacks
from tests.conftest import REPO
from tests.training.recipes import small_cnn


def _settings(**overrides):
    return small_cnn(**overrides)


def test_sgd_nesterov_and_a_step_schedule():
    import keras

    settings = _settings(**{"train.common.optimizer": "sgd", "train.common.learning_rate": 0.01,
                            "train.common.schedule": "step", "train.common.step_epochs": 2,
                            "train.common.step_factor": 0.5})
    optimizer = make_optimizer(settings, steps_per_epoch=10)
    assert isinstance(optimizer, keras.optimizers.SGD) and optimizer.nesterov and optimizer.momentum == 0.9
    schedule = optimizer._learning_rate
    assert [round(float(schedule(step)), 6) for step in (0, 19, 20, 39, 40)] == [0.01, 0.01, 0.005, 0.005, 0.0025]
    assert schedule_callbacks(settings) == []


def test_warmup_is_only_for_cosine_and_says_so(tmp_path):
    from fer_platform.config import load_params

    raw = apply_overrides(yaml.safe_load((REPO / "params.yaml").read_text()),
                          {"train.common.schedule": "plateau"})  # params.yaml's warmup_epochs: 2 stays
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(raw))
    with pytest.raises(ConfigError, match="warmup_epochs works with schedule: cosine only, not plateau"):
        load_params(tmp_path / "params.yaml").train_settings("cnn")


def test_a_recipe_model_has_every_training_variable_before_its_first_step():
    """build_before_tracing: the optimizer's slots and the metrics' totals exist before fit traces a step (else
    tf.function traces the first step twice), and building them changes no weight."""
    import numpy as np

    from fer_platform.training.recipe import as_model_input, build_before_tracing, build_compiled, one_hot

    model = build_compiled(_settings(), steps_per_epoch=2)
    weights = model.get_weights()
    assert not model.optimizer.built and not all(metric.variables for metric in model.metrics)
    build_before_tracing(model, as_model_input(np.zeros((1, 48, 48), np.uint8)), one_hot(np.array([3])))
    assert model.optimizer.built and len(model.optimizer.variables) > len(model.trainable_variables)
    assert all(metric.variables for metric in model.metrics)  # the loss's mean and the accuracy's totals
    for before, after in zip(weights, model.get_weights(), strict=True):
        np.testing.assert_array_equal(before, after)


@pytest.mark.slow  # trains
def test_reduce_on_plateau_lowers_the_rate_when_publictest_stops_improving(tmp_path, small_dataset):
    from fer_platform.training.fit import train_architecture

    # A rate too small to learn anything: PublicTest accuracy soon stops improving (BatchNorm statistics still
    # move it a little), and each epoch without a new best halves the rate.
    settings = _settings(**{"train.common.schedule": "plateau", "train.common.learning_rate": 1e-9,
                            "train.common.plateau_patience": 1, "train.common.plateau_factor": 0.5,
                            "train.common.epochs": 4, "train.common.max_train_per_class": None})
    train_architecture("cnn", settings, small_dataset, tmp_path / "ckpt", tmp_path / "out", tracking=False)
    history = json.loads((tmp_path / "out" / "history.json").read_text())
    rates = [h["learning_rate"] for h in history]
    expected, best, rate = [], float("-inf"), 1e-9
    for h in history:  # Keras' ReduceLROnPlateau: mode max, min_delta 1e-4, patience 1, no cooldown
        if h["val_accuracy"] - 1e-4 > best:
            best = h["val_accuracy"]
        else:
            rate *= 0.5
        expected.append(rate)
    assert rates == pytest.approx(expected, rel=1e-5), (rates, [h["val_accuracy"] for h in history])
    assert rates[-1] < rates[0]  # it did lower the rate


@pytest.mark.slow  # trains
def test_mixup_batches_mix_faces_and_labels_and_train(tmp_path, small_dataset):
    import numpy as np

    from fer_platform.training.fit import train_architecture
    from fer_platform.training.mixup import mixup_batches
    from fer_platform.training.recipe import as_model_input, one_hot

    train = small_dataset.split("Training")
    x, y = as_model_input(train.images), one_hot(train.labels)
    batches = mixup_batches(x, y, batch_size=16, alpha=0.4, seed=3)
    assert len(batches) == 3
    faces, labels = batches[0]
    assert faces.dtype == np.uint8 and faces.shape == (16, 48, 48, 1)
    assert np.allclose(labels.sum(axis=1), 1) and (labels > 0).sum(axis=1).max() <= 2  # two faces at most
    settings = _settings(**{"train.common.mixup": 0.4, "train.common.epochs": 2,
                            "train.common.max_train_per_class": None})
    result = train_architecture("cnn", settings, small_dataset, tmp_path / "ckpt", tmp_path / "out", tracking=False)
    assert result.epochs_completed == 2
    with pytest.raises(ConfigError, match="invalid train settings for 'cnn': train.archs.cnn: .*class_weight must be none"):
        _settings(**{"train.common.mixup": 0.4, "train.common.class_weight": "balanced"})
