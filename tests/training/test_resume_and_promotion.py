"""Training resumes after a kill; the promotion gate never lets a worse model take `champion`.
Real components: the train stage as a subprocess (Prefect + Keras + MLflow on SQLite), a real registry."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import yaml

from fer_platform.config import apply_overrides
from fer_platform.data.ingest import ingest
from fer_platform.registry import CHALLENGER, CHAMPION, Candidate, decide
from tests.conftest import REPO


@pytest.fixture
def project(tmp_path, small_fer, monkeypatch) -> Path:
    params = apply_overrides(yaml.safe_load((REPO / "params.yaml").read_text()), {
        "train.common.epochs": 5, "train.common.warmup_epochs": 0, "train.common.batch_size": 16,
        "train.common.max_train_per_class": None})
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    ingest(small_fer, tmp_path / "artifacts/dataset/fer2013.npz", tmp_path / "artifacts/dataset/manifest.json")
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    return tmp_path


def _train_cmd(project: Path) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.Popen([sys.executable, "-m", "flows.train", "--arch", "cnn"], cwd=project, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)


def test_killed_training_resumes_and_finishes_the_planned_epochs(project):
    state_file = project / "artifacts/checkpoints/cnn/state.json"
    proc = _train_cmd(project)
    deadline = time.time() + 300
    while time.time() < deadline and proc.poll() is None:
        if state_file.exists() and json.loads(state_file.read_text())["epoch"] >= 1:
            break
        time.sleep(0.1)
    assert proc.poll() is None, "training ended before it could be killed:\n" + proc.stdout.read()
    os.killpg(proc.pid, signal.SIGKILL)  # the flow process and its temporary Prefect server
    proc.wait()
    killed_at = json.loads(state_file.read_text())
    assert 1 <= killed_at["epoch"] < 5

    resumed = _train_cmd(project)
    out, _ = resumed.communicate(timeout=600)
    assert resumed.returncode == 0, out
    assert f"resuming after epoch {killed_at['epoch']}/5" in out
    history = json.loads((project / "artifacts/models/cnn/history.json").read_text())
    assert [h["epoch"] for h in history] == [1, 2, 3, 4, 5]
    run = json.loads((project / "artifacts/models/cnn/run.json").read_text())
    assert run["run_id"] == killed_at["mlflow_run_id"] and run["epochs_completed"] == 5

    from mlflow import MlflowClient

    from fer_platform import tracking

    tracking.configure()
    steps = [m.step for m in MlflowClient().get_metric_history(run["run_id"], "publictest_accuracy")]
    assert sorted(steps) == [1, 2, 3, 4, 5]  # one value per epoch, none lost or doubled across the kill


def test_decide_gate():
    assert decide(0.60, None, 0.01)[0] == CHAMPION
    assert decide(0.62, 0.60, 0.01)[0] == CHAMPION
    assert decide(0.605, 0.60, 0.01)[0] == CHALLENGER
    alias, reason = decide(0.50, 0.60, 0.0)
    assert alias == CHALLENGER and "champion kept" in reason


def _log_model(model, name: str) -> tuple[str, str]:
    from fer_platform import tracking
    from fer_platform.training.fit import model_signature

    mlflow = tracking.configure()
    with mlflow.start_run(run_name=name) as run:
        info = mlflow.keras.log_model(model, name="model", signature=model_signature(),
                                      pip_requirements=["keras"])
    return run.info.run_id, info.model_uri


def test_worse_candidate_never_takes_champion(tmp_path, small_dataset, monkeypatch):
    import keras
    from mlflow import MlflowClient

    from fer_platform.registry import promote

    monkeypatch.chdir(tmp_path)
    store = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", store)
    sel = small_dataset.split("PublicTest")
    x, y = sel.images[..., None], sel.labels

    def accuracy(model) -> float:
        return float((model.predict(x, verbose=0).argmax(1) == y).mean())

    def softmax_regression():
        # The gate is under test, not an architecture: a BatchNorm-free model memorises 42 faces reliably.
        inputs = keras.Input((48, 48, 1), dtype="uint8")
        x = keras.layers.Flatten()(keras.layers.Rescaling(1 / 255)(inputs))
        return keras.Model(inputs, keras.layers.Dense(7, activation="softmax")(x))

    keras.utils.set_random_seed(7)
    weak = softmax_regression()  # untrained
    strong = softmax_regression()
    strong.compile(optimizer=keras.optimizers.Adam(1e-2), loss="sparse_categorical_crossentropy")
    strong.fit(x, y, epochs=100, batch_size=42, verbose=0)
    weak_acc, strong_acc = accuracy(weak), accuracy(strong)
    assert strong_acc > weak_acc + 0.1  # the premise: clearly better than the 0.01 margin

    def candidate(model, acc, arch):
        run_id, uri = _log_model(model, arch)
        return Candidate(arch, run_id, uri, acc, 0.0, len(y))

    client = MlflowClient(tracking_uri=store, registry_uri=store)  # not MLflow's process-global URI
    first = promote([candidate(weak, weak_acc, "weak")], "fer-test", 0.01, x[..., 0], y)
    assert first.alias == CHAMPION and first.version == "1"
    better = promote([candidate(strong, strong_acc, "strong")], "fer-test", 0.01, x[..., 0], y)
    assert better.alias == CHAMPION and better.version == "2"
    worse = promote([candidate(weak, weak_acc, "weak-again")], "fer-test", 0.01, x[..., 0], y)
    assert worse.alias == CHALLENGER and worse.previous_champion_version == "2"
    assert str(client.get_model_version_by_alias("fer-test", CHAMPION).version) == "2"
    assert str(client.get_model_version_by_alias("fer-test", CHALLENGER).version) == "3"
    tags = client.get_model_version("fer-test", "3").tags
    assert tags["promotion.decision"] == CHALLENGER and "champion kept" in tags["promotion.reason"]
    assert np.isclose(worse.champion_selection_accuracy, strong_acc)  # champion re-scored on these images


def test_epochs_checkpointed_but_not_logged_are_backfilled_on_resume(tmp_path, monkeypatch):
    """A kill between the checkpoint write and the MLflow log must not lose that epoch in MLflow."""
    from mlflow import MlflowClient

    from fer_platform import tracking
    from fer_platform.training.fit import _backfill_mlflow

    monkeypatch.chdir(tmp_path)
    store = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", store)
    mlflow = tracking.configure()
    history = [{"epoch": e, "loss": 2.0 - e / 10, "accuracy": 0.2 + e / 10, "val_loss": 1.9, "val_accuracy": 0.3,
                "learning_rate": 0.001} for e in (1, 2, 3)]
    with mlflow.start_run() as run:
        mlflow.log_metrics({"publictest_accuracy": 0.3}, step=2)  # only epoch 2 reached MLflow
        _backfill_mlflow(run.info.run_id, history)
        _backfill_mlflow(run.info.run_id, history)  # idempotent
    client = MlflowClient(tracking_uri=store)
    assert sorted(m.step for m in client.get_metric_history(run.info.run_id, "publictest_accuracy")) == [1, 2, 3]
    assert [m.value for m in sorted(client.get_metric_history(run.info.run_id, "train_accuracy"),
                                    key=lambda m: m.step)] == pytest.approx([0.3, 0.5])
