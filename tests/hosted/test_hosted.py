"""Training on a host without the MLOps stack, then importing here: the same fit code, a checked fingerprint,
and an imported run that the normal train stage logs to MLflow (real subprocesses, real SQLite MLflow)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from fer_platform.data.ingest import ingest
from fer_platform.data.pack import pack_image_folders
from tests.conftest import REPO
from tests.training.recipes import small_cnn_raw

# One worker for the module: its fixture is a training (~20 s), which ran once per worker the tests were spread on.
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("hosted")]


def _run(args, cwd, **env):
    return subprocess.run([sys.executable, "-m", *args], cwd=cwd, capture_output=True, text=True, timeout=900,
                          env={**os.environ, "PYTHONPATH": str(REPO), **env})


@pytest.fixture(scope="module")
def hosted(small_fer, tmp_path_factory):
    """One tiny hosted run of resnet32 (2 epochs, the quick profile's widths) from a pack, as a GPU host would do
    it: the host's code path, not the architecture's cost, is what is tested here."""
    root = tmp_path_factory.mktemp("hosted")
    params = small_cnn_raw(**{"train.common.epochs": 2})
    (root / "params.yaml").write_text(yaml.safe_dump(params))
    pack_image_folders(small_fer, root / "pack.npz")
    proc = _run(["fer_platform.hosted", "train", "--images-pack", "pack.npz", "--out", "out",
                 "--work", "work", "--arch", "resnet32", "--return-weights", "resnet32", "--deadline-s", "600"],
                root)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return root


def test_host_returns_results_and_weights(hosted):
    assert (hosted / "out/results.tar.gz").exists() and (hosted / "out/resnet32.keras").exists()
    result = json.loads((hosted / "work/resnet32/result.json").read_text())
    assert result["epochs_completed"] == 2 and not result["truncated_by_deadline"]
    assert result["trained_on"]["backend"] and result["summary"]["privatetest"]["n"] == 42


def test_import_installs_a_finished_checkpoint_that_the_train_stage_logs(hosted, small_fer, tmp_path, prefect_api):
    ingest(small_fer, tmp_path / "artifacts/dataset/fer2013.npz", tmp_path / "artifacts/dataset/manifest.json")
    (tmp_path / "params.yaml").write_text((hosted / "params.yaml").read_text())
    proc = _run(["fer_platform.hosted", "import", str(hosted / "out")], tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    state = json.loads((tmp_path / "artifacts/checkpoints/resnet32/state.json").read_text())
    assert state["epoch"] == 2 and state["trained_on"]["keras"]

    proc = _run(["flows.train", "--arch", "resnet32"], tmp_path, MLFLOW_TRACKING_URI="")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "resuming after epoch 2/2" in proc.stdout + proc.stderr  # nothing retrained
    run = json.loads((tmp_path / "artifacts/models/resnet32/run.json").read_text())
    import mlflow

    mlflow.set_tracking_uri(f"sqlite:///{tmp_path / 'mlflow.db'}")
    logged = mlflow.MlflowClient().get_run(run["run_id"])
    assert logged.data.tags["trained_on.backend"] == state["trained_on"]["backend"]
    steps = mlflow.MlflowClient().get_metric_history(run["run_id"], "publictest_accuracy")
    assert sorted(m.step for m in steps) == [1, 2]


def test_import_refuses_results_trained_with_other_params(hosted, small_fer, tmp_path):
    ingest(small_fer, tmp_path / "artifacts/dataset/fer2013.npz", tmp_path / "artifacts/dataset/manifest.json")
    params = yaml.safe_load((hosted / "params.yaml").read_text())
    params["train"]["common"]["seed"] = 7
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    proc = _run(["fer_platform.hosted", "import", str(hosted / "out")], tmp_path)
    assert proc.returncode == 1 and "other settings than params.yaml" in proc.stderr
    assert not (tmp_path / "artifacts/checkpoints/resnet32").exists()
