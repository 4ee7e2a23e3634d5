"""Drift of a prediction-log window against the reference (pure: numbers in, scores and a verdict out).

Each numeric field of fer_platform.face_stats (confidence, entropy, margin, brightness, contrast, sharpness)
is compared with two standard tests:
- PSI, the population stability index, over `bins` quantile bins of the reference: how much mass moved
  (0.1 is commonly read as a small shift, 0.2 and up as a material one);
- the two-sample Kolmogorov-Smirnov test (scipy): the largest gap between the two CDFs, and its p-value.
A field drifts when PSI >= psi_threshold and KS p < ks_pvalue: material, and not sampling noise. The label mix
drifts on PSI over the 7 labels alone. Thresholds: params.yaml `monitor`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats

from fer_platform.face_stats import NUMERIC_FIELDS
from fer_platform.labels import EMOTIONS

EPS = 1e-4  # a bin's share floor: an empty bin would make PSI infinite


@dataclass(frozen=True)
class Thresholds:
    psi: float
    ks_pvalue: float
    bins: int
    min_faces: int


def psi(expected: np.ndarray, actual: np.ndarray) -> float:
    """Population stability index of two distributions over the same bins (counts or shares)."""
    e = np.maximum(np.asarray(expected, float) / max(np.sum(expected), 1), EPS)
    a = np.maximum(np.asarray(actual, float) / max(np.sum(actual), 1), EPS)
    return float(np.sum((a - e) * np.log(a / e)))


def binned(reference: np.ndarray, current: np.ndarray, bins: int) -> tuple[np.ndarray, np.ndarray]:
    """Counts of both samples in the reference's quantile bins (open-ended at both ends, ties merged)."""
    edges = np.unique(np.quantile(reference, np.linspace(0, 1, bins + 1))[1:-1])
    return (np.bincount(np.searchsorted(edges, reference, side="right"), minlength=len(edges) + 1),
            np.bincount(np.searchsorted(edges, current, side="right"), minlength=len(edges) + 1))


def field_drift(reference: np.ndarray, current: np.ndarray, limits: Thresholds) -> dict:
    ref, cur = np.asarray(reference, float), np.asarray(current, float)
    score = psi(*binned(ref, cur, limits.bins))
    ks = stats.ks_2samp(ref, cur)
    return {"psi": round(score, 4), "ks": round(float(ks.statistic), 4), "ks_p": float(ks.pvalue),
            "reference_mean": round(float(ref.mean()), 4), "window_mean": round(float(cur.mean()), 4),
            "drift": bool(score >= limits.psi and ks.pvalue < limits.ks_pvalue)}


def compare(reference: dict, window: list[dict], limits: Thresholds) -> dict:
    """The drift report's numbers: per field and for the label mix, and the verdict (`drift`, `no drift`, or
    `too few faces` below limits.min_faces, when nothing is scored)."""
    n = len(window)
    result: dict = {"n": n, "reference_n": reference["n"], "fields": {}, "labels": {}, "drifted": []}
    if n < limits.min_faces:
        return {**result, "verdict": "too few faces", "drift": False}
    for field in NUMERIC_FIELDS:
        result["fields"][field] = field_drift(np.asarray(reference["fields"][field]),
                                              np.array([r[field] for r in window]), limits)
    counts = {e: sum(r["label"] == e for r in window) for e in EMOTIONS}
    label_psi = psi([reference["labels"][e] for e in EMOTIONS], [counts[e] for e in EMOTIONS])
    result["labels"] = {"psi": round(label_psi, 4), "drift": label_psi >= limits.psi,
                        "reference": dict(reference["labels"]), "window": counts}
    result["drifted"] = [f for f, r in result["fields"].items() if r["drift"]] + \
        (["label"] if result["labels"]["drift"] else [])
    return {**result, "drift": bool(result["drifted"]), "verdict": "drift" if result["drifted"] else "no drift"}


def scores(result: dict) -> dict[str, float]:
    """Flat numbers for a tracking run: psi_<field>, ks_<field>, psi_label, n, drift."""
    out = {"n": float(result["n"]), "drift": float(result["drift"])}
    for field, r in result["fields"].items():
        out[f"psi_{field}"], out[f"ks_{field}"] = r["psi"], r["ks"]
    if result["labels"]:
        out["psi_label"] = result["labels"]["psi"]
    return out
