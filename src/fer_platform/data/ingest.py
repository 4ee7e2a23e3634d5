"""Ingest: read FER2013 from either distribution and write the canonical artifact plus its manifest; with a
field dataset (data.field), also its faces as a split of their own (data.field module)."""

from __future__ import annotations

import hashlib
import time
from pathlib import Path

from fer_platform.data.dataset import FerDataset, save_dataset
from fer_platform.data.field import FIELD, FieldFaces, save_field
from fer_platform.data.readers import read_fer2013, read_field_faces
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


def field_manifest(faces: FieldFaces, source: str | Path | None, artifact: Path) -> dict:
    """The field split's entry in the manifest, with a note for the stage's log: where it came from, or why
    there is none."""
    if len(faces):
        note = f"field split {FIELD}: {len(faces)} faces from {source} -> {artifact}"
    else:
        why = ("data.field is null" if source is None else f"{source} holds no faces" if Path(source).is_dir()
               else f"no folder {source}")
        note = (f"no field split ({why}): evaluate and promote use FER2013 alone; POST /feedback writes labelled "
                "faces to serve.feedback.dir (docs/monitoring.md)")
    return {"split": FIELD, "source": None if source is None else str(source), "artifact": str(artifact),
            "n_images": len(faces), "counts": faces.counts(), "note": note}


def ingest(source: str | Path, dataset_path: str | Path, manifest_path: str | Path,
           field: str | Path | None = None, field_path: str | Path | None = None) -> dict:
    """Read `source`, write the dataset and manifest atomically; return the manifest. With `field_path`, the
    field faces under `field` (none when it is None, absent or empty) are written there too: their own split."""
    started = time.perf_counter()
    source, dataset_path = Path(source), Path(dataset_path)
    dataset = read_fer2013(source)
    faces = FieldFaces.empty() if field is None or field_path is None else read_field_faces(field)
    save_dataset(dataset, dataset_path)
    if field_path is not None:  # always written (empty too): it is a stage output, and evaluate reads it
        save_field(faces, field_path)
    manifest = build_manifest(dataset, source, dataset_path, time.perf_counter() - started)
    if field_path is not None:
        manifest["field"] = field_manifest(faces, field, Path(field_path))
    write_json(manifest_path, manifest)
    return manifest
