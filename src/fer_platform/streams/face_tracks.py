"""Per-face tracking across frames and temporal smoothing of probabilities (the paper's emotion queue,
kept per face so that two people never blend).

A detection continues a track when their boxes overlap (IoU) and, given the face crops, when the face looks like
the track's: without that check a face that replaces another at the same place (a cut, a person stepping in)
inherited the other's window, and its smoothed label was the other person's expression for `window` frames.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

import numpy as np

from fer_platform.faces import iou
from fer_platform.labels import NUM_CLASSES

__all__ = ["Box", "FaceTracker", "Track", "iou"]

Box = tuple[int, int, int, int]


@dataclass
class Track:
    track_id: int
    box: Box
    window: deque = field(default_factory=deque)
    missed: int = 0
    appearance: np.ndarray | None = None  # running mean of the face's descriptor (see `descriptor`)

    def smoothed(self) -> np.ndarray | None:
        return np.mean(np.stack(self.window), axis=0) if self.window else None


def descriptor(crop: np.ndarray) -> np.ndarray:
    """A 16x16 zero-mean, unit-norm thumbnail of a 48x48 face crop: cheap, and robust to the box jitter and
    lighting drift between consecutive frames of one face (cosine similarity ~0.98 there, < 0.3 for most
    pairs of different faces on the demo video)."""
    small = crop.reshape(16, 3, 16, 3).mean(axis=(1, 3)).ravel()
    small = small - small.mean()
    return small / (np.linalg.norm(small) + 1e-6)


class FaceTracker:
    """Greedy matching of detections to tracks by IoU (and face similarity when crops are given); a track's window
    holds its last `window` probability vectors; a track unseen for `max_missed` frames is dropped."""

    def __init__(self, window: int = 10, min_iou: float = 0.3, max_missed: int = 10, min_similarity: float = 0.7):
        if window < 1:
            raise ValueError("smoothing window must be >= 1")
        self.window, self.min_iou, self.max_missed = window, min_iou, max_missed
        self.min_similarity = min_similarity
        self.tracks: list[Track] = []
        self._next_id = 1

    def update(self, boxes: list[Box], probabilities: np.ndarray | None,
               crops: np.ndarray | None = None) -> list[Track]:
        """Assign this frame's boxes to tracks (in box order); add probabilities when classified. `crops` (the
        boxes' 48x48 faces) let a different face at the same place start its own track."""
        looks = [descriptor(c.astype(np.float32)) for c in crops] if crops is not None else None

        def similar(track: Track, bi: int) -> bool:
            return looks is None or track.appearance is None or \
                float(track.appearance @ looks[bi]) >= self.min_similarity

        pairs = sorted(((iou(t.box, b), ti, bi) for ti, t in enumerate(self.tracks) for bi, b in enumerate(boxes)
                        if similar(t, bi)), reverse=True)
        assigned: dict[int, Track] = {}
        used_tracks: set[int] = set()
        for score, ti, bi in pairs:
            if score < self.min_iou or ti in used_tracks or bi in assigned:
                continue
            used_tracks.add(ti)
            assigned[bi] = self.tracks[ti]
        for bi, box in enumerate(boxes):
            if bi not in assigned:
                track = Track(self._next_id, box, deque(maxlen=self.window))
                self._next_id += 1
                self.tracks.append(track)
                assigned[bi] = track
            track = assigned[bi]
            track.box, track.missed = box, 0
            if looks is not None:
                mixed = looks[bi] if track.appearance is None else 0.5 * (track.appearance + looks[bi])
                track.appearance = mixed / (np.linalg.norm(mixed) + 1e-6)
            if probabilities is not None:
                track.window.append(np.asarray(probabilities[bi], dtype=np.float64).reshape(NUM_CLASSES))
        matched = {id(t) for t in assigned.values()}
        for track in self.tracks:
            if id(track) not in matched:
                track.missed += 1
        self.tracks = [t for t in self.tracks if t.missed <= self.max_missed]
        return [assigned[bi] for bi in range(len(boxes))]
