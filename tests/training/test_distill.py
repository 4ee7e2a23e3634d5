"""Knowledge distillation from the committed release ensemble, and mixed precision, with real Keras on real faces."""

import numpy as np
import pytest
import yaml

from fer_platform.config import ConfigError, Params, apply_overrides
from fer_platform.training.checkpoints import fingerprint
from tests.conftest import REPO
from tests.training.recipes import small_cnn

TEACHER = str(REPO / "release/model.keras")  # the release: an ensemble of resnet_compact and resnet32


def _settings(**overrides):
    return small_cnn(1, **overrides)


@pytest.mark.slow  # trains, or runs the release as teacher
def test_targets_mix_the_label_with_the_teachers_probabilities(small_dataset):
    from fer_platform.models import load_model
    from fer_platform.models.inference import predict_probabilities
    from fer_platform.training.distill import soft_targets
    from fer_platform.training.recipe import one_hot

    images, labels = small_dataset.images[:12], small_dataset.labels[:12]
    teacher = predict_probabilities(load_model(TEACHER), images)
    settings = _settings(**{"train.common.distill": {"teacher": TEACHER, "weight": 0.7}})
    targets = soft_targets(settings, images, one_hot(labels))
    np.testing.assert_allclose(targets, 0.3 * one_hot(labels) + 0.7 * teacher, atol=1e-6)
    softer = soft_targets(_settings(**{"train.common.distill": {"teacher": TEACHER, "temperature": 3.0}}),
                          images, one_hot(labels))
    np.testing.assert_allclose(softer.sum(axis=1), 1.0, atol=1e-5)
    assert softer.max(axis=1).mean() < (0.3 * one_hot(labels) + 0.7 * teacher).max(axis=1).mean()


@pytest.mark.slow  # trains, or runs the release as teacher
def test_a_student_trains_on_the_teacher_and_its_checkpoints_know_the_teacher(tmp_path, small_dataset):
    from fer_platform.training.fit import train_architecture

    settings = _settings(**{"train.common.distill": {"teacher": TEACHER}})
    assert fingerprint(settings, small_dataset) != fingerprint(_settings(), small_dataset)
    result = train_architecture("cnn", settings, small_dataset, tmp_path / "ckpt", tmp_path / "out", tracking=False)
    assert result.epochs_completed == 1 and np.isfinite(result.best_publictest_accuracy)
    missing = _settings(**{"train.common.distill": {"teacher": str(tmp_path / "nope.keras")}})
    with pytest.raises(FileNotFoundError, match="nope.keras: distill.teacher not found"):
        train_architecture("cnn", missing, small_dataset, tmp_path / "ckpt2", tmp_path / "out2", tracking=False)


def test_distill_settings_are_validated():
    with pytest.raises(ConfigError, match="weight"):
        Params.model_validate(apply_overrides(yaml.safe_load((REPO / "params.yaml").read_text()), {
            "train.common.distill": {"teacher": TEACHER, "weight": 1.5}})).train_settings("cnn")


@pytest.mark.slow  # trains, or runs the release as teacher
def test_mixed_bfloat16_trains_with_float32_preprocessing_and_probabilities(small_dataset):
    import keras

    from fer_platform.models import build_model
    from fer_platform.training.recipe import as_model_input

    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    try:
        model = build_model("cnn", augment={"flip": True, "translation": 0.1, "erasing": 0.5, "crop": 44},
                            dropout=0.3, dense_units=64)
        assert model.get_layer("conv1_1").compute_dtype == "bfloat16"
        assert model.get_layer("augment").compute_dtype == "float32"
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
        x = as_model_input(small_dataset.images[:8])
        assert np.isfinite(model.train_on_batch(x, small_dataset.labels[:8]))
        probs = model.predict(x, verbose=0)
        assert probs.dtype == np.float32 and np.allclose(probs.sum(axis=1), 1.0, atol=1e-3)
    finally:
        keras.mixed_precision.set_global_policy("float32")


@pytest.mark.slow  # trains, or runs the release as teacher
def test_the_teachers_saved_probabilities_give_the_same_targets_as_the_teacher(tmp_path, small_dataset):
    """What a GPU host hands back instead of a teacher too large to return."""
    from fer_platform.data.dataset import DataError
    from fer_platform.models import load_model
    from fer_platform.training.distill import soft_targets, write_soft_labels
    from fer_platform.training.recipe import one_hot

    images, labels = small_dataset.images, small_dataset.labels
    saved = write_soft_labels(load_model(TEACHER), images, tmp_path / "teacher.npz")
    assert saved.stat().st_size < 20_000
    by_model = soft_targets(_settings(**{"train.common.distill": {"teacher": TEACHER}}), images[5:20],
                            one_hot(labels[5:20]))
    by_file = soft_targets(_settings(**{"train.common.distill": {"teacher": str(saved)}}), images[5:20],
                           one_hot(labels[5:20]))
    np.testing.assert_allclose(by_file, by_model, atol=1e-6)
    with pytest.raises(DataError, match="no teacher probabilities for 1 of 1"):
        soft_targets(_settings(**{"train.common.distill": {"teacher": str(saved)}}), 255 - images[:1],
                     one_hot(labels[:1]))
