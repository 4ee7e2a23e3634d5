"""The loop against the real pieces (#27): the release's `bentoml serve` logs what it answers, the monitor flow
compares a window of that log with the reference packaged beside the model, logs an MLflow run, and a drifted
window emits the Prefect event on which prefect.yaml's `train` deployment has a trigger: a flow run of it is
created on the real Prefect server (it need not execute: no worker here). An undrifted window does none of that."""

from __future__ import annotations

import asyncio
import base64
import json
import shutil
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from uuid import UUID

import httpx
import numpy as np
import pytest

from tests.conftest import REPO

pytestmark = pytest.mark.slow
STREAM = 300  # faces per stream: over monitor.min_faces (200), sent as /predict requests of 60


POOL = "fer-monitor-test"  # not prefect.yaml's fer-process: no worker of another test may pick the run up


def deploy_train(tmp_path: Path, env: dict) -> str:
    """prefect.yaml's `train` deployment (with its drift trigger) on the session's Prefect server, in a work pool
    of its own; its id."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import WorkPoolCreate

    async def pool_or_id(deployed: bool):
        async with get_client() as client:
            if deployed:
                return str((await client.read_deployment_by_name("train/train")).id)
            await client.create_work_pool(WorkPoolCreate(name=POOL, type="process"), overwrite=True)

    asyncio.run(pool_or_id(False))
    tmp_path.mkdir()
    shutil.copy2(REPO / "prefect.yaml", tmp_path / "prefect.yaml")
    (tmp_path / "flows").symlink_to(REPO / "flows")
    prefect = str(Path(sys.executable).with_name("prefect"))
    out = subprocess.run([prefect, "--no-prompt", "deploy", "--name", "train", "--pool", POOL], check=False,
                         cwd=tmp_path, env={**env, "FER_PROJECT_DIR": str(tmp_path)}, capture_output=True,
                         text=True, timeout=300)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
    return asyncio.run(pool_or_id(True))


def undeploy(deployment_id: str) -> None:
    """The session's Prefect server as it was: no train deployment, trigger, flow run or pool of this test's
    (another test deploys prefect.yaml there and runs a worker on it)."""
    from prefect.client.orchestration import get_client

    async def clean():
        async with get_client() as client:
            for run in await client.read_flow_runs(deployment_filter=_only(deployment_id)):
                await client.delete_flow_run(run.id)
            await client.delete_resource_owned_automations(f"prefect.deployment.{deployment_id}")
            await client.delete_deployment(UUID(deployment_id))
            await client.delete_work_pool(POOL)
    asyncio.run(clean())


def _only(deployment_id: str):
    from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterId

    return DeploymentFilter(id=DeploymentFilterId(any_=[UUID(deployment_id)]))


def flow_runs(deployment_id: str) -> list:
    from prefect.client.orchestration import get_client

    async def read():
        async with get_client() as client:
            return await client.read_flow_runs(deployment_filter=_only(deployment_id))
    return asyncio.run(read())


def send(url: str, faces: np.ndarray, log_dir: Path) -> None:
    """/predict in requests of 60 faces; returns once the log holds every answered face."""
    ids = set()
    for i in range(0, len(faces), 60):
        r = httpx.post(f"{url}/predict", json={"faces_b64": base64.b64encode(faces[i:i + 60].tobytes()).decode()},
                       timeout=60)
        assert r.status_code == 200, r.text
        ids |= {f["id"] for f in r.json()["faces"]}
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        logged = {json.loads(line)["face_id"] for p in log_dir.glob("predictions.jsonl*")
                  for line in p.read_text().splitlines()}
        if ids <= logged:
            return
        time.sleep(0.2)
    raise AssertionError(f"{len(ids - logged)} answered faces not in the log")


def test_a_drifted_stream_retrains_through_the_trigger_and_an_undrifted_one_does_not(
        release_server, release_project, prefect_api, tmp_path, monkeypatch):
    from flows.monitor import DRIFT_EVENT, monitor_flow

    from fer_platform.data.dataset import load_dataset
    from fer_platform.labels import EMOTIONS
    from fer_platform.packaging.reference import reference_faces
    from fer_platform.tracking.monitor_runs import monitor_runs

    root, env = release_project
    (reference_path,) = (root / "bentoml_home" / "models" / "fer-classifier").glob("*/reference.json")
    reference = json.loads(reference_path.read_text())  # the package stage stored it with the served model
    assert reference["split"] == "PublicTest" and reference["n"] == 500 and sum(reference["labels"].values()) == 500

    deployment = deploy_train(tmp_path / "deploy", {**env, "PREFECT_API_URL": prefect_api})
    try:
        public = load_dataset(root / "artifacts/dataset/fer2013.npz").split("PublicTest").images
        seen = {f.tobytes() for f in reference_faces(public, 500)}
        unseen = np.stack([f for f in public if f.tobytes() not in seen])  # PublicTest, not the reference's faces
        # a random sample: the split is stored label by label, so its first faces would be a one-label stream
        unseen = unseen[np.random.default_rng(0).choice(len(unseen), STREAM, replace=False)]
        brighter = np.clip(unseen.astype(np.int16) + 60, 0, 255).astype(np.uint8)  # a new camera's exposure

        monkeypatch.chdir(tmp_path)  # the MLflow artifacts and the reports land here
        monkeypatch.setenv("MLFLOW_TRACKING_URI", env["MLFLOW_TRACKING_URI"])
        log_dir = root / "logs" / "predictions"
        results = {}
        for name, faces in (("undrifted", unseen), ("drifted", brighter)):
            since = datetime.now(UTC).isoformat()
            send(release_server.url, faces, log_dir)
            results[name] = monitor_flow(log=str(log_dir), reference=str(reference_path), since=since,
                                         params=str(REPO / "params.yaml"), out=str(tmp_path / "reports"))
            if name == "undrifted":
                time.sleep(2)  # what a trigger would have made by now: nothing
                assert flow_runs(deployment) == [], "an undrifted window started a training"

        calm, drifted = results["undrifted"], results["drifted"]
        for name, result in results.items():  # PSI per field (docs/monitoring.md quotes them)
            print(f"\n{name}: {json.dumps({f: r['psi'] for f, r in result['fields'].items()})} "
                  f"label {result['labels']['psi']}; drifted: {result['drifted']}")
        assert calm["n"] == STREAM and calm["verdict"] == "no drift" and "event_id" not in calm, calm["drifted"]
        assert drifted["n"] == STREAM and "brightness" in drifted["drifted"] and drifted["event_id"]
        deadline = time.monotonic() + 30
        while not (runs := flow_runs(deployment)) and time.monotonic() < deadline:
            time.sleep(0.5)
        assert len(runs) == 1, f"no flow run of train/train after the {DRIFT_EVENT} event"

        # Two more streams through the service (#27.6): faces of another split of the same population (PrivateTest)
        # are not drift; faces of one expression only (a camera over a comedy club) drift on the label mix.
        private = load_dataset(root / "artifacts/dataset/fer2013.npz").split("PrivateTest")
        rng = np.random.default_rng(1)
        other_split = private.images[rng.choice(len(private.images), STREAM, replace=False)]
        happy = private.images[private.labels == EMOTIONS.index("happy")]
        one_label = happy[rng.choice(len(happy), STREAM, replace=False)]
        for name, faces in (("another split", other_split), ("one label", one_label)):
            since = datetime.now(UTC).isoformat()
            send(release_server.url, faces, log_dir)
            results[name] = monitor_flow(log=str(log_dir), reference=str(reference_path), since=since,
                                         params=str(REPO / "params.yaml"), out=str(tmp_path / "reports"))
            print(f"{name}: label PSI {results[name]['labels']['psi']}; drifted: {results[name]['drifted']}")
        assert results["another split"]["verdict"] == "no drift", results["another split"]["drifted"]
        assert "label" in results["one label"]["drifted"] and results["one label"]["event_id"]

        logged = {r.info.run_id: r for r in monitor_runs("fer-monitor")}
        for result in results.values():
            run = logged[result["mlflow_run_id"]]
            assert run.data.tags["verdict"] == result["verdict"] and run.data.metrics["n"] == STREAM
        assert logged[drifted["mlflow_run_id"]].data.metrics["psi_brightness"] >= 0.2
        page = Path(drifted["report"]).read_text()
        assert "<b>drift</b>" in page and page.count("data:image/png;base64,") == 2
    finally:
        undeploy(deployment)
