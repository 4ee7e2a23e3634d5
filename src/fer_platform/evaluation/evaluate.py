"""Evaluate a trained model on PublicTest (selection) and PrivateTest (report) and write DVC metrics/plots."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from fer_platform.config import TrainSettings
from fer_platform.data.dataset import FerDataset
from fer_platform.data.splits import recipe_splits
from fer_platform.evaluation.metrics import classification_report
from fer_platform.evaluation.plots import confusion_matrix_png, training_curves_png
from fer_platform.io import write_json, write_with
from fer_platform.labels import EMOTIONS, REPORT, SELECTION
from fer_platform.models.inference import predict_probabilities

SUMMARY_FILE = "summary.json"  # beside the plots: arch, n and per-class recall of both splits


def evaluate_model(model, dataset: FerDataset, settings: TrainSettings) -> dict[str, dict]:
    """{PublicTest: report, PrivateTest: report} on exactly the images the recipe selects/reports on."""
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
        reports[split]["_probabilities"] = probs
        reports[split]["_predicted"] = probs.argmax(axis=1)
        reports[split]["_true"] = splits[split].labels
    return reports


def _ten_crop_variant(model):
    from fer_platform.models.crops import crop_tta, with_tta  # Keras: only when a model is evaluated

    return with_tta(model, "ten_crop") if crop_tta(model) == "centre" else None


TTA_KEYS = ("flip_accuracy", "ten_crop_accuracy")  # reported beside `accuracy`; never used to select


def headline_metrics(reports: dict[str, dict]) -> dict:
    """The DVC metrics file: accuracy, macro-F1 (and the flip and ten-crop TTA accuracies) of each split, nothing else, so `dvc exp show` and
    `dvc metrics diff` stay a few columns wide (the per-class detail is in `summary.json` beside the plots)."""
    return {split.lower(): {"accuracy": round(report["accuracy"], 4), "macro_f1": round(report["macro_f1"], 4),
                            **{k: round(report[k], 4) for k in TTA_KEYS if k in report}}
            for split, report in reports.items()}


def metrics_summary(arch: str, reports: dict[str, dict]) -> dict:
    """Everything the evaluation concludes: headline numbers, test-set size and per-class recall."""
    out: dict = {"arch": arch}
    for split, report in reports.items():
        key = split.lower()
        out[key] = {
            "accuracy": round(report["accuracy"], 4),
            **{k: round(report[k], 4) for k in TTA_KEYS if k in report},
            "macro_f1": round(report["macro_f1"], 4),
            "n": report["n"],
            "recall": {e: round(report["per_class"][e]["recall"], 4) for e in EMOTIONS},
        }
    return out


def write_evaluation(arch: str, reports: dict[str, dict], history: list[dict], metrics_path: Path,
                     plots_dir: Path) -> dict[str, Path]:
    """Write the headline metrics (DVC), the full summary, per-class reports, confusion-matrix PNGs, curves PNG
    and DVC plot data."""
    write_json(metrics_path, headline_metrics(reports))
    files: dict[str, Path] = {"summary": plots_dir / SUMMARY_FILE}
    write_json(files["summary"], metrics_summary(arch, reports))
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
