"""Drawing what fer-edge shows: per face a box and a backed label in the emotion's colour, and a status line
that says what the labels are.

A face's label is its track's probabilities averaged over the last `window` answers ("smoothed"), shown as
`face N: label P%` with N the track number (the same face keeps its number while it stays in view). When the
current frame got no answer, the box turns grey and the label says it is the last known one.
"""

from __future__ import annotations

import cv2
import numpy as np

from fer_platform.labels import EMOTION_COLOURS, EMOTIONS

COLOURS = {label: rgb[::-1] for label, rgb in EMOTION_COLOURS.items()}  # OpenCV draws in BGR
STALE = (128, 128, 128)
FONT, SCALE, THICK = cv2.FONT_HERSHEY_SIMPLEX, 0.55, 1


def draw(frame: np.ndarray, boxes, tracks, probs, fps: float, classified: bool, window: int = 1) -> np.ndarray:
    out = frame.copy()
    for box, track in zip(boxes, tracks, strict=True):
        x, y, w, h = box
        smooth = track.smoothed()
        if smooth is None:
            colour, text = STALE, f"face {track.track_id}: no answer yet"
        else:
            label = EMOTIONS[int(smooth.argmax())]
            fresh = probs is not None
            colour = COLOURS[label] if fresh else STALE
            text = f"face {track.track_id}: {label} {smooth.max():.0%}" + ("" if fresh else " (last known)")
        cv2.rectangle(out, (x, y), (x + w, y + h), colour, 2)
        backed_text(out, text, label_origin(box, text, out.shape), colour)
    what = f"mean of last {window} answers" if window > 1 else "this frame's answers"
    status = (f"{fps:4.1f} FPS | " if fps > 0 else "") + what + ("" if classified else " | service unavailable")
    backed_text(out, status, (6, out.shape[0] - 8), (0, 0, 160) if not classified else (40, 40, 40))
    return out


def label_origin(box, text: str, shape) -> tuple[int, int]:
    """Where a label's baseline starts: above the box, or inside its top when there is no room above; always
    within the frame."""
    (tw, th), base = cv2.getTextSize(text, FONT, SCALE, THICK)
    x, y, _, _ = box
    top = y - 6 if y - 6 - th - base >= 0 else y + th + 6
    return min(max(x, 0), max(0, shape[1] - tw - 4)), min(top, shape[0] - base - 2)


def backed_text(image: np.ndarray, text: str, origin: tuple[int, int], colour) -> None:
    """White text on a filled box of `colour`: legible on any background."""
    (tw, th), base = cv2.getTextSize(text, FONT, SCALE, THICK)
    x, y = origin
    cv2.rectangle(image, (x - 2, y - th - 4), (x + tw + 2, y + base + 2), colour, cv2.FILLED)
    cv2.putText(image, text, (x, y), FONT, SCALE, (255, 255, 255), THICK, cv2.LINE_AA)
