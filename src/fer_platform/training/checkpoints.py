"""The checkpoint directory of one training: file names, the state file, and the callback that writes them.

After every epoch the full model (weights + optimizer state, so the LR schedule continues) and a small state
file are written atomically. The best epoch by PublicTest accuracy is kept separately: checkpoint selection
never looks at PrivateTest. A fingerprint of settings and data says which training a directory belongs to.
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
import os
import shutil
import time
from pathlib import Path

import numpy as np

from fer_platform.config import TrainSettings
from fer_platform.data.dataset import FerDataset
from fer_platform.errors import UserError
from fer_platform.io import write_json, write_with
from fer_platform.models import load_model
from fer_platform.training.recipe import init_from_file

LAST, BEST, STATE = "last.keras", "best.keras", "state.json"
SUPERSEDED = "superseded"  # checkpoints of other settings, kept (never deleted) until they train again


class TrainingDiverged(UserError):
    """The loss or the weights became NaN/Inf: training stops, and the last good checkpoint stays as it was."""


# Recipe options added after checkpoints existed: left out of the fingerprint while at their defaults, so a
# checkpoint written before they existed (an interrupted full-recipe training) still resumes.
ADDED_LATER = {"step_epochs", "step_factor", "plateau_patience", "plateau_factor", "nesterov", "mixup", "distill",
               "init_from"}
ADDED_LATER_AUGMENT = {"erasing", "crop", "brightness", "contrast", "gamma", "blur", "noise", "low_resolution",
                       "camera_share", "jpeg"}
# How a recipe runs, not what it trains: never part of the identity (a checkpoint resumes on other hardware).
EXECUTION_ONLY = {"distribution", "precision"}


def settings_identity(settings: TrainSettings) -> str:
    data = settings.model_dump(mode="json", exclude=EXECUTION_ONLY)
    for key in ADDED_LATER:
        if getattr(settings, key) == type(settings).model_fields[key].default:
            del data[key]
    for key in ADDED_LATER_AUGMENT:
        if getattr(settings.augment, key) == type(settings.augment).model_fields[key].default:
            del data["augment"][key]
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False)


def fingerprint(settings: TrainSettings, dataset: FerDataset, *, init_weights: Path | None = None) -> str:
    """Identifies what a checkpoint was trained for; a mismatch means the checkpoint is stale. A training passes
    `init_weights`, its init_from resolved once; without it (a later check) init_from is resolved here."""
    h = hashlib.sha256(settings_identity(settings).encode())
    h.update(dataset.content_hash().encode())
    if settings.distill:  # another teacher at the same path is another training
        h.update(hashlib.sha256(Path(settings.distill.teacher).read_bytes()).hexdigest().encode())
    if settings.init_from:  # and other starting weights at the same path another
        local = init_weights or init_from_file(settings.init_from)
        h.update(hashlib.sha256(local.read_bytes()).hexdigest().encode())
    return h.hexdigest()[:16]


def fresh_state(fp: str) -> dict:
    return {"fingerprint": fp, "epoch": 0, "best_epoch": 0, "best_publictest_accuracy": -1.0,
            "history": [], "mlflow_run_id": None, "train_seconds": 0.0}


def load_state(checkpoint_dir: Path, fp: str) -> dict:
    """The saved state if it belongs to this fingerprint, else a fresh one. Nothing is deleted: a checkpoint of
    other settings (the full recipe, when the quick profile runs) is moved to `superseded/<fingerprint>/` and
    moved back when those settings train again, so it resumes; an unreadable one is kept there for a person."""
    restore = checkpoint_dir / SUPERSEDED / fp
    if (checkpoint_dir / STATE).exists() or (checkpoint_dir / LAST).exists():
        state = _read_state(checkpoint_dir)
        if state.get("fingerprint") == fp and (checkpoint_dir / LAST).exists():
            if "best_selection_accuracy" in state:  # its name in checkpoints written before 2026-11-29
                state["best_publictest_accuracy"] = state.pop("best_selection_accuracy")
            return state
        kept = _set_aside(checkpoint_dir, state.get("fingerprint") or f"unreadable-{int(time.time())}")
        print(f"checkpoint in {checkpoint_dir} is for other params/data: kept in {kept}", flush=True)
    if (restore / STATE).exists() and (restore / LAST).exists():
        for name in (LAST, BEST, STATE):
            if (restore / name).exists():
                os.replace(restore / name, checkpoint_dir / name)
        restore.rmdir()
        print(f"resuming the checkpoint of these settings from {restore}", flush=True)
        return load_state(checkpoint_dir, fp)
    return fresh_state(fp)


def resume_model(checkpoint_dir: Path, state: dict):
    """The model to continue training from, or None to start afresh (and `state` reset in place).

    A `last.keras` that does not load (a disk error, a copy cut short) is set aside in `superseded/corrupt-<t>/`
    and training resumes from `best.keras`, the last good checkpoint (the epochs after it run again); if that
    fails too, from scratch. Either way the run goes on and the message says what was kept where."""
    try:
        return load_model(checkpoint_dir / LAST)
    except Exception as err:  # noqa: BLE001 - any failure to load means this file cannot be resumed from
        kept = _set_aside_files(checkpoint_dir, f"corrupt-{int(time.time())}", (LAST,), copy=(BEST, STATE))
        print(f"{checkpoint_dir / LAST} does not load ({type(err).__name__}: {str(err)[:200]}); "
              f"kept in {kept}", flush=True)
    best_epoch = int(state.get("best_epoch") or 0)
    if best_epoch and (checkpoint_dir / BEST).exists():
        try:
            model = load_model(checkpoint_dir / BEST)
        except Exception as err:  # noqa: BLE001
            print(f"{checkpoint_dir / BEST} does not load either ({type(err).__name__}); training from scratch",
                  flush=True)
        else:
            state["history"] = state["history"][:best_epoch]
            state["epoch"] = best_epoch
            shutil.copyfile(checkpoint_dir / BEST, checkpoint_dir / LAST)
            write_json(checkpoint_dir / STATE, state)
            print(f"resuming from the best checkpoint instead: epoch {best_epoch}", flush=True)
            return model
    fresh = fresh_state(state["fingerprint"])
    state.clear()
    state.update(fresh)
    return None


def set_aside_before_install(checkpoint_dir: Path, incoming_fp: str) -> Path | None:
    """Keep the checkpoint in `checkpoint_dir` before another is installed over it (hosted import); None if
    there is none. One of other settings goes to superseded/<its fingerprint>/, so those settings resume from it;
    one of the same settings (or unreadable) to a fresh superseded/before-import-<t>/ that nothing replaces."""
    if not any((checkpoint_dir / name).exists() for name in (LAST, BEST, STATE)):
        return None
    fp = _read_state(checkpoint_dir).get("fingerprint")
    if fp and fp != incoming_fp:
        return _set_aside(checkpoint_dir, fp)
    stem = f"before-import-{int(time.time())}"
    name, n = stem, 1
    while (checkpoint_dir / SUPERSEDED / name).exists():  # two imports within a second
        n += 1
        name = f"{stem}-{n}"
    return _set_aside(checkpoint_dir, name)


def _read_state(checkpoint_dir: Path) -> dict:
    try:
        state = json.loads((checkpoint_dir / STATE).read_text())
        return state if isinstance(state, dict) else {}
    except (OSError, ValueError):
        return {}


def _set_aside(checkpoint_dir: Path, name: str) -> Path:
    """Move the checkpoint files into superseded/<name>/ (a newer copy of the same settings replaces an older)."""
    return _set_aside_files(checkpoint_dir, name, (LAST, BEST, STATE))


def _set_aside_files(checkpoint_dir: Path, name: str, move: tuple[str, ...], copy: tuple[str, ...] = ()) -> Path:
    target = checkpoint_dir / SUPERSEDED / name
    target.mkdir(parents=True, exist_ok=True)
    for file in copy:
        if (checkpoint_dir / file).exists():
            shutil.copyfile(checkpoint_dir / file, target / file)
    for file in move:
        if (checkpoint_dir / file).exists():
            os.replace(checkpoint_dir / file, target / file)
    return target


def all_finite(model) -> bool:
    return all(np.isfinite(w).all() for w in model.get_weights())


@functools.cache
def callback_classes():
    """Keras callback classes, defined on first use so importing this module does not import Keras."""
    import keras  # start-up cost: Keras (and its backend) only once a training starts

    class EpochCheckpoint(keras.callbacks.Callback):
        """Atomically save last (and best-by-PublicTest) model plus state after every epoch."""

        def __init__(self, directory: Path, state: dict):
            super().__init__()
            self.directory, self.state = directory, state
            self._epoch_started = time.perf_counter()

        def on_epoch_begin(self, epoch, logs=None):
            self._epoch_started = time.perf_counter()

        def on_train_batch_end(self, batch, logs=None):
            loss = (logs or {}).get("loss")
            if loss is not None and not math.isfinite(float(loss)):
                self._diverged(f"the loss is {float(loss)} at epoch {self.state['epoch'] + 1}, batch {batch + 1}")

        def on_epoch_end(self, epoch, logs=None):
            logs = logs or {}
            bad = [k for k, v in logs.items() if not math.isfinite(float(v))]
            if bad or not all_finite(self.model):
                self._diverged(f"epoch {epoch + 1} ended with non-finite "
                               f"{', '.join(bad) if bad else 'weights'}")
            record = {"epoch": epoch + 1, **{k: float(v) for k, v in logs.items()}}
            record["learning_rate"] = float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate))
            self.state["history"].append(record)
            self.state["epoch"] = epoch + 1
            self.state["train_seconds"] += time.perf_counter() - self._epoch_started
            if logs.get("val_accuracy", -1.0) > self.state["best_publictest_accuracy"]:
                self.state["best_publictest_accuracy"] = float(logs["val_accuracy"])
                self.state["best_epoch"] = epoch + 1
                write_with(self.directory / BEST, self.model.save)
            write_with(self.directory / LAST, self.model.save)
            write_json(self.directory / STATE, self.state)  # last: state never points past saved weights

        def _diverged(self, what: str):
            self.model.stop_training = True
            raise TrainingDiverged(
                f"training diverged: {what}. Nothing of it was saved: {self.directory} still holds epoch "
                f"{self.state['epoch']}. Lower train.learning_rate (or raise warmup_epochs) in params.yaml and "
                "run the stage again")

    class AfterEpoch(keras.callbacks.Callback):
        """Calls `action(record)` with the epoch record the checkpoint just saved (so it runs after
        EpochCheckpoint: the state file is the source of truth for whatever the action reports)."""

        def __init__(self, state: dict, action):
            super().__init__()
            self.state, self.action = state, action

        def on_epoch_end(self, epoch, logs=None):
            self.action(self.state["history"][-1])

    return EpochCheckpoint, AfterEpoch
