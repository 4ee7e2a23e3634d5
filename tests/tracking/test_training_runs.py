"""Training runs in MLflow: epochs lost between checkpoint and log are backfilled, once."""

import pytest


def test_epochs_checkpointed_but_not_logged_are_backfilled_on_resume(tmp_path, monkeypatch):
    """A kill between the checkpoint write and the MLflow log must not lose that epoch in MLflow."""
    from mlflow import MlflowClient

    from fer_platform.tracking.store import configure
    from fer_platform.tracking.training_runs import backfill_epochs

    monkeypatch.chdir(tmp_path)
    store = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", store)
    mlflow = configure()
    history = [{"epoch": e, "loss": 2.0 - e / 10, "accuracy": 0.2 + e / 10, "val_loss": 1.9, "val_accuracy": 0.3,
                "learning_rate": 0.001} for e in (1, 2, 3)]
    with mlflow.start_run() as run:
        mlflow.log_metrics({"publictest_accuracy": 0.3}, step=2)  # only epoch 2 reached MLflow
        backfill_epochs(run.info.run_id, history)
        backfill_epochs(run.info.run_id, history)  # idempotent
    client = MlflowClient(tracking_uri=store)
    assert sorted(m.step for m in client.get_metric_history(run.info.run_id, "publictest_accuracy")) == [1, 2, 3]
    assert [m.value for m in sorted(client.get_metric_history(run.info.run_id, "train_accuracy"),
                                    key=lambda m: m.step)] == pytest.approx([0.3, 0.5])


def test_the_experiment_opens_on_its_training_runs(tmp_path, monkeypatch):
    """#25: MLflow 3's UI opened experiment fer2013 on its GenAI overview ("Traces 0"). The experiment is a model
    training one, described, and `make mlflow` prints the link to its runs table."""
    from fer_platform.tracking import store

    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    url = store.runs_url()
    experiment = store.mlflow.get_experiment_by_name(store.EXPERIMENT)
    assert experiment.tags["mlflow.experimentKind"] == "custom_model_development"
    assert "Compare" in experiment.tags["mlflow.note.content"]
    assert url == f"http://127.0.0.1:5000/#/experiments/{experiment.experiment_id}/runs"
