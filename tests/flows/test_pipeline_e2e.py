"""The quick profile end to end under `dvc exp run`: real DVC, Prefect (the session's server), Keras, and MLflow
on the team stack (a tracking server on PostgreSQL with S3 artifacts, tests/team_stack.py)."""

import json

import pytest

from tests.quick_project import run, tracking_uri

pytestmark = pytest.mark.slow
ARCHS = ["cnn", "vgg19", "resnet32", "resnet_compact"]


def quick(key: str):
    """A value of the quick profile (what the session's quick project ran with)."""
    from fer_platform.config import load_params
    from tests.conftest import REPO

    return load_params(REPO / "params.yaml").profile("quick")[key]


def test_quick_profile_logs_every_architecture_to_mlflow(quick_project):
    root, env = quick_project
    import mlflow
    from mlflow import MlflowClient

    mlflow.set_tracking_uri(tracking_uri(root, env))
    client = MlflowClient()
    experiment = client.get_experiment_by_name("fer2013")
    runs = client.search_runs([experiment.experiment_id])
    releases = [r for r in runs if r.data.tags.get("release") == "true"]  # the bootstrap's, tagged apart
    assert [r.data.tags["arch_key"] for r in releases] == ["resnet_compact+resnet32"]
    by_arch = {r.data.tags["arch_key"]: r for r in runs if r not in releases}
    assert sorted(by_arch) == sorted(ARCHS)
    for arch, r in by_arch.items():
        assert r.info.status == "FINISHED"
        assert r.data.params["epochs"] == str(quick("train.common.epochs")) and r.data.params["seed"] == "1337"
        for key in ("data.dvc_md5", "git.commit"):
            assert r.data.tags[key] not in ("", "unknown"), key
        assert r.data.tags["data.dvc_md5"] == "964bc4c3511368c6f72b7256f5c2d302.dir"
        for metric in ("train_loss", "train_accuracy", "publictest_loss", "publictest_accuracy"):
            assert [m.step for m in client.get_metric_history(r.info.run_id, metric)] == [1, 2, 3], metric
        for metric in ("privatetest_final_accuracy", "publictest_macro_f1", "privatetest_recall_happy",
                       "publictest_robustness_mean", "privatetest_robust_jpeg", "privatetest_pipeline_accuracy"):
            assert metric in r.data.metrics
        artifacts = {a.path for a in client.list_artifacts(r.info.run_id, "evaluation")}
        for name in ("confusion_matrix_publictest.png", "confusion_matrix_privatetest.png",
                     "classification_report_privatetest.json", "training_curves.png"):
            assert f"evaluation/{name}" in artifacts, (arch, name)
        assert "model_summary.txt" in {a.path for a in client.list_artifacts(r.info.run_id)}
        logged = client.search_logged_models([experiment.experiment_id],
                                             filter_string=f"source_run_id = '{r.info.run_id}'")
        assert logged, f"{arch}: no model logged"


def test_the_first_hour_path_release_stays_champion_and_the_quick_run_is_challenger(quick_project):
    """`make run` end to end: bootstrap makes the release champion (version 1); the quick run's best (near
    chance) is registered as `challenger` with the reason; the package stage still puts v1 in the BentoML
    store, the model `bentoml serve` serves (tests/serving serve that same release)."""
    root, env = quick_project
    from mlflow import MlflowClient

    decision = json.loads((root / "reports/promotion.json").read_text())
    best = max(ARCHS, key=lambda a: (json.loads((root / f"reports/metrics/{a}.json").read_text())
                                     ["publictest"]["accuracy"], a))
    assert decision["alias"] == "challenger" and decision["candidate"]["arch"] == best, decision
    client = MlflowClient(tracking_uri=tracking_uri(root, env), registry_uri=tracking_uri(root, env))
    champion = client.get_model_version_by_alias("fer-classifier", "champion")
    assert str(champion.version) == "1" and champion.tags["promotion.reason"].startswith("bootstrap")
    challenger = client.get_model_version_by_alias("fer-classifier", "challenger")
    assert str(challenger.version) == str(decision["version"]) != "1"
    assert challenger.tags["arch"] == best and challenger.tags["promotion.decision"] == "challenger"
    assert challenger.tags["promotion.reason"] == decision["reason"]
    # the faces compared, and the champion's own full-split figure beside its score on them (#25)
    n = decision["candidate"]["publictest_n"]
    assert f"on the same {n} PublicTest faces (a subset; its own record: 0.6704 on 3589" in decision["reason"]
    bento = json.loads((root / "reports/bento.json").read_text())
    assert str(bento["version"]) == "1" and bento["alias"] == "champion", bento
    served = json.loads(run(["bentoml", "models", "get", "fer-classifier:latest", "-o", "json"], root, env).stdout)
    assert served["labels"] == {"alias": "champion", "registry_version": "1"}, served
    assert str(served["metadata"]["version"]) == "1", served["metadata"]


def test_runs_models_and_aliases_live_in_postgresql_and_s3(quick_project, team_stack):
    """Not only through MLflow's API: the rows are in PostgreSQL and the files in the S3 bucket."""
    root, env = quick_project
    if env.get("MLFLOW_TRACKING_URI") != team_stack.tracking_uri:
        pytest.skip("a reused project (FER_TEST_QUICK_PROJECT) was tracked in SQLite")
    runs = dict(team_stack.query("SELECT run_uuid, artifact_uri FROM runs WHERE status = 'FINISHED'"))
    releases = {r for (r,) in team_stack.query("SELECT run_uuid FROM tags WHERE key = 'release' AND value = 'true'")}
    assert len(releases) == 1, releases  # the bootstrap's run: the release, with no evaluation of its own
    runs = {run_id: uri for run_id, uri in runs.items() if run_id not in releases}
    assert len(runs) >= len(ARCHS), runs
    keys = team_stack.objects(team_stack.MLFLOW_BUCKET)
    for run_id in runs:
        assert any(f"/{run_id}/artifacts/evaluation/confusion_matrix_privatetest.png" in k for k in keys), run_id
    assert any(k.endswith("model.keras") for k in keys), keys[:20]
    decision = json.loads((root / "reports/promotion.json").read_text())
    aliases = team_stack.query("SELECT alias, version FROM registered_model_aliases WHERE name = 'fer-classifier'")
    assert ("champion", 1) in aliases and (decision["alias"], int(decision["version"])) in aliases, aliases


def test_dvc_metrics_are_the_runs_own_evaluation_and_a_second_repro_is_a_no_op(quick_project):
    """What `dvc metrics show` and MLflow report for each architecture is this run's evaluation: the accuracy
    recomputed from the predictions it wrote (PrivateTest, n = 7 x max_eval_per_class faces)."""
    import csv

    from mlflow import MlflowClient

    root, env = quick_project
    shown = run(["dvc", "metrics", "show", "--json"], root, env).stdout
    files = next(iter(json.loads(shown).values()))["data"]
    client = MlflowClient(tracking_uri(root, env))
    for arch in ARCHS:
        with open(root / f"reports/plots/{arch}/predictions_privatetest.csv") as fh:
            rows = list(csv.DictReader(fh))
        assert len(rows) == 7 * quick("train.common.max_eval_per_class"), arch  # every class, capped
        recomputed = sum(r["actual"] == r["predicted"] for r in rows) / len(rows)
        dvc_value = files[f"reports/metrics/{arch}.json"]["data"]["privatetest"]["accuracy"]
        assert dvc_value == pytest.approx(recomputed, abs=5e-5), arch
        run_id = json.loads((root / f"artifacts/models/{arch}/run.json").read_text())["run_id"]
        logged = client.get_run(run_id).data.metrics["privatetest_final_accuracy"]
        assert logged == pytest.approx(recomputed, abs=5e-5), arch
        # The real-face numbers: the robustness mean is its perturbations' mean, the pipeline accuracy is
        # measured on the in_frame stage's faces (the quick profile's in_frame_faces per split, those Haar found).
        summary = json.loads((root / f"reports/plots/{arch}/summary.json").read_text())["privatetest"]
        per = summary["robustness"]["per_perturbation"]
        headline = files[f"reports/metrics/{arch}.json"]["data"]["privatetest"]
        assert headline["robustness_mean"] == pytest.approx(sum(per.values()) / len(per), abs=2e-4), arch
        unseen = [v for k, v in per.items() if k not in summary["robustness"]["trained_with"]]
        assert headline["robustness_unseen_mean"] == pytest.approx(sum(unseen) / len(unseen), abs=2e-4), arch
        tags = client.get_run(run_id).data.tags
        assert tags["robustness_trained_with"] == ",".join(summary["robustness"]["trained_with"]), arch
        framed = quick("evaluate.in_frame_faces")
        assert len(per) == 12 and summary["pipeline"]["n"] == framed and 0 < summary["pipeline"]["detected"] <= framed
    again = run(["dvc", "repro"], root, env)
    assert "Data and pipelines are up to date" in again.stdout, again.stdout
    status = run(["dvc", "status"], root, env).stdout
    assert "up to date" in status, status


def test_make_run_leaves_the_tracked_files_as_committed(quick_project):
    """params.yaml, dvc.lock and the committed metrics go back to HEAD after the quick profile: a later
    `dvc repro` runs the committed recipe, not the profile's values (the experiment keeps them)."""
    from tests.quick_project import STATUS_AFTER_RUN

    root, _ = quick_project
    status = root.parent / STATUS_AFTER_RUN
    if not status.exists():
        pytest.skip("a reused project (FER_TEST_QUICK_PROJECT) did not record its status")
    assert status.read_text() == "", status.read_text()


def test_dvc_compares_the_experiment_with_the_committed_recipe(quick_project):
    """`dvc exp show` has every experiment's headline metrics (not `!`), `dvc metrics diff` compares the
    workspace with HEAD's committed full-recipe metrics, and `dvc plots diff` draws the experiment's plots."""
    import csv
    import io

    root, env = quick_project
    rows = list(csv.DictReader(io.StringIO(run(["dvc", "exp", "show", "--csv"], root, env).stdout)))
    experiments = [r for r in rows if r["typ"] not in ("baseline",)]
    head = next(r for r in rows if r["rev"] not in ("workspace",) and r["typ"] == "baseline")
    assert experiments, rows
    for arch in ARCHS:
        column = f"reports/metrics/{arch}.json:privatetest.accuracy"
        assert 0 <= float(experiments[-1][column]) <= 1, (arch, experiments[-1])
        assert 0.6 < float(head[column]) < 0.75  # the committed full recipe's result
    metric_columns = [c for c in rows[0] if c.startswith("reports/metrics/")]
    # headline numbers only (accuracy, macro-F1, flip, the two robustness means, pipeline accuracy), no per-class
    assert len(metric_columns) <= 2 * 6 * len(ARCHS), metric_columns
    diff = json.loads(run(["dvc", "metrics", "diff", "--json"], root, env).stdout)
    for arch in ARCHS:
        change = diff[f"reports/metrics/{arch}.json"]["privatetest.accuracy"]
        assert isinstance(change["old"], float) and isinstance(change["new"], float)
    name = experiments[-1]["Experiment"]
    plots = json.loads(run(["dvc", "plots", "diff", name, "--json"], root, env).stdout)
    for arch in ARCHS:  # each evaluate stage's own plots (keyed by file), titled with its architecture
        for path, title in ((f"reports/plots/{arch}/predictions_publictest.csv", f"{arch}, PublicTest confusion"),
                            (f"reports/plots/{arch}/history.csv", f"{arch}, PublicTest accuracy per epoch")):
            entries = plots["data"][path]
            assert name in {rev for entry in entries for rev in entry["revisions"]}, path
            assert any(title in json.dumps(entry["content"]) for entry in entries), title
    # What the README's first hour types next (#25.4): `make compare` fits 120 columns and shows the headline
    # metrics; `dvc exp diff HEAD NAME` names the params the quick profile changed and the metrics it moved.
    compared = run(["python", "-m", "fer_platform.compare", "--width", "120"], root, env).stdout
    assert max(map(len, compared.splitlines())) <= 120 and "accuracy" in compared, compared
    assert "train.common.epochs" in compared, compared  # a param the profile changed, among those that differ
    exp_diff = json.loads(run(["dvc", "exp", "diff", "HEAD", name, "--json"], root, env).stdout)
    changed = exp_diff["params"]["params.yaml"]
    assert "train.common.epochs" in changed, sorted(changed)
    assert all(f"reports/metrics/{arch}.json" in exp_diff["metrics"] for arch in ARCHS), sorted(exp_diff["metrics"])


def test_changing_one_architecture_retrains_only_that_one(quick_project):
    root, env = quick_project
    import yaml

    params_path = root / "params.yaml"
    original = params_path.read_text()
    params = yaml.safe_load(original)
    params["train"]["archs"]["resnet32"]["model"]["widths"] = [16, 32, 48]
    try:
        params_path.write_text(yaml.safe_dump(params, sort_keys=False))
        stale = json.loads(run(["dvc", "status", "--json"], root, env).stdout)
    finally:
        params_path.write_text(original)
    assert "train@resnet32" in stale
    assert not {f"train@{a}" for a in ARCHS if a != "resnet32"} & set(stale)
    assert "ingest" not in stale and "validate" not in stale
