"""What the served model sees and answers, per face, as numbers: the one definition the prediction log (the
service), the reference (packaging, on PublicTest) and the drift report (monitoring) share, so that a drift is
never a difference in how two places computed a statistic. Plain numpy, vectorised over a batch.

    brightness  mean pixel value, 0..255
    contrast    pixel standard deviation
    sharpness   variance of the 4-neighbour Laplacian (low: blurred or upscaled faces)
    confidence  the top label's probability
    entropy     of the 7 probabilities, in nats (0..ln 7 = 1.95)
    margin      top probability minus the second (small: the model hesitates between two labels)
"""

from __future__ import annotations

import numpy as np

from fer_platform.labels import EMOTIONS

INPUT_FIELDS = ("brightness", "contrast", "sharpness")
OUTPUT_FIELDS = ("confidence", "entropy", "margin")
NUMERIC_FIELDS = OUTPUT_FIELDS + INPUT_FIELDS  # compared by the drift report; `label` is compared as categories


def input_stats(faces: np.ndarray) -> dict[str, np.ndarray]:
    """(N, 48, 48) uint8 faces -> {field: (N,) float32}."""
    x = np.asarray(faces, dtype=np.float32)
    flat = x.reshape(len(x), -1)
    laplacian = (x[:, :-2, 1:-1] + x[:, 2:, 1:-1] + x[:, 1:-1, :-2] + x[:, 1:-1, 2:] - 4 * x[:, 1:-1, 1:-1])
    return {"brightness": flat.mean(axis=1), "contrast": flat.std(axis=1),
            "sharpness": laplacian.reshape(len(x), -1).var(axis=1)}


def output_stats(probabilities: np.ndarray) -> dict[str, np.ndarray]:
    """(N, 7) probabilities -> {"label": (N,) label indices, field: (N,) float32 for OUTPUT_FIELDS}."""
    p = np.asarray(probabilities, dtype=np.float32)
    top2 = np.sort(p, axis=1)[:, -2:]
    entropy = -(p * np.log(np.clip(p, 1e-12, 1.0))).sum(axis=1)
    return {"label": p.argmax(axis=1), "confidence": top2[:, 1], "entropy": entropy,
            "margin": top2[:, 1] - top2[:, 0]}


def face_stats(faces: np.ndarray, probabilities: np.ndarray) -> list[dict]:
    """One dict per face: its label (a name) and every NUMERIC_FIELDS value, rounded for a compact log line."""
    stats = {**input_stats(faces), **output_stats(probabilities)}
    labels = [EMOTIONS[i] for i in stats.pop("label")]
    columns = {k: np.round(v.astype(np.float64), 4).tolist() for k, v in stats.items()}
    return [{"label": label, **{k: columns[k][i] for k in NUMERIC_FIELDS}} for i, label in enumerate(labels)]


def distribution(faces: np.ndarray, probabilities: np.ndarray) -> dict:
    """A set of faces as the drift report compares it: label counts and every numeric field's values."""
    records = face_stats(faces, probabilities)
    return {"n": len(records), "labels": {e: sum(r["label"] == e for r in records) for e in EMOTIONS},
            "fields": {k: [r[k] for r in records] for k in NUMERIC_FIELDS}}
