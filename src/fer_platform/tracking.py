"""MLflow adapter: where runs go, which tags every run carries. SQLite store by default, a server if configured."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import yaml

EXPERIMENT = "fer2013"
DEFAULT_DB = Path("mlflow.db")
DEFAULT_ARTIFACTS = Path("mlartifacts")


def tracking_uri() -> str:
    """MLFLOW_TRACKING_URI when set (a server or another store), else the project's SQLite file."""
    return os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{DEFAULT_DB.resolve()}"


def configure():
    """Point MLflow at the store and make sure the experiment exists; returns the mlflow module."""
    import mlflow

    mlflow.set_tracking_uri(tracking_uri())
    if mlflow.get_experiment_by_name(EXPERIMENT) is None:
        location = None
        if tracking_uri().startswith("sqlite:"):
            location = DEFAULT_ARTIFACTS.resolve().as_uri()
        mlflow.create_experiment(EXPERIMENT, artifact_location=location)
    mlflow.set_experiment(EXPERIMENT)
    return mlflow


def lineage_tags() -> dict[str, str]:
    """The data version (DVC hash in data.dvc) and code version (git commit) a run was made from."""
    tags = {"data.dvc_md5": _dvc_data_hash(), "git.commit": _git("rev-parse", "HEAD")}
    dirty = _git("status", "--porcelain", "--untracked-files=no")
    tags["git.dirty"] = "unknown" if dirty == "unknown" else str(bool(dirty)).lower()
    return tags


def _dvc_data_hash() -> str:
    try:
        outs = yaml.safe_load(Path("data.dvc").read_text())["outs"]
        return str(outs[0]["md5"])
    except (OSError, KeyError, IndexError, TypeError, yaml.YAMLError):
        return "unknown"


def _git(*args: str) -> str:
    try:
        return subprocess.run(["git", *args], capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
