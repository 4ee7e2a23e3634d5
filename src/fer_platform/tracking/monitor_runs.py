"""The monitor flow's MLflow runs: one per drift report, in an experiment of its own (params.yaml
`monitor.experiment`, default fer-monitor), so they never mix with training runs."""

from __future__ import annotations

from pathlib import Path

import mlflow

from fer_platform.tracking import store

EXPERIMENT_TAGS = {"mlflow.note.content": "Drift reports of the served model (python -m flows.monitor): one run per "
                                          "window of the prediction log against the reference; metrics psi_* "
                                          "and ks_* per field, drift 0/1; the HTML report is the run's artifact."}


def log_monitor_run(experiment: str, scores: dict[str, float], tags: dict[str, str], report: Path) -> str:
    """A finished run with the scores as metrics, `tags`, and the report as an artifact; returns its id."""
    mlflow.set_tracking_uri(store.tracking_uri())
    if mlflow.get_experiment_by_name(experiment) is None:
        location = store.DEFAULT_ARTIFACTS.resolve().as_uri() if store.local_store_file() else None
        try:
            mlflow.create_experiment(experiment, artifact_location=location, tags=EXPERIMENT_TAGS)
        except mlflow.exceptions.MlflowException:
            if mlflow.get_experiment_by_name(experiment) is None:  # not a concurrent run creating it first
                raise
    mlflow.set_experiment(experiment)
    with mlflow.start_run(run_name=f"drift {tags.get('verdict', '')}".strip()) as run:
        mlflow.set_tags(tags)
        mlflow.log_metrics(scores)
        mlflow.log_artifact(str(report))
    return run.info.run_id


def monitor_runs(experiment: str) -> list:
    """The experiment's runs, newest first (for tests and the CLI's summary)."""
    mlflow.set_tracking_uri(store.tracking_uri())
    found = mlflow.get_experiment_by_name(experiment)
    return [] if found is None else mlflow.search_runs([found.experiment_id], output_format="list",
                                                       order_by=["attributes.start_time DESC"])
