"""The canonical FER2013 artifact: every reader produces this, every later stage reads it.

One .npz file: `images` (N, 48, 48) uint8, `labels` (N,) uint8 emotion codes, `splits` (N,) uint8 split codes
(labels.SPLITS order) and `source_ids` (N,) str (file path relative to the source, or `row:<n>` for CSV).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from fer_platform.contract import IMAGE_SHAPE
from fer_platform.errors import UserError
from fer_platform.io import write_with
from fer_platform.labels import EMOTIONS, NUM_CLASSES, SPLIT_TO_CODE, SPLITS


class DataError(UserError, ValueError):
    """Input data is malformed; the message names the file (and row) and what is wrong."""


@dataclass(frozen=True)
class FerDataset:
    images: np.ndarray
    labels: np.ndarray
    splits: np.ndarray
    source_ids: np.ndarray

    def __post_init__(self) -> None:
        n = len(self.images)
        if self.images.dtype != np.uint8 or self.images.shape[1:] != IMAGE_SHAPE:
            raise DataError(f"images must be uint8 (N, 48, 48), got {self.images.dtype} {self.images.shape}")
        for name in ("labels", "splits", "source_ids"):
            if len(getattr(self, name)) != n:
                raise DataError(f"{name} has {len(getattr(self, name))} entries for {n} images")
        if n and (self.labels.max() >= NUM_CLASSES or self.splits.max() >= len(SPLITS)):
            raise DataError("label or split code out of range")

    def __len__(self) -> int:
        return len(self.images)

    def split(self, name: str) -> FerDataset:
        return self.subset(self.splits == SPLIT_TO_CODE[name])

    def subset(self, mask_or_index: np.ndarray) -> FerDataset:
        return FerDataset(
            self.images[mask_or_index],
            self.labels[mask_or_index],
            self.splits[mask_or_index],
            self.source_ids[mask_or_index],
        )

    def counts(self) -> dict[str, dict[str, int]]:
        """{split: {emotion: count}} for every split and emotion, zeros included."""
        out: dict[str, dict[str, int]] = {}
        for s_code, s_name in enumerate(SPLITS):
            in_split = self.labels[self.splits == s_code]
            per_class = np.bincount(in_split, minlength=NUM_CLASSES)
            out[s_name] = {e: int(per_class[c]) for c, e in enumerate(EMOTIONS)}
        return out

    def content_hash(self) -> str:
        """sha256 over images, labels, splits and ids: identical for identical data from either format."""
        h = hashlib.sha256()
        for arr in (self.images, self.labels, self.splits):
            h.update(np.ascontiguousarray(arr).tobytes())
        h.update("\n".join(self.source_ids.tolist()).encode())
        return h.hexdigest()

    def image_digests(self) -> np.ndarray:
        """Per-image md5 of the pixel bytes (for exact-duplicate detection)."""
        flat = np.ascontiguousarray(self.images).reshape(len(self.images), -1)
        return np.array([hashlib.md5(row.tobytes()).hexdigest() for row in flat])


def save_dataset(dataset: FerDataset, path: str | Path) -> None:
    def _write(tmp: Path) -> None:
        with open(tmp, "wb") as fh:  # a file handle keeps numpy from appending ".npz" to the temp name
            np.savez(
                fh,
                images=dataset.images,
                labels=dataset.labels,
                splits=dataset.splits,
                source_ids=dataset.source_ids.astype(str),
            )

    write_with(path, _write)


def load_dataset(path: str | Path) -> FerDataset:
    path = Path(path)
    if not path.exists():
        raise DataError(f"{path}: canonical dataset not found (run the ingest stage first)")
    try:
        with np.load(path, allow_pickle=False) as npz:
            return FerDataset(npz["images"], npz["labels"], npz["splits"], npz["source_ids"])
    except (KeyError, ValueError, OSError) as err:
        raise DataError(f"{path}: not a canonical FER dataset: {err}") from None
