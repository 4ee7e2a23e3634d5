"""One browser's live view on the service: its camera frames searched, classified and tracked as `fer-edge`
does, its photos searched and classified as /detect does. The state is one connection's (where its faces
were, each face's window of answers) and lives in memory only: no frame or photo is written anywhere.

A message from the page is one image, its first byte saying which kind:

    b"F" + JPEG/PNG   a camera frame, downscaled by the page: faces searched near where they were (a full
                      scan every LIVE_FULL_SCAN_EVERY frames), tracked, and smoothed over each face's last `window`
                      answers
    b"P" + JPEG/PNG   a photo: searched whole, as /detect searches one, not tracked

The page sends a frame only once the previous one is answered, so a slow answer drops camera frames in the
browser instead of queueing them here.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from http import HTTPStatus
from typing import Any, Protocol

import anyio
import numpy as np

from fer_platform.config import ServeSettings
from fer_platform.contract import EDGE_MIN_FACE, HAAR_WINDOW, LIVE_FULL_SCAN_EVERY, SMOOTHING_WINDOW
from fer_platform.faces import DetectorSettings, FaceDetector, crop_faces, detected_face
from fer_platform.labels import EMOTIONS
from fer_platform.serving.errors import RequestError
from fer_platform.serving.requests import decode_image
from fer_platform.streams.face_search import FaceSearch
from fer_platform.streams.face_tracks import Box, FaceTracker, Track

FRAME, PHOTO = b"F", b"P"
LIVE_ROUTE = "/live/ws"  # the page's WebSocket; its photos are logged under this route, their crops never kept
REFERENCE_WIDTH = 640  # fer-edge's camera frames, where it looks for faces of EDGE_MIN_FACE pixels and up


class Classifier(Protocol):
    """What a session needs of the service (FerService has all three)."""

    cpu: anyio.CapacityLimiter

    async def infer(self, faces: np.ndarray) -> np.ndarray: ...

    async def detect_faces(self, read: Callable[[], bytes], route: str = "/detect") -> dict[str, Any]: ...


class LiveSession:
    def __init__(self, service: Classifier, limits: ServeSettings, window: int = SMOOTHING_WINDOW):
        self.service, self.limits = service, limits
        self.tracker = FaceTracker(window=window)
        self._search: FaceSearch | None = None
        self._search_width = 0

    async def answer(self, message: bytes) -> dict[str, Any]:
        """The JSON answer to one message; RequestError (a 4xx status and why) for one that cannot be read."""
        started = time.perf_counter()
        kind, data = message[:1], message[1:]
        if kind == FRAME:
            answer = await self._frame(data)
        elif kind == PHOTO:
            answer = {"type": "photo", **await self.service.detect_faces(lambda: data, route=LIVE_ROUTE)}
        else:
            raise RequestError(HTTPStatus.BAD_REQUEST,
                               "a message starts with F (a camera frame) or P (a photo)")
        answer["server_ms"] = round((time.perf_counter() - started) * 1000, 1)
        return answer

    async def _frame(self, data: bytes) -> dict[str, Any]:
        gray, boxes, crops = await anyio.to_thread.run_sync(self._find, data, limiter=self.service.cpu)
        probs = await self.service.infer(crops) if boxes else None
        tracks = self.tracker.update(boxes, probs, crops if boxes else None)
        return {"type": "frame", "image": {"width": gray.shape[1], "height": gray.shape[0]},
                "labels": list(EMOTIONS),
                "faces": [face_answer(box, track, None if probs is None else probs[i])
                          for i, (box, track) in enumerate(zip(boxes, tracks, strict=True))]}

    def _find(self, data: bytes) -> tuple[np.ndarray, list[Box], np.ndarray]:
        """Decode, search and crop, in a worker thread (the event loop only moves bytes)."""
        gray = decode_image(data, self.limits.max_request_bytes, self.limits.max_image_side,
                            self.limits.max_image_pixels)
        boxes = self._search_for(gray.shape[1]).find(gray)[: self.limits.max_faces_per_request]
        return gray, boxes, crop_faces(gray, boxes)

    def _search_for(self, width: int) -> FaceSearch:
        """fer-edge's search, scaled to the page's frame size: in a 320-pixel-wide frame faces of 24 pixels
        and up, the same faces fer-edge finds at 48 in its 640-pixel frames, each searched at the cascade's
        own window (a frame twice as wide costs the same, not four times as much). A new size starts
        afresh."""
        if self._search is None or width != self._search_width:
            min_face = max(HAAR_WINDOW, round(EDGE_MIN_FACE * width / REFERENCE_WIDTH))
            haar = self.limits.haar_scale_factor, self.limits.haar_min_neighbors
            detector = FaceDetector(DetectorSettings(*haar, min_face))
            self._search = FaceSearch(detector, detector.lossless_downscale(), full_every=LIVE_FULL_SCAN_EVERY)
            self._search_width = width
        return self._search


def face_answer(box: Box, track: Track, probabilities: np.ndarray | None) -> dict[str, Any]:
    """A face as the page draws it: /detect's face (box, this frame's answer), its track and its smoothed
    answer (what the page shows)."""
    smooth = track.smoothed()
    return {"track_id": track.track_id, **detected_face(box, probabilities),
            "smoothed_label": None if smooth is None else EMOTIONS[int(smooth.argmax())],
            "smoothed_confidence": None if smooth is None else round(float(smooth.max()), 4)}
