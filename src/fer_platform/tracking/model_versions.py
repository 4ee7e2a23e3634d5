"""Registered model versions: create one (with its alias and tags), find the one an alias points to, and copy
its files out. Promotion, the release bootstrap and the package stage all go through here."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import mlflow
from mlflow import MlflowClient
from mlflow.entities.model_registry import ModelVersion
from mlflow.exceptions import MlflowException

from fer_platform.tracking import store
from fer_platform.tracking.decision import CHALLENGER, CHAMPION

__all__ = ["CHALLENGER", "CHAMPION", "aliased_version", "downloaded_version", "log_to_run", "register_version"]
DESCRIPTION = "FER2013 facial-expression classifier (7 labels, 48x48 uint8 input)"


def client() -> MlflowClient:
    store.configure()
    return MlflowClient()


def aliased_version(registered_model: str, alias: str) -> ModelVersion | None:
    """The version `alias` points to, or None when the registry definitely has no such alias (or model).

    Fails closed: any other error (a locked SQLite store, a tracking server that is down) is raised, never
    read as "no champion yet", which would let any candidate, or the bootstrap, replace the team's champion."""
    try:
        return client().get_model_version_by_alias(registered_model, alias)
    except MlflowException as err:
        if _is_missing_alias(err, registered_model, alias):
            return None
        raise


def _is_missing_alias(err: MlflowException, registered_model: str, alias: str) -> bool:
    message = str(err)
    if err.error_code == "RESOURCE_DOES_NOT_EXIST":  # no such registered model
        return registered_model in message
    # MLflow reports an unknown alias as an invalid parameter; only that message means "no such alias".
    return err.error_code == "INVALID_PARAMETER_VALUE" and f"alias {alias} not found" in message


def register_version(registered_model: str, model_uri: str, alias: str, tags: dict[str, str]) -> str:
    """Register `model_uri` as a new version (creating the registered model if needed), point `alias` at it
    and record `tags` on it. Used by the promotion gate and by the release bootstrap."""
    registry = client()
    try:
        registry.get_registered_model(registered_model)
    except MlflowException:
        registry.create_registered_model(registered_model, description=DESCRIPTION)
    version = str(mlflow.register_model(model_uri, registered_model).version)
    registry.set_registered_model_alias(registered_model, alias, version)
    for key, value in tags.items():
        registry.set_model_version_tag(registered_model, version, key, value)
    return version


def run_metrics(run_id: str | None, prefixes: tuple[str, ...], names: tuple[str, ...]) -> dict[str, float]:
    """A run's final metrics whose names start with `prefixes` or are in `names` (rounded); {} if unknown."""
    if not run_id:
        return {}
    try:
        metrics = client().get_run(run_id).data.metrics
    except MlflowException:
        return {}
    return {k: round(v, 4) for k, v in metrics.items() if k.startswith(prefixes) or k in names}


@contextmanager
def downloaded_version(registered_model: str, alias: str) -> Iterator[tuple[ModelVersion, Path]]:
    """The aliased version and a temporary local copy of its files (removed after the block)."""
    version = aliased_version(registered_model, alias)
    if version is None:
        raise FileNotFoundError(
            f"no {registered_model}@{alias} in the MLflow registry at {store.tracking_uri()} "
            "(run the promote stage, or `make bootstrap` to register the release model)"
        )
    with tempfile.TemporaryDirectory() as tmp:
        local = mlflow.artifacts.download_artifacts(f"models:/{registered_model}/{version.version}", dst_path=tmp)
        yield version, Path(local)


def log_to_run(run_id: str, files: list[Path], metrics: dict[str, float], artifact_path: str) -> None:
    """Add files and metrics to a finished run (the serving export of a registered version)."""
    store.configure()
    with mlflow.start_run(run_id=run_id):
        mlflow.log_metrics(metrics)
        for path in files:
            mlflow.log_artifact(str(path), artifact_path=artifact_path)
