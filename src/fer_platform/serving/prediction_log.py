"""The prediction log: one JSON line per classified face, never the image (params.yaml `serve.prediction_log`).

    {"time": "2026-12-05T10:00:00.123456+00:00", "route": "/predict", "model": "fer-classifier:abc",
     "model_version": "3", "face_id": "9f2c...", "label": "happy", "confidence": 0.87, "entropy": 0.52,
     "margin": 0.79, "brightness": 121.4, "contrast": 58.2, "sharpness": 1375.0, "face_size": 48,
     "latency_ms": 12.3}

Off the request's hot path: a request only appends its batch (the crops and probabilities it already holds, no
copy) to a bounded queue; a background thread computes the statistics (fer_platform.face_stats, as the
reference does) and writes the lines through the standard library's RotatingFileHandler, so the log is bounded
at (backups + 1) * max_bytes. When the writer falls behind by `queue_faces` faces, new batches are dropped and
counted (`dropped`), never waited for.

Why not `bentoml.monitor`: its default monitor writes in the request's own thread, rotates by day with no size
bound and no limit on old files, and is switched on in BentoML's configuration rather than in params.yaml.
"""

from __future__ import annotations

import json
import logging
import logging.handlers
import queue
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from fer_platform.face_stats import face_stats

LOG_FILE = "predictions.jsonl"  # rotated to predictions.jsonl.1, .2, ...


@dataclass(frozen=True)
class Batch:
    """One request's classified faces, as the route holds them."""
    route: str
    face_ids: list[str]
    faces: np.ndarray  # (N, 48, 48) uint8
    probabilities: np.ndarray  # (N, 7)
    face_sizes: list[int]  # the face's side in the request's pixels (48 for /predict's crops)
    latency_ms: float
    time: datetime


def records(batch: Batch, model: str, model_version: str) -> list[dict]:
    """The log lines' contents for one batch (pure: the writer thread calls it)."""
    stamp = batch.time.isoformat()
    latency = round(batch.latency_ms, 2)
    return [{"time": stamp, "route": batch.route, "model": model, "model_version": model_version, "face_id": fid,
             **stats, "face_size": int(size), "latency_ms": latency}
            for fid, stats, size in zip(batch.face_ids, face_stats(batch.faces, batch.probabilities),
                                        batch.face_sizes, strict=True)]


class PredictionLog:
    """A queue and one daemon thread writing `records` to `<directory>/predictions.jsonl`, rotated by size."""

    def __init__(self, directory: str | Path, model: str, model_version: str, max_bytes: int, backups: int,
                 queue_faces: int):
        self.path = Path(directory) / LOG_FILE
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.model, self.model_version, self.queue_faces = model, model_version, queue_faces
        self.handler = logging.handlers.RotatingFileHandler(self.path, maxBytes=max_bytes, backupCount=backups,
                                                            encoding="utf-8")
        self.handler.setFormatter(logging.Formatter("%(message)s"))
        self._queue: queue.SimpleQueue[Batch | None] = queue.SimpleQueue()
        self._pending = 0  # faces queued, not yet written (a counter: SimpleQueue has no bound of its own)
        self._lock = threading.Lock()
        self.dropped = 0  # faces not logged because the writer was queue_faces behind
        self.written = 0
        self._thread = threading.Thread(target=self._run, name="prediction-log", daemon=True)
        self._thread.start()

    def submit(self, batch: Batch) -> bool:
        """Queue a batch for writing (microseconds); False when the writer is too far behind (then dropped)."""
        n = len(batch.face_ids)
        with self._lock:
            if self._pending + n > self.queue_faces:
                self.dropped += n
                return False
            self._pending += n
        self._queue.put(batch)
        return True

    def _run(self) -> None:
        while (batch := self._queue.get()) is not None:
            try:
                for record in records(batch, self.model, self.model_version):
                    self.handler.emit(logging.makeLogRecord({"msg": json.dumps(record), "levelno": logging.INFO}))
                self.written += len(batch.face_ids)
            except Exception:  # a full disk must not stop the service; the next batch tries again
                logging.getLogger(__name__).exception("prediction log: a batch was not written")
            finally:
                with self._lock:
                    self._pending -= len(batch.face_ids)

    def close(self, timeout: float = 5.0) -> None:
        """Write what is queued, then stop the thread."""
        self._queue.put(None)
        self._thread.join(timeout)
        self.handler.close()


def now() -> datetime:
    return datetime.now(UTC)
