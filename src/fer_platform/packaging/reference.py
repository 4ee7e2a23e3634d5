"""The reference distribution a served model is compared with (#27): its answers and the input statistics of a
seeded random subset of PublicTest faces (the split's own label mix), computed at packaging by the graph the
service runs and stored beside it in the BentoML model entry (`reference.json`). The monitor flow compares a
window of the prediction log with it (fer_platform.monitoring.drift); both sides use fer_platform.face_stats."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from fer_platform.face_stats import distribution
from fer_platform.io import write_with
from fer_platform.serving.runtime import FaceClassifier

REFERENCE_FILE = "reference.json"  # beside the served graph in the model-store entry
REFERENCE_SPLIT = "PublicTest"
SEED = 27


def reference_faces(images: np.ndarray, n: int, seed: int = SEED) -> np.ndarray:
    """`n` faces of a split's `images` (all when it has fewer), a seeded random subset in their original order."""
    if len(images) <= n:
        return images
    pick = np.sort(np.random.default_rng(seed).choice(len(images), n, replace=False))
    return images[pick]


def build_reference(onnx_path: Path, faces: np.ndarray, threads: int = 2, batch: int = 256) -> dict:
    """The served graph's answers on `faces`, as face_stats.distribution: label counts and every field's values."""
    model = FaceClassifier(onnx_path, threads=threads)
    probs = np.concatenate([model.predict(faces[i:i + batch]) for i in range(0, len(faces), batch)])
    return {"split": REFERENCE_SPLIT, **distribution(faces, probs)}


def write_reference(reference: dict, path: Path) -> Path:
    text = json.dumps(reference, separators=(",", ":")) + "\n"
    write_with(path, lambda tmp: tmp.write_text(text))
    return path


def read_reference(path: str | Path) -> dict:
    data = json.loads(Path(path).read_text())
    if not {"n", "labels", "fields"} <= set(data):
        raise ValueError(f"{path}: not a reference distribution (n, labels, fields)")
    return data
