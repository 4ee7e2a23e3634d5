"""Frame capture in its own thread, so a slow frame never stalls the camera.

Live sources (a camera, or a file with --realtime) keep only the newest frame: a frame the loop has not
taken by the time the next one arrives is dropped and reported, never queued (a queue would make the shown
label lag further and further behind). A plain file is read as fast as the loop goes, nothing dropped.

A camera that stops delivering (unplugged, driver reset) is reopened with backoff for `reconnect_s` seconds;
it is back only once a frame arrives (a device that opens but sends nothing is still gone). If it does not
come back, the reader ends and `lost` says why (fer-edge exits 3).
"""

from __future__ import annotations

import queue
import sys
import threading
import time
from collections.abc import Callable
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
                 from_file: bool, reopen: Callable[[], cv2.VideoCapture] | None = None, reconnect_s: float = 10.0,
                 name: str = "camera"):
        self.capture, self.live, self.paced_fps, self.max_frames = capture, live, paced_fps, max_frames
        self.from_file = from_file
        self.reopen, self.reconnect_s, self.name = reopen, reconnect_s, name
        self.lost: str | None = None  # set when a camera disconnected and did not come back
        self.reconnects = 0
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
                    image = None if self.reopen is None else self._reconnect(index)
                    if image is None:
                        break
                ts = self.capture.get(cv2.CAP_PROP_POS_MSEC) / 1000.0 if self.from_file else time.time()
                self._deliver(CapturedFrame(index, time.monotonic(), ts, image))
                index += 1
        finally:
            self._end()

    def _reconnect(self, frames: int) -> np.ndarray | None:
        """Reopen the source with backoff until it delivers a frame again (returned) or `reconnect_s` runs out
        (None). Only a frame counts: a device that opens but sends nothing is still gone. One deadline for the
        whole outage; a read that blocks on such a device can overrun it by the driver's own timeout."""
        print(f"fer-edge: {self.name} stopped delivering frames after {frames}; reconnecting for up to "
              f"{self.reconnect_s:g} s", file=sys.stderr, flush=True)
        self.capture.release()
        deadline, delay, opened = time.monotonic() + self.reconnect_s, 0.25, False
        while not self._stop.is_set() and time.monotonic() < deadline:
            capture = self.reopen()
            is_open = capture.isOpened()
            opened = opened or is_open
            ok, image = capture.read() if is_open else (False, None)
            if ok:
                self.capture = capture
                self.reconnects += 1
                print(f"fer-edge: {self.name} is back", file=sys.stderr, flush=True)
                return image
            capture.release()
            self._stop.wait(min(delay, max(0.0, deadline - time.monotonic())))
            delay = min(2 * delay, 2.0)
        if not self._stop.is_set():
            self.lost = (f"{self.name} disconnected after {frames} frames and did not come back within "
                         f"{self.reconnect_s:g} s" + (" (it opened, but sent no frames)" if opened else ""))
        return None

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
