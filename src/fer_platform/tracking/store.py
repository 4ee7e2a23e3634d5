"""Where runs go and which tags every run carries: the project's SQLite store by default, a server if configured."""

from __future__ import annotations

import os
from pathlib import Path

import mlflow

EXPERIMENT = "fer2013"
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
            mlflow.create_experiment(EXPERIMENT, artifact_location=location)
        except mlflow.exceptions.MlflowException:
            if mlflow.get_experiment_by_name(EXPERIMENT) is None:  # not a concurrent run creating it first
                raise
    mlflow.set_experiment(EXPERIMENT)
    return mlflow
