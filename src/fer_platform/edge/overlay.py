"""Drawing boxes, smoothed labels, confidence and FPS on a frame."""

from __future__ import annotations

import cv2
import numpy as np

from fer_platform.labels import EMOTIONS


def draw(frame: np.ndarray, boxes, tracks, probs, fps: float, classified: bool) -> np.ndarray:
    out = frame.copy()
    for box, track in zip(boxes, tracks, strict=True):
        x, y, w, h = box
        smooth = track.smoothed()
        color = (0, 200, 0) if smooth is not None else (0, 165, 255)
        cv2.rectangle(out, (x, y), (x + w, y + h), color, 2)
        text = "unclassified" if smooth is None else f"{EMOTIONS[int(smooth.argmax())]} {smooth.max():.0%}"
        cv2.putText(out, f"#{track.track_id} {text}", (x, max(15, y - 8)), cv2.FONT_HERSHEY_SIMPLEX, 0.55,
                    color, 2, cv2.LINE_AA)
    status = f"{fps:4.1f} FPS" + ("" if classified else "  service unavailable")
    cv2.putText(out, status, (10, 22), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (255, 255, 255), 2, cv2.LINE_AA)
    return out
