"""The resumable training loop (backend-agnostic Keras 3: no tf.* here, so KERAS_BACKEND=jax trains too).

A killed run restarts from the last finished epoch (training.checkpoints) and keeps logging into the same
MLflow run. The selected model is the best epoch by PublicTest accuracy.
"""

from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from fer_platform.config import TrainSettings
from fer_platform.data.dataset import FerDataset
from fer_platform.data.splits import recipe_splits
from fer_platform.io import write_json, write_with
from fer_platform.labels import SELECTION, TRAIN
from fer_platform.models import load_model
from fer_platform.models.architectures import weights_only
from fer_platform.models.summary import model_summary_text
from fer_platform.training.checkpoints import BEST, callback_classes, fingerprint, load_state, resume_model
from fer_platform.training.distill import check_teacher, soft_targets
from fer_platform.training.distribution import apply_distribution
from fer_platform.training.mixup import mixup_batches
from fer_platform.training.recipe import (
    as_model_input,
    build_before_tracing,
    build_compiled,
    check_init_from,
    class_weights,
    one_hot,
    schedule_callbacks,
)


@dataclass(frozen=True)
class TrainResult:
    model_path: Path
    run_id: str | None
    epochs_completed: int
    best_epoch: int
    best_publictest_accuracy: float
    seconds: float


def train_architecture(
    arch: str,
    settings: TrainSettings,
    dataset: FerDataset,
    checkpoint_dir: Path,
    output_dir: Path,
    tracking: bool = True,
    extra_callbacks: tuple = (),
) -> TrainResult:
    """Train (or resume) one recipe; write output_dir/{model.keras,history.json,run.json,summary.txt}."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # before anything imports TensorFlow (a teacher may)
    started = time.perf_counter()
    runs = _training_runs() if tracking else None
    data = _training_data(arch, settings, dataset)
    _use_devices(arch, settings)
    model, state = _model_and_state(arch, settings, dataset, checkpoint_dir, data)
    run = runs.open_training_run(arch, settings, state, len(data.train), data.n_selection, model) if runs else None
    state["mlflow_run_id"] = run.info.run_id if run else None
    callbacks = _callbacks(settings, checkpoint_dir, state, runs, extra_callbacks)
    status = "FAILED"  # unless the block below completes
    try:
        if state["epoch"] < settings.epochs:
            _fit(model, settings, data, state, callbacks)
        result = _finish(arch, settings, state, checkpoint_dir, output_dir, runs, started)
        status = "FINISHED"
    finally:
        if runs:
            runs.end_run(status)
    return result


def _training_runs():
    # Here, not at the top: a GPU training host has no MLflow and trains with tracking off.
    from fer_platform.tracking import training_runs

    return training_runs


def _use_devices(arch: str, settings: TrainSettings) -> None:
    """The recipe's precision and distribution, before any model is built or loaded."""
    import keras  # start-up cost: Keras only once a training starts

    keras.mixed_precision.set_global_policy(settings.precision)
    distribution = apply_distribution(settings)
    if distribution:
        print(f"[{arch}] {distribution}", flush=True)


@dataclass(frozen=True)
class _TrainingData:
    train: FerDataset
    x_train: np.ndarray
    y_train: np.ndarray  # one-hot, or the teacher's soft targets when distilling
    x_selection: np.ndarray
    y_selection: np.ndarray
    steps: int  # batches per epoch
    init_weights: Path | None  # init_from resolved once: the file fingerprinted is the file loaded

    @property
    def n_selection(self) -> int:
        return len(self.x_selection)


def _training_data(arch: str, settings: TrainSettings, dataset: FerDataset) -> _TrainingData:
    """The recipe's training and selection faces as model inputs; its teacher and warm start checked first."""
    splits = recipe_splits(dataset, settings)
    train, selection = splits[TRAIN], splits[SELECTION]
    x_train, y_train = as_model_input(train.images), one_hot(train.labels)
    check_teacher(settings)
    init_weights = check_init_from(settings.init_from)
    if settings.distill:  # the teacher's view of every training face, once
        y_train = soft_targets(settings, train.images, y_train)
        print(f"[{arch}] distilling from {settings.distill.teacher} (weight {settings.distill.weight}, "
              f"temperature {settings.distill.temperature})", flush=True)
    return _TrainingData(train, x_train, y_train, as_model_input(selection.images), one_hot(selection.labels),
                         steps=int(np.ceil(len(train) / settings.batch_size)), init_weights=init_weights)


def _model_and_state(arch: str, settings: TrainSettings, dataset: FerDataset, checkpoint_dir: Path,
                     data: _TrainingData):
    """The checkpoint's model and state when this recipe trained here before (resumed), else a new model."""
    import keras

    checkpoint_dir.mkdir(parents=True, exist_ok=True)
    state = load_state(checkpoint_dir, fingerprint(settings, dataset, init_weights=data.init_weights))
    model = resume_model(checkpoint_dir, state) if state["epoch"] else None
    keras.utils.set_random_seed(settings.seed + state["epoch"])  # a resumed run continues the stream
    if model is not None:
        print(f"[{arch}] resuming after epoch {state['epoch']}/{settings.epochs} from {checkpoint_dir}", flush=True)
    else:
        model = build_compiled(settings, data.steps, data.init_weights)
    return model, state


def _callbacks(settings: TrainSettings, checkpoint_dir: Path, state: dict, runs, extra_callbacks: tuple) -> list:
    """Extra callbacks (e.g. a wall-clock deadline) run before the checkpoint, so a stop they request is saved.
    The schedule's callbacks run before the checkpoint, so a rate they lower is the one saved with the epoch.
    With a run (`runs`), epochs trained before a resume are logged first, then each new one."""
    epoch_checkpoint, after_epoch = callback_classes()
    callbacks = [*extra_callbacks, *schedule_callbacks(settings), epoch_checkpoint(checkpoint_dir, state)]
    if runs:
        runs.backfill_epochs(state["mlflow_run_id"], state["history"])
        callbacks.append(after_epoch(state, runs.log_epoch))
    return callbacks


def _fit(model, settings: TrainSettings, data: _TrainingData, state: dict, callbacks: list) -> None:
    """The remaining epochs, from the one after the checkpoint's."""
    if settings.mixup:  # batches come mixed from a PyDataset (seeded per epoch: a resume continues it)
        inputs = {"x": mixup_batches(data.x_train, data.y_train, settings.batch_size, settings.mixup,
                                     settings.seed + state["epoch"])}
    else:
        inputs = {"x": data.x_train, "y": data.y_train, "batch_size": settings.batch_size, "shuffle": True,
                  "class_weight": class_weights(data.train.labels, settings.class_weight)}
    build_before_tracing(model, data.x_train[:1], data.y_train[:1])
    model.fit(
        **inputs,
        validation_data=(data.x_selection, data.y_selection),
        epochs=settings.epochs,
        initial_epoch=state["epoch"],
        callbacks=callbacks,
        verbose=1 if sys.stdout.isatty() else 2,
    )


def _finish(arch: str, settings: TrainSettings, state: dict, checkpoint_dir: Path, output_dir: Path, runs,
            started: float) -> TrainResult:
    """The selected epoch without its optimizer state (a third of the checkpoint): what evaluate, the registry
    and serving need, written with its history, summary and run.json (and logged, with a run). The checkpoint
    keeps the optimizer, to resume."""
    best_model = weights_only(load_model(checkpoint_dir / BEST), settings)
    result = _write_outputs(best_model, state, output_dir)
    model_uri = runs.log_final_model(best_model, state, output_dir) if runs else None
    write_json(output_dir / "run.json", {
        "arch": arch, "run_id": result.run_id, "model_uri": model_uri,
        "best_epoch": result.best_epoch, "epochs_completed": result.epochs_completed,
        "best_publictest_accuracy": result.best_publictest_accuracy,
        "train_seconds": round(result.seconds, 1), "wall_seconds": round(time.perf_counter() - started, 1),
    })
    return result


def _write_outputs(best_model, state, output_dir) -> TrainResult:
    """Every file whole or not at all (a kill mid-write leaves the previous one)."""
    write_with(output_dir / "model.keras", best_model.save)
    write_json(output_dir / "history.json", state["history"])
    summary = model_summary_text(best_model) + "\n"
    write_with(output_dir / "summary.txt", lambda tmp: tmp.write_text(summary))
    return TrainResult(
        model_path=output_dir / "model.keras",
        run_id=state.get("mlflow_run_id"),
        epochs_completed=state["epoch"],
        best_epoch=state["best_epoch"],
        best_publictest_accuracy=state["best_publictest_accuracy"],
        seconds=state["train_seconds"],
    )
