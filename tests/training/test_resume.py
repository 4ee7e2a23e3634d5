"""Training resumes after a kill: the train stage as a subprocess (Prefect + Keras + MLflow on SQLite),
SIGKILLed mid-run, then run again."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from fer_platform.data.ingest import ingest
from tests.conftest import REPO
from tests.training.recipes import small_cnn_raw


pytestmark = pytest.mark.slow  # trains, in a stage process with a Prefect server


@pytest.fixture
def project(tmp_path, small_fer, monkeypatch, prefect_api) -> Path:
    params = small_cnn_raw(**{"train.common.epochs": 5})
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
    # The epochs finished before the kill were kept as they were, not trained again.
    assert history[:killed_at["epoch"]] == killed_at["history"]
    run = json.loads((project / "artifacts/models/cnn/run.json").read_text())
    assert run["run_id"] == killed_at["mlflow_run_id"] and run["epochs_completed"] == 5

    from mlflow import MlflowClient

    from fer_platform.tracking.store import configure

    configure()
    steps = [m.step for m in MlflowClient().get_metric_history(run["run_id"], "publictest_accuracy")]
    assert sorted(steps) == [1, 2, 3, 4, 5]  # one value per epoch, none lost or doubled across the kill
