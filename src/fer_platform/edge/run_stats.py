"""What a fer-edge run measured: frames, FPS, capture-to-label latency, drops, time per stage."""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np


class RunStats:
    def __init__(self) -> None:
        self.started = time.monotonic()
        self.ended: float | None = None
        self.frames = 0
        self.frames_with_faces = 0
        self.frames_classified = 0
        self.dropped = 0
        self.latencies_ms: list[float] = []
        self.stage_ms: dict[str, list[float]] = defaultdict(list)

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        began = time.perf_counter()
        try:
            yield
        finally:
            self.stage_ms[name].append((time.perf_counter() - began) * 1000)

    def frame_done(self, latency_ms: float, has_faces: bool, classified: bool) -> None:
        self.frames += 1
        self.frames_with_faces += has_faces
        self.frames_classified += classified
        if has_faces:  # capture-to-label: only frames that get a label
            self.latencies_ms.append(latency_ms)

    def finished(self) -> None:
        self.ended = time.monotonic()

    def summary(self, failed_requests: int) -> dict:
        seconds = (self.ended or time.monotonic()) - self.started
        lat = np.array(self.latencies_ms) if self.latencies_ms else np.array([np.nan])
        return {
            "frames": self.frames, "dropped": self.dropped, "seconds": round(seconds, 2),
            "fps": round(self.frames / seconds, 2) if seconds > 0 else 0.0,
            "frames_with_faces": self.frames_with_faces, "frames_classified": self.frames_classified,
            "latency_ms_p50": _round(np.percentile(lat, 50)), "latency_ms_p95": _round(np.percentile(lat, 95)),
            "failed_requests": failed_requests,
            "stage_ms_median": {k: round(float(np.median(v)), 2) for k, v in self.stage_ms.items()},
        }

    @staticmethod
    def line(summary: dict) -> str:
        return (f"fer-edge: {summary['frames']} frames in {summary['seconds']} s ({summary['fps']} FPS), "
                f"{summary['frames_classified']}/{summary['frames_with_faces']} frames with faces classified, "
                f"capture-to-label p50 {summary['latency_ms_p50']} ms p95 {summary['latency_ms_p95']} ms, "
                f"{summary['dropped']} dropped, {summary['failed_requests']} failed requests")


def _round(value: float) -> float | None:
    return None if np.isnan(value) else round(float(value), 1)
