"""The resumable training loop (backend-agnostic Keras 3: no tf.* here, so KERAS_BACKEND=jax trains too).

After every epoch the full model (weights + optimizer state, so the LR schedule continues) and a small
state file are written atomically to the checkpoint directory. A killed run restarts from the last finished
epoch and keeps logging into the same MLflow run. The best epoch by PublicTest accuracy is kept separately:
checkpoint selection never looks at PrivateTest.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from fer_platform.config import TrainSettings
from fer_platform.data.dataset import FerDataset
from fer_platform.io import write_json, write_with
from fer_platform.labels import EMOTIONS, NUM_CLASSES, SELECTION, TRAIN
from fer_platform.models.registry import load_model
from fer_platform.training.data import class_weights, recipe_splits

LAST, BEST, STATE = "last.keras", "best.keras", "state.json"


@dataclass(frozen=True)
class TrainResult:
    model_path: Path
    run_id: str | None
    epochs_completed: int
    best_epoch: int
    best_selection_accuracy: float
    seconds: float


def fingerprint(settings: TrainSettings, dataset: FerDataset) -> str:
    """Identifies what a checkpoint was trained for; a mismatch means the checkpoint is stale."""
    h = hashlib.sha256(settings.model_dump_json().encode())
    h.update(dataset.content_hash().encode())
    return h.hexdigest()[:16]


def as_model_input(images: np.ndarray) -> np.ndarray:
    return images[..., None]


def one_hot(labels: np.ndarray) -> np.ndarray:
    return np.eye(NUM_CLASSES, dtype="float32")[labels]


def make_optimizer(settings: TrainSettings, steps_per_epoch: int):
    import keras

    lr = settings.learning_rate
    if settings.schedule == "cosine":
        warmup = settings.warmup_epochs * steps_per_epoch
        total = settings.epochs * steps_per_epoch
        lr = keras.optimizers.schedules.CosineDecay(
            initial_learning_rate=lr / 10 if warmup else lr,
            decay_steps=max(total - warmup, 1),
            alpha=0.01,
            warmup_target=lr if warmup else None,
            warmup_steps=warmup,
        )
    if settings.optimizer == "adamw":
        return keras.optimizers.AdamW(learning_rate=lr, weight_decay=settings.weight_decay)
    if settings.optimizer == "adam":
        return keras.optimizers.Adam(learning_rate=lr)
    return keras.optimizers.SGD(learning_rate=lr, momentum=settings.momentum, nesterov=True)


def weights_only(model, settings: TrainSettings):
    """The recipe's graph rebuilt from the registry (same layer names) carrying `model`'s weights and no
    optimizer state: a third of the file, for releases and for what a training host sends back."""
    from fer_platform.models import build_model

    clean = build_model(settings.architecture, augment=settings.augment.model_dump(), **settings.model)
    clean.set_weights(model.get_weights())
    return clean


def trained_on_tags(trained_on: dict) -> dict[str, str]:
    """MLflow tags for a run trained elsewhere (fer_platform.training.hosted) and imported here."""
    return {f"trained_on.{k}": str(v) for k, v in trained_on.items()}


def build_compiled(settings: TrainSettings, steps_per_epoch: int):
    import keras

    from fer_platform.models import build_model

    model = build_model(settings.architecture, augment=settings.augment.model_dump(), **settings.model)
    model.compile(
        optimizer=make_optimizer(settings, steps_per_epoch),
        loss=keras.losses.CategoricalCrossentropy(label_smoothing=settings.label_smoothing),
        metrics=["accuracy"],
    )
    return model


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
    import keras

    started = time.perf_counter()
    splits = recipe_splits(dataset, settings)
    train, selection = splits[TRAIN], splits[SELECTION]
    x_train, y_train = as_model_input(train.images), one_hot(train.labels)
    x_sel, y_sel = as_model_input(selection.images), one_hot(selection.labels)
    steps = int(np.ceil(len(train) / settings.batch_size))

    checkpoint_dir.mkdir(parents=True, exist_ok=True)
    state = _load_state(checkpoint_dir, fingerprint(settings, dataset))
    keras.utils.set_random_seed(settings.seed + state["epoch"])  # a resumed run continues the stream
    if state["epoch"]:
        print(f"[{arch}] resuming after epoch {state['epoch']}/{settings.epochs} from {checkpoint_dir}", flush=True)
        model = load_model(checkpoint_dir / LAST)
    else:
        model = build_compiled(settings, steps)

    run = _start_run(arch, settings, state, train, selection, model) if tracking else None
    state["mlflow_run_id"] = run.info.run_id if run else None
    epoch_checkpoint, mlflow_epoch_logger = _callback_classes()
    # Extra callbacks (e.g. a wall-clock deadline) run before the checkpoint, so a stop they request is saved.
    callbacks = [*extra_callbacks, epoch_checkpoint(checkpoint_dir, state)]
    if run:
        _backfill_mlflow(run.info.run_id, state["history"])
        callbacks.append(mlflow_epoch_logger(state))
    status = "FAILED"  # unless the block below completes
    try:
        if state["epoch"] < settings.epochs:
            model.fit(
                x_train,
                y_train,
                validation_data=(x_sel, y_sel),
                epochs=settings.epochs,
                initial_epoch=state["epoch"],
                batch_size=settings.batch_size,
                class_weight=class_weights(train.labels, settings.class_weight),
                shuffle=True,
                callbacks=callbacks,
                verbose=1 if sys.stdout.isatty() else 2,
            )
        best_model = load_model(checkpoint_dir / BEST)
        result = _write_outputs(best_model, state, checkpoint_dir, output_dir)
        model_uri = _log_final(best_model, state, output_dir) if run else None
        write_json(output_dir / "run.json", {
            "arch": arch, "run_id": result.run_id, "model_uri": model_uri,
            "best_epoch": result.best_epoch, "epochs_completed": result.epochs_completed,
            "best_publictest_accuracy": result.best_selection_accuracy,
            "train_seconds": round(result.seconds, 1), "wall_seconds": round(time.perf_counter() - started, 1),
        })
        status = "FINISHED"
    finally:
        if run:
            import mlflow

            mlflow.end_run(status=status)
    return result


def _load_state(checkpoint_dir: Path, fp: str) -> dict:
    path = checkpoint_dir / STATE
    fresh = {"fingerprint": fp, "epoch": 0, "best_epoch": 0, "best_selection_accuracy": -1.0,
             "history": [], "mlflow_run_id": None, "train_seconds": 0.0}
    if not path.exists():
        return fresh
    try:
        state = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        state = {}
    if state.get("fingerprint") != fp or not (checkpoint_dir / LAST).exists():
        print(f"checkpoint in {checkpoint_dir} is for other params/data: starting fresh", flush=True)
        for name in (LAST, BEST, STATE):
            (checkpoint_dir / name).unlink(missing_ok=True)
        return fresh
    return state


@functools.cache
def _callback_classes():
    """Keras callback classes, defined lazily so importing this module does not import Keras."""
    import keras

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
            if logs.get("val_accuracy", -1.0) > self.state["best_selection_accuracy"]:
                self.state["best_selection_accuracy"] = float(logs["val_accuracy"])
                self.state["best_epoch"] = epoch + 1
                write_with(self.directory / BEST, self.model.save)
            write_with(self.directory / LAST, self.model.save)
            write_json(self.directory / STATE, self.state)  # last: state never points past saved weights

    class MlflowEpochLogger(keras.callbacks.Callback):
        """Logs the epoch record the checkpoint just saved (runs after EpochCheckpoint, so the state file is
        the source of truth: a kill between the two is repaired by `_backfill_mlflow` on resume)."""

        def __init__(self, state: dict):
            super().__init__()
            self.state = state

        def on_epoch_end(self, epoch, logs=None):
            import mlflow

            record = self.state["history"][-1]
            mlflow.log_metrics(mlflow_epoch_metrics(record), step=record["epoch"])

    return EpochCheckpoint, MlflowEpochLogger


MLFLOW_NAMES = {"loss": "train_loss", "accuracy": "train_accuracy",
                "val_loss": "publictest_loss", "val_accuracy": "publictest_accuracy"}


def mlflow_epoch_metrics(record: dict) -> dict[str, float]:
    """An epoch record of state.json -> MLflow metric names (Keras' val_* is PublicTest here)."""
    return {MLFLOW_NAMES.get(k, k): float(v) for k, v in record.items() if k != "epoch"}


def _backfill_mlflow(run_id: str, history: list[dict]) -> None:
    """Log checkpointed epochs that MLflow lacks (a kill can land between checkpoint and MLflow log)."""
    import mlflow
    from mlflow import MlflowClient

    logged = {m.step for m in MlflowClient().get_metric_history(run_id, "publictest_accuracy")}
    for record in history:
        if record["epoch"] not in logged:
            mlflow.log_metrics(mlflow_epoch_metrics(record), step=record["epoch"])


def _flatten(prefix: str, obj) -> dict[str, str]:
    if isinstance(obj, dict):
        out: dict[str, str] = {}
        for k, v in obj.items():
            out.update(_flatten(f"{prefix}.{k}" if prefix else str(k), v))
        return out
    return {prefix: str(obj)}


def _start_run(arch, settings, state, train, selection, model):
    import keras

    from fer_platform import tracking

    mlflow = tracking.configure()
    if state.get("mlflow_run_id"):
        try:
            return mlflow.start_run(run_id=state["mlflow_run_id"])
        except Exception as err:  # the store was reset since the checkpoint: log into a new run
            print(f"[{arch}] cannot reopen MLflow run {state['mlflow_run_id']} ({err}); new run", flush=True)
    run = mlflow.start_run(run_name=arch)
    mlflow.set_tags({**tracking.lineage_tags(), "architecture": settings.architecture, "arch_key": arch,
                     "keras.backend": keras.backend.backend(),
                     **trained_on_tags(state.get("trained_on", {}))})
    mlflow.log_params(_flatten("", settings.model_dump()))
    mlflow.log_params({"n_train": len(train), "n_selection": len(selection), "n_params": model.count_params()})
    mlflow.log_text(model_summary_text(model), "model_summary.txt")
    return run


def model_summary_text(model) -> str:
    lines: list[str] = []
    model.summary(print_fn=lambda line, *a, **k: lines.append(line), line_length=110)
    return "\n".join(lines)


def _write_outputs(best_model, state, checkpoint_dir, output_dir) -> TrainResult:
    output_dir.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(checkpoint_dir / BEST, output_dir / "model.keras.tmp")
    os.replace(output_dir / "model.keras.tmp", output_dir / "model.keras")
    write_json(output_dir / "history.json", state["history"])
    (output_dir / "summary.txt").write_text(model_summary_text(best_model) + "\n")
    return TrainResult(
        model_path=output_dir / "model.keras",
        run_id=state.get("mlflow_run_id"),
        epochs_completed=state["epoch"],
        best_epoch=state["best_epoch"],
        best_selection_accuracy=state["best_selection_accuracy"],
        seconds=state["train_seconds"],
    )


def model_signature():
    from mlflow.models import ModelSignature
    from mlflow.types.schema import Schema, TensorSpec

    from fer_platform.contract import MODEL_INPUT_SHAPE

    return ModelSignature(
        inputs=Schema([TensorSpec(np.dtype(np.uint8), (-1, *MODEL_INPUT_SHAPE), "face")]),
        outputs=Schema([TensorSpec(np.dtype(np.float32), (-1, NUM_CLASSES), "probabilities")]),
    )


def _log_final(best_model, state, output_dir: Path) -> str:
    """Log the selected model (with its signature) and final numbers; return the logged model's URI."""
    import mlflow

    mlflow.log_metrics({"best_epoch": state["best_epoch"], "epochs_completed": state["epoch"],
                        "train_seconds": round(state["train_seconds"], 1)})
    mlflow.log_artifact(str(output_dir / "history.json"))
    return log_keras_model(best_model).model_uri


def log_keras_model(model):
    """Log a model to the active MLflow run as `model`, with the input/output signature; returns ModelInfo."""
    import keras
    import mlflow

    return mlflow.keras.log_model(
        model,
        name="model",
        signature=model_signature(),
        # Explicit requirements: inferring them would reload the model in a subprocess (slow).
        pip_requirements=[f"keras=={keras.__version__}", "tensorflow-cpu", "numpy"],
        metadata={"labels": list(EMOTIONS), "input": "uint8 (N, 48, 48, 1) grayscale faces"},
    )
