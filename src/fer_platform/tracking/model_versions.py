"""Registered model versions: create one (with its alias and tags), find the one an alias points to, and copy
its files out. Promotion, the release bootstrap and the package stage all go through here."""

from __future__ import annotations

import contextlib
import fcntl
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import mlflow
from mlflow import MlflowClient
from mlflow.entities.model_registry import ModelVersion
from mlflow.exceptions import MlflowException

from fer_platform.errors import UserError
from fer_platform.tracking import store
from fer_platform.tracking.decision import CHALLENGER, CHAMPION

__all__ = ["CHALLENGER", "CHAMPION", "AliasMoved", "RegistryUnavailable", "alias_lock", "aliased_version", "downloaded_version",
           "log_to_run", "point_alias", "register_version"]
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
        raise RegistryUnavailable(f"cannot read {registered_model}@{alias} from the MLflow store at "
                                  f"{store.tracking_uri()}: {str(err).splitlines()[0][:300]}; nothing was changed "
                                  "(try again once the store is free or the server is up)") from err


def _is_missing_alias(err: MlflowException, registered_model: str, alias: str) -> bool:
    message = str(err)
    if err.error_code == "RESOURCE_DOES_NOT_EXIST":  # no such registered model
        return registered_model in message
    # MLflow reports an unknown alias as an invalid parameter; only that message means "no such alias".
    return err.error_code == "INVALID_PARAMETER_VALUE" and f"alias {alias} not found" in message


class RegistryUnavailable(UserError):
    """The registry could not be read (a locked store, a server that is down): never taken for "no champion"."""


class AliasMoved(RuntimeError):
    """`champion` changed between reading it and moving an alias (another promotion won the race)."""


@contextmanager
def alias_lock(registered_model: str) -> Iterator[None]:
    """Held from reading `champion` to moving an alias, so two promotions (or a promotion and the bootstrap) on
    one store decide one after the other: the second sees the first's result. A file lock beside a SQLite store;
    against a tracking server there is none, and `point_alias` re-checks `champion` just before the move."""
    db = store.local_store_file()
    if db is None:
        yield
        return
    lock_path = db.with_name(f"{db.name}.{registered_model}.alias.lock")
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_path, "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def register_version(registered_model: str, model_uri: str, tags: dict[str, str]) -> str:
    """Register `model_uri` as a new version (creating the registered model if needed) with `tags`, and no
    alias yet: whoever follows an alias always finds the version's tags (the reason it holds the alias)."""
    registry = client()
    try:
        registry.get_registered_model(registered_model)
    except MlflowException:
        with contextlib.suppress(MlflowException):  # created meanwhile by a concurrent promotion: fine
            registry.create_registered_model(registered_model, description=DESCRIPTION)
    version = str(mlflow.register_model(model_uri, registered_model).version)
    set_version_tags(registered_model, version, tags)
    return version


def set_version_tags(registered_model: str, version: str, tags: dict[str, str]) -> None:
    registry = client()
    for key, value in tags.items():
        registry.set_model_version_tag(registered_model, version, key, value)


def point_alias(registered_model: str, alias: str, version: str, champion_seen: str | None) -> None:
    """Point `alias` at `version`, unless `champion` no longer is `champion_seen` (the version the decision was
    made against): then AliasMoved, and nothing is moved."""
    now = aliased_version(registered_model, CHAMPION)
    now_version = None if now is None else str(now.version)
    if now_version != champion_seen:
        raise AliasMoved(f"{registered_model}@{CHAMPION} moved from version {champion_seen} to {now_version} "
                         "while this promotion was deciding")
    client().set_registered_model_alias(registered_model, alias, version)


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
