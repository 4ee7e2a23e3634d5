"""The seven FER2013 expression labels, in the original integer order of fer2013.csv.

This module is the only place that defines them: readers, models, the service and the edge client all
import from here (and it imports nothing heavy, so `fer-edge` can use it).
"""

from __future__ import annotations

EMOTIONS: tuple[str, ...] = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
NUM_CLASSES: int = len(EMOTIONS)
EMOTION_TO_CODE: dict[str, int] = {name: code for code, name in enumerate(EMOTIONS)}
# One colour per emotion (RGB), each readable under white text: fer-edge's overlay and the service's live page
# draw a face in its label's colour, so the same expression looks the same in both.
EMOTION_COLOURS: dict[str, tuple[int, int, int]] = {
    "angry": (200, 40, 40), "disgust": (40, 120, 40), "fear": (140, 40, 140), "happy": (230, 140, 0),
    "sad": (20, 80, 160), "surprise": (0, 120, 120), "neutral": (90, 90, 90)}

# The original `Usage` column values; the image-folder release keeps them as file-name prefixes.
SPLITS: tuple[str, ...] = ("Training", "PublicTest", "PrivateTest")
SPLIT_TO_CODE: dict[str, int] = {name: code for code, name in enumerate(SPLITS)}
TRAIN, SELECTION, REPORT = SPLITS  # train on Training, select on PublicTest, report PrivateTest


def emotion_code(name: str) -> int:
    """Code of an emotion name; a clear error listing the known names otherwise."""
    try:
        return EMOTION_TO_CODE[name]
    except KeyError:
        raise ValueError(f"unknown emotion {name!r}; known: {', '.join(EMOTIONS)}") from None


def face_result(probabilities) -> dict:
    """One face's answer, the shape /predict, /detect and the Python API share: the top label, its probability
    as `confidence`, and every label's probability (in EMOTIONS order)."""
    values = [float(p) for p in probabilities]
    top = max(range(len(values)), key=values.__getitem__)
    return {"label": EMOTIONS[top], "confidence": values[top],
            "probabilities": dict(zip(EMOTIONS, values, strict=True))}
