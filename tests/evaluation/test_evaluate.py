"""Metrics in plain numpy, and what the evaluate stage writes for DVC (metrics JSON, plots, CSVs)."""

import csv
import json

import numpy as np
import pytest

from fer_platform.evaluation.evaluate import metrics_summary, write_evaluation
from fer_platform.evaluation.metrics import classification_report, confusion_matrix
from fer_platform.labels import EMOTIONS, REPORT, SELECTION


def test_confusion_matrix_and_report_on_a_hand_checked_case():
    y_true = np.array([0, 0, 3, 3, 3, 6])
    y_pred = np.array([0, 3, 3, 3, 6, 6])
    cm = confusion_matrix(y_true, y_pred)
    assert cm[0, 0] == 1 and cm[0, 3] == 1 and cm[3, 3] == 2 and cm[3, 6] == 1 and cm[6, 6] == 1 and cm.sum() == 6
    report = classification_report(y_true, y_pred)
    assert report["accuracy"] == pytest.approx(4 / 6)
    assert report["per_class"]["angry"] == pytest.approx({"precision": 1.0, "recall": 0.5, "f1": 2 / 3, "support": 2})
    assert report["per_class"]["happy"]["precision"] == pytest.approx(2 / 3)
    # macro-F1 averages only the classes present in y_true (angry, happy, neutral)
    f1 = [2 / 3, 2 / 3, 2 / 3]
    assert report["macro_f1"] == pytest.approx(np.mean(f1))
    assert report["per_class"]["disgust"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 0}


def test_write_evaluation_gives_dvc_its_metrics_and_plot_files(tmp_path):
    rng = np.random.default_rng(0)
    reports = {}
    for split in (SELECTION, REPORT):
        y_true = rng.integers(0, 7, 50)
        y_pred = np.where(rng.random(50) < 0.6, y_true, rng.integers(0, 7, 50))
        reports[split] = {**classification_report(y_true, y_pred), "_true": y_true, "_predicted": y_pred}
    history = [{"epoch": e, "loss": 1.0 / e, "accuracy": 0.1 * e, "val_loss": 1.1 / e, "val_accuracy": 0.1 * e,
                "learning_rate": 0.001} for e in (1, 2, 3)]
    files = write_evaluation("cnn", reports, history, tmp_path / "metrics/cnn.json", tmp_path / "plots/cnn")
    metrics = json.loads((tmp_path / "metrics/cnn.json").read_text())
    # DVC's metrics file holds the headline numbers only; the per-class detail is in summary.json
    assert metrics == {s: {"accuracy": round(reports[k]["accuracy"], 4), "macro_f1": round(reports[k]["macro_f1"], 4)}
                       for s, k in (("publictest", SELECTION), ("privatetest", REPORT))}
    summary = json.loads(files["summary"].read_text())
    assert summary == metrics_summary("cnn", reports) and set(summary["publictest"]["recall"]) == set(EMOTIONS)
    with open(files["pred_privatetest"]) as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 50 and rows[0]["actual"] == EMOTIONS[reports[REPORT]["_true"][0]]
    with open(files["history"]) as fh:
        assert [row["epoch"] for row in csv.DictReader(fh)] == ["1", "2", "3"]
    for key in ("cm_publictest", "cm_privatetest", "curves"):
        assert files[key].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    report_json = json.loads(files["report_publictest"].read_text())
    assert "_true" not in report_json and report_json["n"] == 50


@pytest.mark.slow  # the full evaluation (25 perturbations, TTA) of real graphs
def test_evaluation_reports_flip_accuracy_beside_plain(small_dataset):
    """The committed release model on the small real subset: flip-TTA accuracy is the mean of a face's and its
    mirror's probabilities, reported per split (and in the DVC headline metrics)."""
    from fer_platform.config import load_params
    from fer_platform.evaluation.evaluate import evaluate_model, headline_metrics
    from fer_platform.models import load_model
    from fer_platform.models.inference import predict_probabilities
    from tests.conftest import REPO

    model = load_model(REPO / "release/model.keras")
    settings = load_params(REPO / "params.yaml").train_settings("resnet_compact")
    reports = evaluate_model(model, small_dataset, settings, robustness_faces=21)
    test = small_dataset.split(REPORT)
    both = predict_probabilities(model, test.images) + predict_probabilities(model, test.images[:, :, ::-1].copy())
    assert reports[REPORT]["flip_accuracy"] == pytest.approx(float((both.argmax(1) == test.labels).mean()))
    headline = headline_metrics(reports)
    assert set(headline["privatetest"]) == {"accuracy", "flip_accuracy", "macro_f1", "robustness_mean",
                                            "robustness_unseen_mean"}
    # The robustness suite scores a class-balanced subset (3 of each class's 6) perturbed; its flip is the mirror
    # alone (no averaging).
    from fer_platform.perturbations import balanced_subset

    robust = reports[REPORT]["robustness"]
    chosen = balanced_subset(test.labels, 21)
    assert robust["n"] == 21 and np.bincount(test.labels[chosen]).tolist() == [3] * 7
    mirrored = predict_probabilities(model, test.images[chosen][:, :, ::-1].copy()).argmax(1)
    assert robust["accuracy"]["flip"]["1"] == pytest.approx(float((mirrored == test.labels[chosen]).mean()))
    assert robust["trained_with"] == ["flip", "rotation", "scale", "shift"]  # the recipe's augment options
    unseen = [v for k, v in robust["per_perturbation"].items() if k not in robust["trained_with"]]
    assert robust["mean_unseen"] == pytest.approx(np.mean(unseen))
    assert headline["privatetest"]["robustness_unseen_mean"] == pytest.approx(np.mean(unseen), abs=1e-4)  # in DVC
    assert headline["privatetest"]["robustness_mean"] == round(np.mean(list(robust["per_perturbation"].values())), 4)


@pytest.mark.slow  # the full evaluation (25 perturbations, TTA) of real graphs
def test_a_model_trained_on_crops_also_reports_ten_crop_accuracy(small_dataset):
    """Plain (centre crop), flip and ten-crop accuracy of the same weights, on both splits."""
    from fer_platform.config import load_params
    from fer_platform.evaluation.evaluate import evaluate_model, headline_metrics
    from fer_platform.models import build_recipe_model
    from fer_platform.models.crops import with_tta
    from fer_platform.models.inference import predict_probabilities
    from tests.conftest import REPO

    settings = load_params(REPO / "params.yaml").train_settings("cnn")
    settings = settings.model_copy(update={"augment": settings.augment.model_copy(update={"crop": 44})})
    model = build_recipe_model(settings)
    reports = evaluate_model(model, small_dataset, settings, robustness_faces=7)
    test = small_dataset.split(REPORT)
    ten = predict_probabilities(with_tta(model, "ten_crop"), test.images)
    assert reports[REPORT]["ten_crop_accuracy"] == pytest.approx(float((ten.argmax(1) == test.labels).mean()))
    for split in headline_metrics(reports).values():
        assert set(split) == {"accuracy", "flip_accuracy", "ten_crop_accuracy", "macro_f1", "robustness_mean",
                              "robustness_unseen_mean"}


def _two_splits(rng) -> dict[str, dict]:
    reports = {}
    for split in (SELECTION, REPORT):
        y_true = rng.integers(0, 7, 50)
        y_pred = np.where(rng.random(50) < 0.6, y_true, rng.integers(0, 7, 50))
        reports[split] = {**classification_report(y_true, y_pred), "_true": y_true, "_predicted": y_pred}
    return reports


def test_the_field_split_is_in_the_metrics_and_summary_only_when_it_has_faces(tmp_path):
    """#27: accuracy and n on the field faces go into the DVC metrics and the summary, and no file is added (the
    stage's outputs are the same with or without field faces)."""
    reports, history = _two_splits(np.random.default_rng(1)), [{"epoch": 1, "val_accuracy": 0.5}]
    field = {"accuracy": 0.55, "macro_f1": 0.41, "n": 60}
    with_field = write_evaluation("cnn", reports, history, tmp_path / "a/cnn.json", tmp_path / "a/plots", field)
    without = write_evaluation("cnn", reports, history, tmp_path / "b/cnn.json", tmp_path / "b/plots")
    assert json.loads((tmp_path / "a/cnn.json").read_text())["field"] == {"accuracy": 0.55, "n": 60}
    assert json.loads(with_field["summary"].read_text())["field"] == field
    assert "field" not in json.loads((tmp_path / "b/cnn.json").read_text())
    assert "field" not in json.loads(without["summary"].read_text())
    assert set(with_field) == set(without)


@pytest.mark.slow  # a real graph (the release model) and a real MLflow store
def test_evaluate_reports_and_logs_accuracy_on_the_field_split(small_dataset, tmp_path, monkeypatch):
    """The field faces are scored by the model under evaluation: their accuracy and n reach the summary and the
    training run in MLflow (field_accuracy, field_n); no field faces, no field numbers."""
    from mlflow import MlflowClient

    from fer_platform.data.field import FieldFaces
    from fer_platform.evaluation.evaluate import field_report
    from fer_platform.models import load_model
    from fer_platform.models.inference import predict_probabilities
    from fer_platform.tracking.store import configure
    from fer_platform.tracking.training_runs import log_evaluation
    from tests.conftest import REPO

    model = load_model(REPO / "release/model.keras")
    faces = small_dataset.split("Training")  # faces from elsewhere than the selection and report splits
    report = field_report(model, FieldFaces(faces.images, faces.labels, faces.source_ids))
    right = predict_probabilities(model, faces.images).argmax(1) == faces.labels
    assert report["n"] == 42 and report["accuracy"] == round(float(right.mean()), 4)
    assert field_report(model, FieldFaces.empty()) is None

    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    with configure().start_run() as run:
        pass
    summary = metrics_summary("cnn", _two_splits(np.random.default_rng(2)), report)
    log_evaluation(run.info.run_id, summary, {})
    logged = MlflowClient().get_run(run.info.run_id).data.metrics
    assert logged["field_accuracy"] == report["accuracy"] and logged["field_n"] == 42
    with configure().start_run() as bare:
        pass
    log_evaluation(bare.info.run_id, metrics_summary("cnn", _two_splits(np.random.default_rng(2))), {})
    assert not [k for k in MlflowClient().get_run(bare.info.run_id).data.metrics if k.startswith("field")]
