"""Face crops kept for POST /feedback, only when params.yaml `serve.feedback.keep_faces` is on (off by default:
a face crop is biometric data). In memory only, at most `max_faces` crops for at most `retention_s` each: the
oldest go first when full, and every access drops those past their time, so no crop outlives either bound.
A crop someone labels through /feedback is written to the field dataset (`<dir>/<label>/<face_id>.png`, the
layout of FER2013's image folders) and forgotten here; a crop nobody labels is never written anywhere."""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np

from fer_platform.labels import EMOTIONS


class KeptFaces:
    def __init__(self, retention_s: float, max_faces: int, clock: Callable[[], float] = time.monotonic):
        self.retention_s, self.max_faces, self.clock = retention_s, max_faces, clock
        self._faces: OrderedDict[str, tuple[float, np.ndarray]] = OrderedDict()  # id -> (kept at, 48x48 crop)
        self._lock = threading.Lock()

    def keep(self, face_ids: list[str], crops: np.ndarray) -> None:
        now = self.clock()
        with self._lock:
            for face_id, crop in zip(face_ids, crops, strict=True):
                self._faces[face_id] = (now, np.array(crop, np.uint8))  # a copy: not a view of a request's buffer
            while len(self._faces) > self.max_faces:
                self._faces.popitem(last=False)
            self._expire(now)

    def take(self, face_id: str) -> np.ndarray | None:
        """The crop, removed from memory; None when it was never kept or is past its retention."""
        with self._lock:
            self._expire(self.clock())
            kept = self._faces.pop(face_id, None)
        return None if kept is None else kept[1]

    def __len__(self) -> int:
        with self._lock:
            self._expire(self.clock())
            return len(self._faces)

    def _expire(self, now: float) -> None:
        while self._faces:
            face_id, (kept_at, _) = next(iter(self._faces.items()))
            if now - kept_at < self.retention_s:
                break
            del self._faces[face_id]


def write_labelled(root: str | Path, face_id: str, label: str, crop: np.ndarray) -> Path:
    """`<root>/<label>/<face_id>.png`: the field dataset, an image folder like FER2013's (`dvc add` it)."""
    if label not in EMOTIONS:
        raise ValueError(f"label must be one of {', '.join(EMOTIONS)}")
    path = Path(root) / label / f"{face_id}.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.png")
    if not cv2.imwrite(str(tmp), crop):
        raise OSError(f"{path}: not written")
    tmp.replace(path)
    return path
