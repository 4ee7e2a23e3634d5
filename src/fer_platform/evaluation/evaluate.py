"""Evaluate a trained model on PublicTest (selection) and PrivateTest (report), and on the field split when it
holds faces (data.field), and write DVC metrics/plots."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from fer_platform.config import EvaluateSettings, TrainSettings
from fer_platform.data.dataset import FerDataset
from fer_platform.data.field import FieldFaces
from fer_platform.data.splits import recipe_splits
from fer_platform.evaluation.in_frame import pipeline_report
from fer_platform.evaluation.metrics import classification_report
from fer_platform.evaluation.plots import confusion_matrix_png, training_curves_png
from fer_platform.io import write_json, write_with
from fer_platform.labels import EMOTIONS, REPORT, SELECTION
from fer_platform.models.inference import predict_probabilities
from fer_platform.perturbations import robustness_report, trained_with

SUMMARY_FILE = "summary.json"  # beside the plots: arch, n and per-class recall of both splits


def evaluate_model(model, dataset: FerDataset, settings: TrainSettings,
                   in_frame: dict[str, tuple] | None = None,
                   robustness_faces: int | None = EvaluateSettings().robustness_faces) -> dict[str, dict]:
    """{PublicTest: report, PrivateTest: report} on exactly the images the recipe selects/reports on; with
    `in_frame` (evaluation.in_frame.load_searches), also the pipeline accuracy on the faces found in frames."""
    splits = recipe_splits(dataset, settings)
    ten_crop = _ten_crop_variant(model)
    reports = {}
    for split in (SELECTION, REPORT):
        images, labels = splits[split].images, splits[split].labels
        probs = predict_probabilities(model, images)
        reports[split] = classification_report(labels, probs.argmax(axis=1))
        # Test-time flip: the mean of the face's and its mirror's probabilities (reported, never used to select).
        mirrored = predict_probabilities(model, np.ascontiguousarray(images[:, :, ::-1]))
        reports[split]["flip_accuracy"] = float(((probs + mirrored).argmax(axis=1) == labels).mean())
        if ten_crop is not None:  # a model trained on crops: the same weights over ten crops (and mirrors)
            ten = predict_probabilities(ten_crop, images)
            reports[split]["ten_crop_accuracy"] = float((ten.argmax(axis=1) == labels).mean())
        reports[split]["robustness"] = robustness_report(lambda faces: predict_probabilities(model, faces), images,
                                                         labels, trained_with(settings.augment.model_dump()),
                                                         robustness_faces)
        if in_frame is not None:
            frame_labels, found = in_frame[split]
            crop_probs = predict_probabilities(model, found.crops) if len(found.crops) else np.zeros((0, 7))
            reports[split]["pipeline"] = pipeline_report(crop_probs, frame_labels, found)
        reports[split]["_probabilities"] = probs
        reports[split]["_predicted"] = probs.argmax(axis=1)
        reports[split]["_true"] = splits[split].labels
    return reports


def field_report(model, field: FieldFaces) -> dict | None:
    """Accuracy, macro-F1 and n on the field split (faces labelled through POST /feedback); None without faces.
    Headline numbers only: a few hundred faces of an uneven label mix make per-class detail noise."""
    if not len(field):
        return None
    report = classification_report(field.labels, predict_probabilities(model, field.images).argmax(axis=1))
    return {"accuracy": round(report["accuracy"], 4), "macro_f1": round(report["macro_f1"], 4), "n": report["n"]}


FIELD_KEY = "field"  # the field split's key in the metrics and the summary (MLflow: field_accuracy, field_n)


def _ten_crop_variant(model):
    from fer_platform.models.crops import crop_tta, with_tta  # Keras: only when a model is evaluated

    return with_tta(model, "ten_crop") if crop_tta(model) == "centre" else None


TTA_KEYS = ("flip_accuracy", "ten_crop_accuracy")  # reported beside `accuracy`; never used to select


def real_face_headline(report: dict) -> dict:
    """One split's numbers for faces from elsewhere: the robustness means (over all perturbations, and over
    those the recipe does not train with) and the pipeline accuracy (detection rate, accuracy on detected)."""
    out = {}
    robust = report.get("robustness")
    if robust is not None:
        out["robustness_mean"] = round(robust["mean"], 4)
    if robust is not None and robust["mean_unseen"] is not None:
        out["robustness_unseen_mean"] = round(robust["mean_unseen"], 4)
    if "pipeline" in report:
        out["pipeline_detection_rate"] = round(report["pipeline"]["detection_rate"], 4)
        out["pipeline_accuracy"] = round(report["pipeline"]["accuracy_on_detected"], 4)
    return out


def headline_metrics(reports: dict[str, dict], field: dict | None = None) -> dict:
    """The DVC metrics file: accuracy, macro-F1, the TTA accuracies, the robustness mean and the pipeline
    accuracy of each split, nothing else, so `dvc exp show` and `dvc metrics diff` stay a few columns wide (the
    detail, e.g. per-class recall and each perturbation, is in `summary.json` beside the plots); with field
    faces, their accuracy and n."""
    out = {split.lower(): {"accuracy": round(report["accuracy"], 4), "macro_f1": round(report["macro_f1"], 4),
                           **{k: round(report[k], 4) for k in TTA_KEYS if k in report},
                           **{k: v for k, v in real_face_headline(report).items() if k in HEADLINE_REAL_FACES}}
           for split, report in reports.items()}
    return {**out, FIELD_KEY: {"accuracy": field["accuracy"], "n": field["n"]}} if field else out


HEADLINE_REAL_FACES = ("robustness_mean", "robustness_unseen_mean", "pipeline_accuracy")


def metrics_summary(arch: str, reports: dict[str, dict], field: dict | None = None) -> dict:
    """Everything the evaluation concludes: headline numbers, test-set size and per-class recall (and the field
    split's field_report, when there are field faces)."""
    out: dict = {"arch": arch}
    for split, report in reports.items():
        key = split.lower()
        out[key] = {
            "accuracy": round(report["accuracy"], 4),
            **{k: round(report[k], 4) for k in TTA_KEYS if k in report},
            "macro_f1": round(report["macro_f1"], 4),
            "n": report["n"],
            "recall": {e: round(report["per_class"][e]["recall"], 4) for e in EMOTIONS},
            **real_face_headline(report),
            **({"robustness": _rounded(report["robustness"])} if "robustness" in report else {}),
            **({"pipeline": _rounded(report["pipeline"])} if "pipeline" in report else {}),
        }
    return {**out, FIELD_KEY: field} if field else out


def _rounded(value):
    if isinstance(value, float):
        return round(value, 4)
    if isinstance(value, dict):
        return {k: _rounded(v) for k, v in value.items()}
    return value


def write_evaluation(arch: str, reports: dict[str, dict], history: list[dict], metrics_path: Path,
                     plots_dir: Path, field: dict | None = None) -> dict[str, Path]:
    """Write the headline metrics (DVC), the full summary, per-class reports, confusion-matrix PNGs, curves PNG
    and DVC plot data. The field split (`field`: field_report) is in the metrics and the summary only, so the
    files (the stage's outputs) are the same with or without field faces."""
    write_json(metrics_path, headline_metrics(reports, field))
    files: dict[str, Path] = {"summary": plots_dir / SUMMARY_FILE}
    write_json(files["summary"], metrics_summary(arch, reports, field))
    for split, report in reports.items():
        key = split.lower()
        public = {k: v for k, v in report.items() if not k.startswith("_")}
        files[f"report_{key}"] = plots_dir / f"classification_report_{key}.json"
        write_json(files[f"report_{key}"], public)
        files[f"cm_{key}"] = plots_dir / f"confusion_matrix_{key}.png"
        confusion_matrix_png(np.array(report["confusion_matrix"]),
                             f"{arch} {split}: accuracy {report['accuracy']:.3f}", files[f"cm_{key}"])
        files[f"pred_{key}"] = plots_dir / f"predictions_{key}.csv"
        write_with(files[f"pred_{key}"], lambda tmp, r=report: _write_predictions(tmp, r))
    files["curves"] = plots_dir / "training_curves.png"
    training_curves_png(history, f"{arch} training", files["curves"])
    files["history"] = plots_dir / "history.csv"
    write_with(files["history"], lambda tmp: _write_history(tmp, history))
    return files


def _write_predictions(path: Path, report: dict) -> None:
    with open(path, "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["actual", "predicted"])
        for t, p in zip(report["_true"], report["_predicted"], strict=True):
            writer.writerow([EMOTIONS[t], EMOTIONS[p]])


def _write_history(path: Path, history: list[dict]) -> None:
    keys = ["epoch", "loss", "accuracy", "val_loss", "val_accuracy", "learning_rate"]
    with open(path, "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(keys)
        for h in history:
            writer.writerow([h.get(k, "") for k in keys])
