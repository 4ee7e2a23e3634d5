"""Pure checks over a FerDataset that GX has no expectation for: exact duplicates and blank images."""

from __future__ import annotations

from itertools import combinations

import numpy as np

from fer_platform.data.dataset import FerDataset
from fer_platform.labels import EMOTIONS, SPLITS


def duplicate_groups(digests: np.ndarray) -> list[np.ndarray]:
    """Index arrays of images sharing a digest (only groups of two or more)."""
    order = np.argsort(digests, kind="stable")
    sorted_d = digests[order]
    boundaries = np.flatnonzero(sorted_d[1:] != sorted_d[:-1]) + 1
    return [g for g in np.split(order, boundaries) if len(g) > 1]


def duplicate_report(dataset: FerDataset, digests: np.ndarray, max_examples: int) -> dict:
    """Exact duplicates within each split and across each pair of splits, with example ids."""
    groups = duplicate_groups(digests)
    within = {s: {"groups": 0, "extra_copies": 0, "examples": []} for s in SPLITS}
    across = {f"{a}~{b}": {"images": 0, "examples": []} for a, b in combinations(SPLITS, 2)}
    conflicting = {"groups": 0, "examples": []}
    for group in groups:
        splits = dataset.splits[group]
        ids = dataset.source_ids[group].tolist()
        for code in np.unique(splits):
            members = group[splits == code]
            if len(members) > 1:
                entry = within[SPLITS[code]]
                entry["groups"] += 1
                entry["extra_copies"] += len(members) - 1
                if len(entry["examples"]) < max_examples:
                    entry["examples"].append(dataset.source_ids[members].tolist())
        for a, b in combinations(np.unique(splits).tolist(), 2):
            entry = across[f"{SPLITS[a]}~{SPLITS[b]}"]
            entry["images"] += 1
            if len(entry["examples"]) < max_examples:
                entry["examples"].append(ids)
        labels = dataset.labels[group]
        if len(np.unique(labels)) > 1:
            conflicting["groups"] += 1
            if len(conflicting["examples"]) < max_examples:
                conflicting["examples"].append(
                    {sid: EMOTIONS[lab] for sid, lab in zip(ids, labels.tolist(), strict=True)}
                )
    return {"within_split": within, "across_splits": across, "conflicting_labels": conflicting}


def pixel_std(dataset: FerDataset) -> np.ndarray:
    return dataset.images.reshape(len(dataset), -1).std(axis=1)


def blank_report(dataset: FerDataset, std: np.ndarray, threshold: float, max_examples: int) -> dict:
    """Blank/constant images per split (pixel standard deviation under `threshold`)."""
    out = {}
    for code, name in enumerate(SPLITS):
        in_split = dataset.splits == code
        blank = in_split & (std < threshold)
        total = int(in_split.sum())
        out[name] = {
            "count": int(blank.sum()),
            "fraction": float(blank.sum() / total) if total else 0.0,
            "examples": dataset.source_ids[blank][:max_examples].tolist(),
        }
    return out
