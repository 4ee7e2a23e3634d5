"""The field split: faces the service answered and someone labelled through POST /feedback (#27).

Ingest reads them from `data.field` (`<emotion>/<face_id>.png`) into `artifacts/dataset/field.npz`, a file of
its own beside fer2013.npz: collecting faces changes neither FER2013's artifact nor, through it, what the
train stages read, so a new field version re-runs evaluate and promote, never training. The faces are never
trained, selected or reported on as FER2013's splits; evaluate reports accuracy on them and the promotion gate
compares champion and challenger on them (promote.min_field_faces).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from fer_platform.contract import IMAGE_SHAPE
from fer_platform.data.dataset import DataError
from fer_platform.io import write_with
from fer_platform.labels import EMOTIONS, NUM_CLASSES

FIELD = "FieldTest"  # the split's name (FER2013's are labels.SPLITS)


@dataclass(frozen=True)
class FieldFaces:
    images: np.ndarray  # (N, 48, 48) uint8
    labels: np.ndarray  # (N,) uint8 emotion codes
    source_ids: np.ndarray  # (N,) str: <emotion>/<file>, relative to data.field

    def __post_init__(self) -> None:
        n = len(self.images)
        if self.images.dtype != np.uint8 or self.images.shape[1:] != IMAGE_SHAPE:
            raise DataError(f"field images must be uint8 (N, 48, 48), got {self.images.dtype} "
                            f"{self.images.shape}")
        if len(self.labels) != n or len(self.source_ids) != n:
            raise DataError(f"field split: {len(self.labels)} labels and {len(self.source_ids)} ids for "
                            f"{n} images")
        if n and self.labels.max() >= NUM_CLASSES:
            raise DataError("field split: label code out of range")

    @classmethod
    def empty(cls) -> FieldFaces:
        return cls(np.zeros((0, *IMAGE_SHAPE), np.uint8), np.zeros(0, np.uint8), np.zeros(0, dtype=str))

    def __len__(self) -> int:
        return len(self.images)

    def counts(self) -> dict[str, int]:
        per_class = np.bincount(self.labels, minlength=NUM_CLASSES)
        return {e: int(per_class[c]) for c, e in enumerate(EMOTIONS)}


def save_field(faces: FieldFaces, path: str | Path) -> None:
    def _write(tmp: Path) -> None:
        with open(tmp, "wb") as fh:  # a file handle keeps numpy from appending ".npz" to the temp name
            np.savez(fh, images=faces.images, labels=faces.labels, source_ids=faces.source_ids.astype(str))

    write_with(path, _write)


def load_field(path: str | Path) -> FieldFaces:
    """The ingested field split; no file (a dataset ingested before the field split existed) is no faces."""
    path = Path(path)
    if not path.exists():
        return FieldFaces.empty()
    try:
        with np.load(path, allow_pickle=False) as npz:
            return FieldFaces(npz["images"], npz["labels"], npz["source_ids"])
    except (KeyError, ValueError, OSError) as err:
        raise DataError(f"{path}: not an ingested field split: {err}") from None
