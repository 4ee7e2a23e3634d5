"""The team stack for real (docs/scaling-out.md): training on a Dask LocalCluster through the project's Prefect
deployment and a process worker, tracked on the MLflow server (PostgreSQL + S3); DVC pushing to and pulling
from the S3 server: the dataset, and a finished run's outputs into a teammate's clone."""

import json
import os
import re
import subprocess

import pytest
import yaml

from tests.conftest import REPO, SMALL_MAX_BLANK_FRACTION, SMALL_SPLIT_SIZES
from tests.quick_project import QUICK_EXPERIMENT, link_dataset_cache, make_project, run

pytestmark = pytest.mark.slow
ARCHS = ["cnn", "vgg19", "resnet32", "resnet_compact"]


def smoke_params(root, source, **pipeline) -> str:
    """params.yaml with the smoke profile on the dataset at `source` (the 126-face subset) and the given
    `pipeline` settings, as a team would edit it. Its promotions go to a registered model of their own: the
    quick project shares this tracking server."""
    from fer_platform.config import apply_overrides, load_params

    raw = yaml.safe_load((root / "params.yaml").read_text())
    overrides = {**load_params(root / "params.yaml").profile("smoke"),
                 **{f"pipeline.{k}": v for k, v in pipeline.items()},
                 "data.source": str(source), "validate.expected_split_sizes": SMALL_SPLIT_SIZES,
                 "validate.max_blank_fraction": SMALL_MAX_BLANK_FRACTION,
                 "promote.registered_model": "fer-classifier-smoke"}
    (root / "params.smoke.yaml").write_text(yaml.safe_dump(apply_overrides(raw, overrides), sort_keys=False))
    load_params(root / "params.smoke.yaml")
    return "params.smoke.yaml"


def test_the_pipeline_deployment_runs_through_a_worker_and_trains_on_a_dask_cluster(tmp_path_factory, team_stack,
                                                                                    prefect_api, small_fer):
    """prefect.yaml's `pipeline` deployment (every stage a subflow) run once by a process worker: ingest,
    validate, the trainings on a 2-process Dask LocalCluster, evaluate, promote (packaging is the quick
    project's). Deploying loads both deployments' flows; `train` runs here as the pipeline's subflow."""
    root, env = make_project(tmp_path_factory.mktemp("dask") / "project", pull_data=False)
    params = smoke_params(root, small_fer, task_runner="dask", train_workers=2)
    env = {**env, "MLFLOW_TRACKING_URI": team_stack.tracking_uri, "FER_PROJECT_DIR": str(root)}

    run(["prefect", "work-pool", "create", "fer-process", "--type", "process"], root, env)
    deployed = run(["prefect", "--no-prompt", "deploy", "--all"], root, env).stdout  # prefect.yaml
    assert "pipeline/pipeline" in deployed and "train/train" in deployed, deployed
    created = run(["prefect", "deployment", "run", "pipeline/pipeline", "--param", f"params={params}",
                   "--param", "package=false"], root, env).stdout
    flow_run = re.search(r"UUID: ([0-9a-f-]{36})", created).group(1)
    worker = run(["prefect", "worker", "start", "--pool", "fer-process", "--run-once"], root, env, timeout=900)

    state = run(["prefect", "flow-run", "inspect", flow_run], root, env).stdout
    assert "COMPLETED" in state, state + worker.stdout[-3000:]
    logs = run(["prefect", "flow-run", "logs", flow_run], root, env).stdout
    assert re.search(r"pipeline done: \w+ -> @(champion|challenger)", logs), logs[-3000:]
    report = json.loads((root / "reports/pipeline.json").read_text())
    assert report["ingest"]["n_images"] == 126 and report["validate"]["success"], report
    assert report["in_frame"]["PublicTest"]["faces"] == 28, report["in_frame"]  # the smoke profile's 4 per class
    assert sorted(e["arch"] for e in report["evaluate"]) == sorted(ARCHS), report["evaluate"]
    flow_pid = report["pid"]  # the train subflow runs in the pipeline's process; its trainings on the cluster
    trained = {r["arch"]: r["pid"] for r in report["train"]}
    assert sorted(trained) == sorted(ARCHS), report["train"]
    pids = set(trained.values())
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


def test_a_dataset_version_round_trips_through_the_s3_remote(tmp_path, team_stack, small_fer):
    """A new data version (`dvc add` of a 126-face FER2013 subset, committed) is pushed to S3 from one clone
    and pulled into a clone of that commit with an empty cache: every file back, hashing to the committed
    md5. (The whole 35,887-file data.dvc takes the same path in ~6 minutes; the mechanism is the same.)"""
    import shutil

    sender, receiver = tmp_path / "sender", tmp_path / "receiver"
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["PATH"] = f"{REPO / '.venv' / 'bin'}:{env['PATH']}"
    subprocess.run(["git", "clone", "-q", str(REPO), str(sender)], check=True)
    shutil.copytree(small_fer, sender / "data" / "fer2013")
    run(["dvc", "add", "-q", "data"], sender, env)
    run(["git", "-c", "user.name=t", "-c", "user.email=t@localhost", "commit", "-qm", "a subset", "data.dvc"],
        sender, env)
    pushed = run(["dvc", "push", "-r", "team", "data.dvc"], sender, team_stack.dvc_remote(sender, env), timeout=600)
    n_files = yaml.safe_load((sender / "data.dvc").read_text())["outs"][0]["nfiles"]
    assert n_files == 126
    n_pushed = int(re.search(r"(\d+) files? pushed", pushed.stdout).group(1))
    assert n_pushed > 0 and len(team_stack.objects(team_stack.DVC_BUCKET)) >= n_pushed  # identical files: one object

    subprocess.run(["git", "clone", "-q", str(sender), str(receiver)], check=True)
    s3_env = team_stack.dvc_remote(receiver, env)
    pulled = run(["dvc", "pull", "-r", "team", "data.dvc"], receiver, s3_env, timeout=600)
    assert len([p for p in (receiver / "data").rglob("*") if p.is_file()]) == n_files, pulled.stdout[-2000:]
    status = run(["dvc", "status", "data.dvc"], receiver, s3_env).stdout
    assert "up to date" in status, status  # the pulled directory hashes to data.dvc's md5


def test_a_teammate_pulls_the_finished_quick_run_with_nothing_to_rerun(quick_project, team_stack, tmp_path):
    """The quick run's outputs pushed to S3; a fresh clone of its commit pulls them and `dvc status` is clean."""
    root, env = quick_project
    run(["dvc", "exp", "branch", QUICK_EXPERIMENT, "teammate"], root, env)
    pushed = run(["dvc", "push", "-r", "team", "ingest", "validate", "in_frame", "train", "evaluate", "promote",
                  "package"],
                 root, team_stack.dvc_remote(root, env), timeout=900)
    assert "pushed" in pushed.stdout, pushed.stdout

    clone = tmp_path / "teammate"
    subprocess.run(["git", "clone", "-q", "-b", "teammate", str(root), str(clone)], check=True)
    s3_env = team_stack.dvc_remote(clone, env)
    # The dataset is the checkout's (its S3 round trip is the test above): its cache objects are hard-linked into
    # the clone's own cache and checked out, which copied 35,887 files twice from the shared remote before.
    # Only the dataset's objects: the quick run's outputs must come from S3.
    link_dataset_cache(REPO, clone)
    run(["dvc", "config", "--local", "cache.type", "hardlink,copy"], clone, s3_env)
    run(["dvc", "checkout", "-q", "data.dvc"], clone, s3_env, timeout=600)
    pulled = run(["dvc", "pull", "-r", "team"], clone, s3_env, timeout=900)
    assert re.search(r"\d+ files? (fetched|added)", pulled.stdout), pulled.stdout
    for arch in ARCHS:
        assert (clone / f"artifacts/models/{arch}/model.keras").exists(), arch
        assert (clone / f"artifacts/checkpoints/{arch}").is_dir(), arch
    status = run(["dvc", "status"], clone, s3_env).stdout
    assert "Data and pipelines are up to date" in status, status
    assert json.loads((clone / "reports/promotion.json").read_text()) == \
        json.loads((root / "reports/promotion.json").read_text())
