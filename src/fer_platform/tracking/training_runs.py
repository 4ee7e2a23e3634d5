"""MLflow runs for training and evaluation: one run per trained architecture, every epoch, the final model.

A run is reopened when training resumes (its id is kept in the checkpoint's state), and epochs that were
checkpointed but never reached MLflow (a kill between the two writes) are backfilled from the state file.
"""

from __future__ import annotations

import os
from pathlib import Path

import keras
import mlflow
from mlflow import MlflowClient

from fer_platform.config import TrainSettings
from fer_platform.lineage import lineage_tags
from fer_platform.models.summary import model_summary_text
from fer_platform.tracking import store
from fer_platform.tracking.model_logging import log_keras_model

# Keras' names in an epoch record -> MLflow metric names (Keras' val_* is PublicTest here).
METRIC_NAMES = {"loss": "train_loss", "accuracy": "train_accuracy",
                "val_loss": "publictest_loss", "val_accuracy": "publictest_accuracy"}


def epoch_metrics(record: dict) -> dict[str, float]:
    """An epoch record of state.json -> MLflow metric names."""
    return {METRIC_NAMES.get(k, k): float(v) for k, v in record.items() if k != "epoch"}


def trained_on_tags(trained_on: dict) -> dict[str, str]:
    """MLflow tags for a run trained elsewhere (fer_platform.hosted) and imported here."""
    return {f"trained_on.{k}": str(v) for k, v in trained_on.items()}


def flat_params(settings: TrainSettings) -> dict[str, str]:
    return _flatten("", settings.model_dump())


def _flatten(prefix: str, obj) -> dict[str, str]:
    if isinstance(obj, dict):
        out: dict[str, str] = {}
        for k, v in obj.items():
            out.update(_flatten(f"{prefix}.{k}" if prefix else str(k), v))
        return out
    return {prefix: str(obj)}


def open_training_run(arch: str, settings: TrainSettings, state: dict, n_train: int, n_selection: int, model):
    """Reopen the checkpoint's run, or start one with tags, params and the model summary."""
    store.configure()
    if state.get("mlflow_run_id"):
        try:
            return mlflow.start_run(run_id=state["mlflow_run_id"])
        except Exception as err:  # the store was reset since the checkpoint: log into a new run
            print(f"[{arch}] cannot reopen MLflow run {state['mlflow_run_id']} ({err}); new run", flush=True)
    run = mlflow.start_run(run_name=arch)
    mlflow.set_tags({**lineage_tags(), "architecture": settings.architecture, "arch_key": arch,
                     "keras.backend": keras.backend.backend(),
                     **trained_on_tags(state.get("trained_on", {}))})
    mlflow.log_params(flat_params(settings))
    mlflow.log_params({"n_train": n_train, "n_selection": n_selection, "n_params": model.count_params()})
    mlflow.log_text(model_summary_text(model), "model_summary.txt")
    return run


def log_epoch(record: dict) -> None:
    """Log one epoch record of the active run (called after the checkpoint saved it)."""
    mlflow.log_metrics(epoch_metrics(record), step=record["epoch"])


def backfill_epochs(run_id: str, history: list[dict]) -> None:
    """Log checkpointed epochs that MLflow lacks (a kill can land between checkpoint and MLflow log)."""
    logged = {m.step for m in MlflowClient().get_metric_history(run_id, "publictest_accuracy")}
    for record in history:
        if record["epoch"] not in logged:
            mlflow.log_metrics(epoch_metrics(record), step=record["epoch"])


def log_final_model(best_model, state: dict, output_dir: Path) -> str:
    """Log the selected model (with its signature) and final numbers; return the logged model's URI."""
    mlflow.log_metrics({"best_epoch": state["best_epoch"], "epochs_completed": state["epoch"],
                        "train_seconds": round(state["train_seconds"], 1)})
    mlflow.log_artifact(str(output_dir / "history.json"))
    return log_keras_model(best_model).model_uri


def end_run(status: str) -> None:
    mlflow.end_run(status=status)


def log_evaluation(run_id: str, summary: dict, files: dict[str, Path]) -> None:
    """Final accuracy, macro-F1 and per-class recall of both test splits, the field split's accuracy, macro-F1
    and n when it had faces, plus the evaluation's files."""
    store.configure()
    with mlflow.start_run(run_id=run_id):
        flat = {}
        for split in ("publictest", "privatetest"):
            flat[f"{split}_final_accuracy"] = summary[split]["accuracy"]
            flat[f"{split}_macro_f1"] = summary[split]["macro_f1"]
            for tta in ("flip_accuracy", "ten_crop_accuracy"):
                if tta in summary[split]:
                    flat[f"{split}_{tta}"] = summary[split][tta]
            for e, r in summary[split]["recall"].items():
                flat[f"{split}_recall_{e}"] = r
            for key in ("robustness_mean", "robustness_unseen_mean", "pipeline_detection_rate", "pipeline_accuracy"):
                if key in summary[split]:
                    flat[f"{split}_{key}"] = summary[split][key]
            for name, acc in summary[split].get("robustness", {}).get("per_perturbation", {}).items():
                flat[f"{split}_robust_{name}"] = acc
        flat.update({f"field_{k}": v for k, v in summary.get("field", {}).items()})  # accuracy, macro_f1, n
        mlflow.log_metrics(flat)
        trained_with = summary["privatetest"].get("robustness", {}).get("trained_with")
        if trained_with is not None:  # which perturbations the unseen mean leaves out
            mlflow.set_tag("robustness_trained_with", ",".join(trained_with) or "none")
        for path in files.values():
            if os.path.exists(path):
                mlflow.log_artifact(str(path), artifact_path="evaluation")


def log_hosted_results(arch: str, settings: TrainSettings, info: dict, history: list[dict],
                       artifacts: list[Path]) -> str:
    """A run for a model trained on a GPU host whose weights stayed there: its results, curves and files."""
    store.configure()
    with mlflow.start_run(run_name=arch) as run:
        mlflow.set_tags({**lineage_tags(), "architecture": settings.architecture, "arch_key": arch,
                         "weights": "kept on the training host (too large to return)",
                         **trained_on_tags(info["trained_on"])})
        mlflow.log_params(flat_params(settings))
        mlflow.log_params({"n_params": info["n_params"]})
        backfill_epochs(run.info.run_id, history)  # a new run lacks every epoch
        mlflow.log_metrics({"best_epoch": info["best_epoch"], "epochs_completed": info["epochs_completed"],
                            "train_seconds": info["train_seconds"]})
        for path in artifacts:
            if path.exists():
                mlflow.log_artifact(str(path), artifact_path="hosted")
    log_evaluation(run.info.run_id, info["summary"], {})  # final accuracy, macro-F1, recall
    return run.info.run_id
