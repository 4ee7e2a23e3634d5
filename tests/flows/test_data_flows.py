"""Ingest and validate as real Prefect flow runs: from the command line (subprocesses, as DVC runs them)
and from Python. They report to the session's Prefect server, except the first: with PREFECT_API_URL unset
each run starts Prefect's temporary local API, the default of `make run`."""

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from tests.conftest import REPO, SMALL_MAX_BLANK_FRACTION, SMALL_SPLIT_SIZES

pytestmark = pytest.mark.slow  # stage processes reporting to a Prefect server


@pytest.fixture
def project(tmp_path, monkeypatch, prefect_api) -> Path:
    """A scratch project root: stages write relative to the working directory, as under `dvc repro`."""
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    params["validate"]["expected_split_sizes"] = SMALL_SPLIT_SIZES
    params["validate"]["max_blank_fraction"] = SMALL_MAX_BLANK_FRACTION
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    monkeypatch.chdir(tmp_path)
    return tmp_path


def stage(project: Path, name: str, *args: str, embedded: bool = False) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    if embedded:
        env.pop("PREFECT_API_URL", None)
    return subprocess.run([sys.executable, "-m", f"flows.{name}", *args], cwd=project, env=env,
                          capture_output=True, text=True, timeout=300)


def test_ingest_then_validate_from_the_command_line(project, small_fer):
    ingest = stage(project, "ingest", "--source", str(small_fer), embedded=True)
    assert ingest.returncode == 0, ingest.stderr
    assert "Starting temporary server" in ingest.stdout + ingest.stderr
    assert json.loads((project / "artifacts/dataset/manifest.json").read_text())["n_images"] == 126
    validate = stage(project, "validate", embedded=True)
    assert validate.returncode == 0, validate.stderr
    summary = json.loads((project / "reports/validation/summary.json").read_text())
    assert summary["success"] and summary["n_failed_expectations"] == 0
    assert (project / "reports/validation/data_docs/index.html").exists()


def test_corrupt_image_fails_ingest_naming_the_file(project, fer_copy):
    victim = sorted(fer_copy.glob("test/happy/PrivateTest_*.jpg"))[0]
    victim.write_bytes(os.urandom(500))
    result = stage(project, "ingest", "--source", str(fer_copy))
    assert result.returncode == 1
    assert f"{victim.name}: not a decodable image" in result.stderr
    assert not (project / "artifacts/dataset/fer2013.npz").exists()


def test_validation_errors_fail_the_stage(project, small_fer):
    assert stage(project, "ingest", "--source", str(small_fer)).returncode == 0
    params = yaml.safe_load((project / "params.yaml").read_text())
    params["validate"]["expected_split_sizes"]["PublicTest"] = 3589
    (project / "params.yaml").write_text(yaml.safe_dump(params))
    result = stage(project, "validate")
    assert result.returncode == 1
    assert "validation error" in result.stderr and "n_images" in result.stderr
    assert json.loads((project / "reports/validation/summary.json").read_text())["success"] is False


def test_bad_params_are_reported_in_one_line(project):
    (project / "params.yaml").write_text("data: {source: 3}\ntrain: {}\n")
    result = stage(project, "ingest")
    assert result.returncode == 1
    assert "data.source" in result.stderr and "Traceback" not in result.stderr


def test_flows_are_callable_from_python(project, small_fer):
    from flows.ingest import ingest_flow
    from flows.validate import validate_flow
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        assert ingest_flow(source=str(small_fer))["n_images"] == 126
        assert validate_flow()["success"]


def test_a_second_stage_waits_for_the_first(project, small_fer):
    """Stages run by hand hold no DVC lock: they take the project's stage lock, so two never interleave."""
    import fcntl

    lock = open(project / ".fer-stage.lock", "a+")  # noqa: SIM115  (held like a running stage holds it)
    fcntl.flock(lock, fcntl.LOCK_EX)
    lock.write("stage train (pid 1)\n")
    lock.flush()
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen([sys.executable, "-m", "flows.ingest", "--source", str(small_fer)], cwd=project, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        first_line = proc.stderr.readline()  # blocks until the stage says something: it must say it waits
        assert "ingest: waiting for stage train (pid 1) to finish" in first_line, first_line
        time.sleep(2)
        assert proc.poll() is None and not (project / "artifacts/dataset/fer2013.npz").exists()
    finally:
        fcntl.flock(lock, fcntl.LOCK_UN)
        lock.close()
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err
    assert (project / "artifacts/dataset/fer2013.npz").exists()


@pytest.mark.parametrize(("argv", "message"), [
    (["flows.ingest", "--source", "/nonexistent/fer2013.csv"], "ingest: error: /nonexistent/fer2013.csv: not found"),
    (["flows.train", "--arch", "nope"], "train: error: no train.archs.nope in params; configured: cnn"),
    (["flows.evaluate", "--arch", "cnn"], "evaluate: error: artifacts/dataset/fer2013.npz: not found (run the ingest"),
])
def test_wrong_arguments_and_missing_inputs_fail_in_one_line_before_any_flow_starts(project, argv, message):
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    began = time.perf_counter()
    out = subprocess.run([sys.executable, "-m", *argv], cwd=project, env=env, capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 1
    lines = [line for line in out.stderr.splitlines() if line.strip()]
    assert lines == [lines[0]] and lines[0].startswith(message), out.stderr  # one line, nothing else
    assert "prefect" not in out.stderr.lower() and time.perf_counter() - began < 30  # no flow run was started


def test_without_the_dvc_remote_your_own_kaggle_csv_is_the_way_in(tmp_path_factory, small_dataset, small_fer,
                                                                   prefect_api):
    """The README's way in without ../shared: `make data` says what to download and where it goes; with the
    challenge's fer2013.csv and `data.source` pointing at it, `make data` passes and `dvc repro ingest` reads it."""
    from fer_platform.data.readers import write_challenge_csv
    from tests.quick_project import make_project

    root, env = make_project(tmp_path_factory.mktemp("kaggle") / "project", pull_data=False)
    (root / ".dvc" / "config.local").unlink()  # no remote at all: the base config's ../shared is not beside it
    make = ["make", "-o", "setup", "data"]  # -o setup: the checkout's venv (on PATH), not a new one
    missing = subprocess.run(make, cwd=root, env=env, capture_output=True, text=True, timeout=120)
    assert missing.returncode != 0 and "kaggle.com" in missing.stderr and "Traceback" not in missing.stderr, missing

    (root / "data").mkdir(exist_ok=True)
    write_challenge_csv(small_dataset, root / "data" / "fer2013.csv")
    params = yaml.safe_load((root / "params.yaml").read_text())
    params["data"]["source"] = "data/fer2013.csv"
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    ready = subprocess.run(make, cwd=root, env=env, capture_output=True, text=True, timeout=120)
    assert ready.returncode == 0 and "data/fer2013.csv (CSV)" in ready.stdout, ready
    ingest = subprocess.run(["dvc", "repro", "ingest"], cwd=root, env=env, capture_output=True, text=True, timeout=600)
    assert ingest.returncode == 0, ingest.stdout[-3000:] + ingest.stderr[-3000:]
    manifest = json.loads((root / "artifacts" / "dataset" / "manifest.json").read_text())
    assert manifest["n_images"] == 126 and manifest["source"].endswith("fer2013.csv"), manifest
    # Kaggle's image folders, unpacked where the README says (data/fer2013/train|test/<emotion>/), are the other way
    shutil.copytree(small_fer, root / "data" / "fer2013")
    params["data"]["source"] = "data/fer2013"
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    folders = subprocess.run(make, cwd=root, env=env, capture_output=True, text=True, timeout=120)
    assert folders.returncode == 0 and "data/fer2013 (image folders)" in folders.stdout, folders
