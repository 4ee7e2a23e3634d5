"""Where fer-edge looks for faces in a frame: the whole (reduced) frame every `full_every` frames, and in between
only the neighbourhood of each face found in the previous frame, at the scale where that face is twice the
cascade's window. A face seldom jumps between two frames, and searching a few small regions for one size of
face costs a fraction of a full scan (bench/edge_fps.py: with three faces, most of a frame's time was the full
scan). A face the neighbourhood search loses is looked for in a full scan of the same frame, so a face that moves
fast is not missed (issue #23.13). The price: a face that appears while others are tracked waits for the next
full scan (10 frames, a third of a second, for a camera), so files processed offline search the whole frame
every time."""

from __future__ import annotations

import numpy as np

from fer_platform.contract import HAAR_WINDOW, LIVE_FULL_SCAN_EVERY
from fer_platform.faces import FaceDetector
from fer_platform.streams.face_tracks import Box, iou


class FaceSearch:
    def __init__(self, detector: FaceDetector, downscale: float, full_every: int = LIVE_FULL_SCAN_EVERY, margin: float = 0.5,
                 window_multiple: float = 2.0):
        self.detector, self.downscale, self.full_every, self.margin = detector, downscale, full_every, margin
        self.window_multiple = window_multiple
        self._previous: list[Box] = []
        self._since_full = full_every  # the first frame is a full scan

    def find(self, gray: np.ndarray) -> list[Box]:
        if not self._previous or self._since_full >= self.full_every:
            boxes = self.detector.detect(gray, self.downscale)
            self._since_full = 1
        else:
            boxes = self._near_previous(gray)
            self._since_full += 1
            if len(boxes) < len(self._previous):  # a face was lost (moved out of its neighbourhood, or left):
                boxes = self.detector.detect(gray, self.downscale)  # look everywhere now, not a frame later
                self._since_full = 1
        self._previous = boxes
        return boxes

    def _near_previous(self, gray: np.ndarray) -> list[Box]:
        height, width = gray.shape[:2]
        found: list[Box] = []
        for x, y, w, h in self._previous:
            mx, my = int(w * self.margin), int(h * self.margin)
            x0, y0, x1, y1 = max(0, x - mx), max(0, y - my), min(width, x + w + mx), min(height, y + h + my)
            scale = min(1.0, self.window_multiple * HAAR_WINDOW / max(w, 1))
            sizes = (max(self.detector.settings.min_face, int(w * 0.6)), int(w * 1.6) + 1)
            for bx, by, bw, bh in self.detector.detect(gray[y0:y1, x0:x1], scale, sizes):
                box = (bx + x0, by + y0, bw, bh)
                if all(iou(box, other) < 0.3 for other in found):
                    found.append(box)
        return sorted(found, key=lambda b: -b[2] * b[3])
