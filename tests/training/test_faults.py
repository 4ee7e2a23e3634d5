"""Training faults with real Keras on real faces: a checkpoint that does not load, and a run that diverges."""

import json
import zipfile

import pytest
import yaml

from fer_platform.config import Params, apply_overrides
from fer_platform.training.checkpoints import LAST, STATE, SUPERSEDED, TrainingDiverged
from fer_platform.training.fit import train_architecture
from tests.conftest import REPO
from tests.training.recipes import small_cnn


pytestmark = pytest.mark.slow  # trains


def _settings(**overrides):
    return small_cnn(3, **overrides)


def _stop_after(epochs: int):
    import keras

    class Stop(keras.callbacks.Callback):  # the wall-clock deadline of a training host, made deterministic
        def on_epoch_end(self, epoch, logs=None):
            if epoch + 1 >= epochs:
                self.model.stop_training = True

    return Stop()


def test_a_corrupt_last_checkpoint_resumes_from_the_best_one_and_is_kept(tmp_path, small_dataset, capsys):
    settings = _settings()
    ckpt, out = tmp_path / "ckpt", tmp_path / "out"
    train_architecture("cnn", settings, small_dataset, ckpt, out, tracking=False, extra_callbacks=(_stop_after(2),))
    state = json.loads((ckpt / STATE).read_text())
    assert state["epoch"] == 2
    best = state["best_epoch"]
    capsys.readouterr()
    (ckpt / LAST).write_bytes(b"PK\x03\x04 cut short by a full disk")
    result = train_architecture("cnn", settings, small_dataset, ckpt, out, tracking=False)
    assert result.epochs_completed == 3  # the run went on instead of failing every retry
    # It resumed from the best epoch (not from scratch): that epoch's record is the one trained before the
    # corruption, and only the epochs after it were trained again.
    assert f"resuming after epoch {best}/3" in capsys.readouterr().out
    history = json.loads((out / "history.json").read_text())
    assert [h["epoch"] for h in history] == list(range(1, 4))
    assert history[:best] == state["history"][:best]
    (kept,) = (ckpt / SUPERSEDED).iterdir()
    assert kept.name.startswith("corrupt-") and (kept / LAST).read_bytes().endswith(b"full disk")
    # #23.11: the output (what evaluate loads and the registry stores) is the weights without optimizer state.
    with zipfile.ZipFile(out / "model.keras") as saved:
        assert not json.loads(saved.read("config.json")).get("compile_config")
    assert (out / "model.keras").stat().st_size < 0.6 * (ckpt / "best.keras").stat().st_size


def test_a_diverging_run_stops_with_a_message_and_keeps_the_last_good_checkpoint(tmp_path, small_dataset, capsys):
    ckpt, out = tmp_path / "ckpt", tmp_path / "out"
    good = _settings()
    train_architecture("cnn", good, small_dataset, ckpt, out, tracking=False, extra_callbacks=(_stop_after(1),))
    good_weights = (ckpt / LAST).read_bytes()
    good_history = json.loads((ckpt / STATE).read_text())["history"]
    absurd = _settings(**{"train.common.learning_rate": 1e30})  # weights overflow to Inf, the loss to NaN
    with pytest.raises(TrainingDiverged, match=r"training diverged: .*(nan|inf)"):
        train_architecture("cnn", absurd, small_dataset, ckpt, tmp_path / "absurd", tracking=False)
    assert not (ckpt / LAST).exists() and not (ckpt / STATE).exists()  # nothing of the diverged run was saved
    assert not (tmp_path / "absurd" / "model.keras").exists()
    # The good run's checkpoint was kept aside and resumes when its settings train again: after epoch 1, with
    # epoch 1's record as the good run wrote it.
    capsys.readouterr()
    result = train_architecture("cnn", good, small_dataset, ckpt, out, tracking=False)
    assert result.epochs_completed == 3
    assert "resuming after epoch 1/3" in capsys.readouterr().out
    history = json.loads((out / "history.json").read_text())
    assert [h["epoch"] for h in history] == [1, 2, 3] and history[0] == good_history[0]
    assert good_weights != (ckpt / LAST).read_bytes()
