"""The checkpoint directory of one training: file names, the state file, and the callback that writes them.

After every epoch the full model (weights + optimizer state, so the LR schedule continues) and a small state
file are written atomically. The best epoch by PublicTest accuracy is kept separately: checkpoint selection
never looks at PrivateTest. A fingerprint of settings and data says which training a directory belongs to.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import time
from pathlib import Path

from fer_platform.config import TrainSettings
from fer_platform.data.dataset import FerDataset
from fer_platform.io import write_json, write_with

LAST, BEST, STATE = "last.keras", "best.keras", "state.json"
SUPERSEDED = "superseded"  # checkpoints of other settings, kept (never deleted) until they train again


def fingerprint(settings: TrainSettings, dataset: FerDataset) -> str:
    """Identifies what a checkpoint was trained for; a mismatch means the checkpoint is stale."""
    h = hashlib.sha256(settings.model_dump_json().encode())
    h.update(dataset.content_hash().encode())
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


def _read_state(checkpoint_dir: Path) -> dict:
    try:
        state = json.loads((checkpoint_dir / STATE).read_text())
        return state if isinstance(state, dict) else {}
    except (OSError, ValueError):
        return {}


def _set_aside(checkpoint_dir: Path, name: str) -> Path:
    """Move the checkpoint files into superseded/<name>/ (a newer copy of the same settings replaces an older)."""
    target = checkpoint_dir / SUPERSEDED / name
    target.mkdir(parents=True, exist_ok=True)
    for file in (LAST, BEST, STATE):
        if (checkpoint_dir / file).exists():
            os.replace(checkpoint_dir / file, target / file)
    return target


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

        def on_epoch_end(self, epoch, logs=None):
            logs = logs or {}
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

    class AfterEpoch(keras.callbacks.Callback):
        """Calls `action(record)` with the epoch record the checkpoint just saved (so it runs after
        EpochCheckpoint: the state file is the source of truth for whatever the action reports)."""

        def __init__(self, state: dict, action):
            super().__init__()
            self.state, self.action = state, action

        def on_epoch_end(self, epoch, logs=None):
            self.action(self.state["history"][-1])

    return EpochCheckpoint, AfterEpoch
