"""Where each stage writes, relative to the project root (DVC runs every stage there). dvc.yaml names the same."""

from __future__ import annotations

from pathlib import Path

DATASET = Path("artifacts/dataset/fer2013.npz")
MANIFEST = Path("artifacts/dataset/manifest.json")
FIELD = Path("artifacts/dataset/field.npz")  # the field split (data.field): no train stage reads it
IN_FRAME = Path("artifacts/dataset/in_frame.npz")  # test faces found again in camera-like frames (in_frame stage)
VALIDATION_DIR = Path("reports/validation")
VALIDATION_SUMMARY = VALIDATION_DIR / "summary.json"
DATA_DOCS = VALIDATION_DIR / "data_docs"
MODELS_DIR = Path("artifacts/models")
CHECKPOINTS_DIR = Path("artifacts/checkpoints")
METRICS_DIR = Path("reports/metrics")
PLOTS_DIR = Path("reports/plots")
PROMOTION = Path("reports/promotion.json")
BENTO_INFO = Path("reports/bento.json")


def model_dir(arch: str) -> Path:
    return MODELS_DIR / arch


def checkpoint_dir(arch: str) -> Path:
    return CHECKPOINTS_DIR / arch


def evaluation_summary(arch: str) -> Path:
    """The evaluation's full summary (arch, n, per-class recall), beside its plots (evaluation.SUMMARY_FILE)."""
    return PLOTS_DIR / arch / "summary.json"
