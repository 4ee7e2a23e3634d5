"""Where runs go and which tags every run carries: the project's SQLite store by default, a server if configured."""

from __future__ import annotations

import os
from pathlib import Path

import mlflow

EXPERIMENT = "fer2013"
# MLflow 3's UI opens an experiment of unknown kind on its GenAI overview ("Traces 0"); this kind makes it a model
# training experiment ("Training runs"), and runs_url() links straight to the runs table.
EXPERIMENT_TAGS = {
    "mlflow.experimentKind": "custom_model_development",
    "mlflow.note.content": "FER2013 training runs: one per trained architecture (run name = arch), and the "
                           "release's (tag `release`). Select runs and press Compare; Models -> fer-classifier "
                           "has the champion and challenger aliases and each version's promotion.reason.",
}
DEFAULT_DB = Path("mlflow.db")
DEFAULT_ARTIFACTS = Path("mlartifacts")


def tracking_uri() -> str:
    """MLFLOW_TRACKING_URI when set (a server or another store), else the project's SQLite file."""
    return os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{DEFAULT_DB.resolve()}"


def local_store_file() -> Path | None:
    """The SQLite file behind the tracking URI, or None for a server (or any other store)."""
    uri = tracking_uri()
    return Path(uri.removeprefix("sqlite:///")) if uri.startswith("sqlite:///") else None


def configure():
    """Point MLflow at the store and make sure the experiment exists; returns the mlflow module."""
    mlflow.set_tracking_uri(tracking_uri())
    if mlflow.get_experiment_by_name(EXPERIMENT) is None:
        location = None
        if tracking_uri().startswith("sqlite:"):
            location = DEFAULT_ARTIFACTS.resolve().as_uri()
        try:
            mlflow.create_experiment(EXPERIMENT, artifact_location=location, tags=EXPERIMENT_TAGS)
        except mlflow.exceptions.MlflowException:
            if mlflow.get_experiment_by_name(EXPERIMENT) is None:  # not a concurrent run creating it first
                raise
    experiment = mlflow.set_experiment(EXPERIMENT)
    for key, value in EXPERIMENT_TAGS.items():  # an experiment made before these tags existed gets them too
        if key not in experiment.tags:
            mlflow.set_experiment_tag(key, value)
    return mlflow


def runs_url(ui: str = "http://127.0.0.1:5000") -> str:
    """The MLflow UI's page of the experiment's runs (its landing page would be the GenAI overview)."""
    configure()
    experiment = mlflow.get_experiment_by_name(EXPERIMENT)
    return f"{ui.rstrip('/')}/#/experiments/{experiment.experiment_id}/runs"
