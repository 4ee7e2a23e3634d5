"""Frame capture in its own thread, so a slow frame never stalls the camera.

Live sources (a camera, or a file with --realtime) keep only the newest frame: a frame the loop has not
taken by the time the next one arrives is dropped and reported, never queued (a queue would make the shown
label lag further and further behind). A plain file is read as fast as the loop goes, nothing dropped.
"""

from __future__ import annotations

import queue
import threading
import time
from dataclasses import dataclass

import cv2
import numpy as np


@dataclass(frozen=True)
class CapturedFrame:
    index: int
    captured_at: float  # time.monotonic() when the frame was read: the start of its capture-to-label latency
    timestamp: float  # position in the video (s), or wall-clock time for a camera
    image: np.ndarray


NOTHING_YET = object()  # next(timeout) found no new frame in time (the source has not ended)


class FrameReader:
    def __init__(self, capture: cv2.VideoCapture, live: bool, paced_fps: float | None, max_frames: int | None,
                 from_file: bool):
        self.capture, self.live, self.paced_fps, self.max_frames = capture, live, paced_fps, max_frames
        self.from_file = from_file
        self.dropped: list[int] = []
        self._latest: CapturedFrame | None = None
        self._queue: queue.Queue[CapturedFrame | None] = queue.Queue(maxsize=4)
        self._ready = threading.Condition()
        self._ended = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="fer-edge-capture", daemon=True)

    def start(self) -> FrameReader:
        self._thread.start()
        return self

    def next(self, timeout: float | None = None):
        """The next frame to process (the newest one, when live); None when the source has ended;
        NOTHING_YET if `timeout` seconds passed without a frame."""
        if not self.live:
            try:
                return self._queue.get(timeout=timeout)
            except queue.Empty:
                return NOTHING_YET
        with self._ready:
            if not self._ready.wait_for(lambda: self._latest is not None or self._ended, timeout):
                return NOTHING_YET
            frame, self._latest = self._latest, None
            return frame

    def take_dropped(self) -> list[int]:
        with self._ready:
            dropped, self.dropped = self.dropped, []
            return dropped

    def stop(self) -> None:
        self._stop.set()
        if not self.live:  # unblock a reader waiting on a full queue
            try:
                while True:
                    self._queue.get_nowait()
            except queue.Empty:
                pass
        self._thread.join(timeout=5)

    def _run(self) -> None:
        started, index = time.monotonic(), 0
        try:
            while not self._stop.is_set() and (self.max_frames is None or index < self.max_frames):
                if self.paced_fps:
                    time.sleep(max(0.0, started + index / self.paced_fps - time.monotonic()))
                ok, image = self.capture.read()
                if not ok:
                    break
                ts = self.capture.get(cv2.CAP_PROP_POS_MSEC) / 1000.0 if self.from_file else time.time()
                self._deliver(CapturedFrame(index, time.monotonic(), ts, image))
                index += 1
        finally:
            self._end()

    def _deliver(self, frame: CapturedFrame) -> None:
        if not self.live:
            self._put(frame)
            return
        with self._ready:
            if self._latest is not None:
                self.dropped.append(self._latest.index)
            self._latest = frame
            self._ready.notify()

    def _end(self) -> None:
        if not self.live:
            self._put(None)
            return
        with self._ready:
            self._ended = True
            self._ready.notify()

    def _put(self, item: CapturedFrame | None) -> None:
        """Wait for room in the queue, but give up once stop() was called (the loop has gone)."""
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.1)
                return
            except queue.Full:
                continue
