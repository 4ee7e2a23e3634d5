"""Ingest: read FER2013 from either distribution and write the canonical artifact plus its manifest."""

from __future__ import annotations

import hashlib
import time
from pathlib import Path

from fer_platform.data.dataset import FerDataset, save_dataset
from fer_platform.data.readers import read_fer2013
from fer_platform.io import write_json
from fer_platform.labels import EMOTIONS, SPLITS


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def build_manifest(dataset: FerDataset, source: Path, artifact: Path, seconds: float) -> dict:
    counts = dataset.counts()
    return {
        "source": str(source),
        "source_format": "image-folders" if source.is_dir() else "challenge-csv",
        "artifact": str(artifact),
        "artifact_sha256": file_sha256(artifact),
        "content_sha256": dataset.content_hash(),
        "n_images": len(dataset),
        "labels": list(EMOTIONS),
        "splits": list(SPLITS),
        "split_sizes": {s: sum(c.values()) for s, c in counts.items()},
        "counts": counts,
        "ingest_seconds": round(seconds, 2),
    }


def ingest(source: str | Path, dataset_path: str | Path, manifest_path: str | Path) -> dict:
    """Read `source`, write the dataset and manifest atomically; return the manifest."""
    started = time.perf_counter()
    source, dataset_path = Path(source), Path(dataset_path)
    dataset = read_fer2013(source)
    save_dataset(dataset, dataset_path)
    manifest = build_manifest(dataset, source, dataset_path, time.perf_counter() - started)
    write_json(manifest_path, manifest)
    return manifest
