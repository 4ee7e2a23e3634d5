"""The team stack for real (README "Scaling out"): training on a Dask LocalCluster through the project's Prefect
deployment and a process worker, tracked on the MLflow server (PostgreSQL + S3); DVC pushing to and pulling
from the S3 server: the dataset, and a finished run's outputs into a teammate's clone."""

import json
import os
import re
import subprocess

import pytest
import yaml

from tests.conftest import REPO
from tests.quick_project import QUICK_EXPERIMENT, SHARED_REMOTE, make_project, run

pytestmark = pytest.mark.slow
ARCHS = ["cnn", "vgg19", "resnet32", "resnet_compact"]


def smoke_params(root, **pipeline) -> str:
    """params.yaml with the smoke profile and the given `pipeline` settings, as a team would edit it."""
    from fer_platform.config import apply_overrides, load_params

    raw = yaml.safe_load((root / "params.yaml").read_text())
    overrides = {**load_params(root / "params.yaml").profile("smoke"),
                 **{f"pipeline.{k}": v for k, v in pipeline.items()}}
    (root / "params.smoke.yaml").write_text(yaml.safe_dump(apply_overrides(raw, overrides), sort_keys=False))
    load_params(root / "params.smoke.yaml")
    return "params.smoke.yaml"


def test_training_runs_on_a_dask_cluster_through_the_prefect_deployment(tmp_path_factory, team_stack, prefect_api):
    root, env = make_project(tmp_path_factory.mktemp("dask") / "project")
    run(["dvc", "repro", "validate"], root, env, timeout=300)  # the dataset the trainings read
    params = smoke_params(root, task_runner="dask", train_workers=2)
    env = {**env, "MLFLOW_TRACKING_URI": team_stack.tracking_uri, "FER_PROJECT_DIR": str(root)}

    run(["prefect", "work-pool", "create", "fer-process", "--type", "process"], root, env)
    run(["prefect", "--no-prompt", "deploy", "--all"], root, env)  # prefect.yaml: pipeline and train
    created = run(["prefect", "deployment", "run", "train/train", "--param", f"params={params}"], root, env).stdout
    flow_run = re.search(r"UUID: ([0-9a-f-]{36})", created).group(1)
    worker = run(["prefect", "worker", "start", "--pool", "fer-process", "--run-once"], root, env, timeout=900)

    state = run(["prefect", "flow-run", "inspect", flow_run], root, env).stdout
    assert "COMPLETED" in state, state + worker.stdout[-3000:]
    logs = run(["prefect", "flow-run", "logs", flow_run], root, env).stdout
    flow_pid = int(re.search(r"train flow: pid (\d+) .*task runner dask", logs).group(1))
    trained = dict(re.findall(r"(\w+): best epoch \d+, .*trained by pid (\d+)", logs))
    assert sorted(trained) == sorted(ARCHS), logs
    pids = {int(p) for p in trained.values()}
    assert flow_pid not in pids and len(pids) == 2, (flow_pid, trained)  # the cluster's two worker processes

    from mlflow import MlflowClient

    client = MlflowClient(team_stack.tracking_uri)
    experiment = client.get_experiment_by_name("fer2013")
    runs = client.search_runs([experiment.experiment_id], "params.max_train_per_class = '20'")
    by_arch = {r.data.tags["arch_key"]: r for r in runs}
    assert sorted(by_arch) == sorted(ARCHS)
    for arch, r in by_arch.items():
        assert r.info.status == "FINISHED" and r.data.params["epochs"] == "1", arch
        assert client.search_logged_models([experiment.experiment_id],
                                           filter_string=f"source_run_id = '{r.info.run_id}'"), arch


def test_the_dataset_round_trips_through_the_s3_remote(tmp_path, team_stack):
    """`dvc push` of data.dvc to S3 from one clone, `dvc pull` into another with an empty cache: same hash."""
    sender, receiver = tmp_path / "sender", tmp_path / "receiver"
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["PATH"] = f"{REPO / '.venv' / 'bin'}:{env['PATH']}"
    for clone in (sender, receiver):
        subprocess.run(["git", "clone", "-q", str(REPO), str(clone)], check=True)
    run(["dvc", "remote", "modify", "--local", "shared", "url", str(SHARED_REMOTE)], sender, env)
    run(["dvc", "cache", "dir", "--local", str(REPO / ".dvc" / "cache")], sender, env)  # `make data` filled it
    run(["dvc", "fetch", "-q", "-r", "shared", "data.dvc"], sender, env, timeout=600)  # a no-op if it did
    pushed = run(["dvc", "push", "-r", "team", "data.dvc"], sender, team_stack.dvc_remote(sender, env), timeout=900)
    n_pushed = int(re.search(r"(\d+) files? pushed", pushed.stdout).group(1))
    assert n_pushed > 30000 and len(team_stack.objects(team_stack.DVC_BUCKET)) >= n_pushed

    s3_env = team_stack.dvc_remote(receiver, env)
    pulled = run(["dvc", "pull", "-r", "team", "data.dvc"], receiver, s3_env, timeout=900)
    n_files = yaml.safe_load((receiver / "data.dvc").read_text())["outs"][0]["nfiles"]  # duplicates: one object
    assert len([p for p in (receiver / "data").rglob("*") if p.is_file()]) == n_files, pulled.stdout[-2000:]
    status = run(["dvc", "status", "data.dvc"], receiver, s3_env).stdout
    assert "up to date" in status, status  # the pulled directory hashes to data.dvc's md5


def test_a_teammate_pulls_the_finished_quick_run_with_nothing_to_rerun(quick_project, team_stack, tmp_path):
    """The quick run's outputs pushed to S3; a fresh clone of its commit pulls them and `dvc status` is clean."""
    root, env = quick_project
    run(["dvc", "exp", "branch", QUICK_EXPERIMENT, "teammate"], root, env)
    pushed = run(["dvc", "push", "-r", "team", "ingest", "validate", "train", "evaluate", "promote", "package"],
                 root, team_stack.dvc_remote(root, env), timeout=900)
    assert "pushed" in pushed.stdout, pushed.stdout

    clone = tmp_path / "teammate"
    subprocess.run(["git", "clone", "-q", "-b", "teammate", str(root), str(clone)], check=True)
    s3_env = team_stack.dvc_remote(clone, env)
    # The dataset from the project's own remote (its S3 round trip is the test above); everything else from S3.
    run(["dvc", "remote", "modify", "--local", "shared", "url", str(SHARED_REMOTE)], clone, s3_env)
    run(["dvc", "pull", "-q", "-r", "shared", "data.dvc"], clone, s3_env, timeout=600)
    pulled = run(["dvc", "pull", "-r", "team"], clone, s3_env, timeout=900)
    assert re.search(r"\d+ files? (fetched|added)", pulled.stdout), pulled.stdout
    for arch in ARCHS:
        assert (clone / f"artifacts/models/{arch}/model.keras").exists(), arch
        assert (clone / f"artifacts/checkpoints/{arch}").is_dir(), arch
    status = run(["dvc", "status"], clone, s3_env).stdout
    assert "Data and pipelines are up to date" in status, status
    assert json.loads((clone / "reports/promotion.json").read_text()) == \
        json.loads((root / "reports/promotion.json").read_text())
