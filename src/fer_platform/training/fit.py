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
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import keras  # start-up cost: Keras only once a training starts

    if tracking:
        # Here, not at the top: a GPU training host has no MLflow and trains with tracking off.
        from fer_platform.tracking import training_runs
    started = time.perf_counter()
    splits = recipe_splits(dataset, settings)
    train, selection = splits[TRAIN], splits[SELECTION]
    x_train, y_train = as_model_input(train.images), one_hot(train.labels)
    check_teacher(settings)
    check_init_from(settings.init_from)
    if settings.distill:  # the teacher's view of every training face, once
        y_train = soft_targets(settings, train.images, y_train)
        print(f"[{arch}] distilling from {settings.distill.teacher} (weight {settings.distill.weight}, "
              f"temperature {settings.distill.temperature})", flush=True)
    x_sel, y_sel = as_model_input(selection.images), one_hot(selection.labels)
    steps = int(np.ceil(len(train) / settings.batch_size))

    keras.mixed_precision.set_global_policy(settings.precision)  # before any model is built or loaded
    distribution = apply_distribution(settings)
    if distribution:
        print(f"[{arch}] {distribution}", flush=True)
    checkpoint_dir.mkdir(parents=True, exist_ok=True)
    state = load_state(checkpoint_dir, fingerprint(settings, dataset))
    model = resume_model(checkpoint_dir, state) if state["epoch"] else None
    keras.utils.set_random_seed(settings.seed + state["epoch"])  # a resumed run continues the stream
    if model is not None:
        print(f"[{arch}] resuming after epoch {state['epoch']}/{settings.epochs} from {checkpoint_dir}", flush=True)
    else:
        model = build_compiled(settings, steps)

    run = training_runs.open_training_run(arch, settings, state, len(train), len(selection), model) \
        if tracking else None
    state["mlflow_run_id"] = run.info.run_id if run else None
    epoch_checkpoint, after_epoch = callback_classes()
    # Extra callbacks (e.g. a wall-clock deadline) run before the checkpoint, so a stop they request is saved.
    # The schedule's callbacks run before the checkpoint, so a rate they lower is the one saved with the epoch.
    callbacks = [*extra_callbacks, *schedule_callbacks(settings), epoch_checkpoint(checkpoint_dir, state)]
    if run:
        training_runs.backfill_epochs(run.info.run_id, state["history"])
        callbacks.append(after_epoch(state, training_runs.log_epoch))
    status = "FAILED"  # unless the block below completes
    try:
        if state["epoch"] < settings.epochs:
            if settings.mixup:  # batches come mixed from a PyDataset (seeded per epoch: a resume continues it)
                data = {"x": mixup_batches(x_train, y_train, settings.batch_size, settings.mixup,
                                           settings.seed + state["epoch"])}
            else:
                data = {"x": x_train, "y": y_train, "batch_size": settings.batch_size, "shuffle": True,
                        "class_weight": class_weights(train.labels, settings.class_weight)}
            model.fit(
                **data,
                validation_data=(x_sel, y_sel),
                epochs=settings.epochs,
                initial_epoch=state["epoch"],
                callbacks=callbacks,
                verbose=1 if sys.stdout.isatty() else 2,
            )
        # The selected epoch without its optimizer state (a third of the checkpoint): what evaluate, the registry
        # and serving need. The checkpoint keeps the optimizer, to resume.
        best_model = weights_only(load_model(checkpoint_dir / BEST), settings)
        result = _write_outputs(best_model, state, output_dir)
        model_uri = training_runs.log_final_model(best_model, state, output_dir) if run else None
        write_json(output_dir / "run.json", {
            "arch": arch, "run_id": result.run_id, "model_uri": model_uri,
            "best_epoch": result.best_epoch, "epochs_completed": result.epochs_completed,
            "best_publictest_accuracy": result.best_publictest_accuracy,
            "train_seconds": round(result.seconds, 1), "wall_seconds": round(time.perf_counter() - started, 1),
        })
        status = "FINISHED"
    finally:
        if run:
            training_runs.end_run(status)
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
