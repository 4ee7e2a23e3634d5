"""Haar face detection and the 48x48 crop: shared by the service's /detect and the edge client.

Imports only OpenCV, numpy and the image contract (no TensorFlow), so `fer-edge` stays light.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from fer_platform.contract import (
    HAAR_MIN_FACE,
    HAAR_MIN_NEIGHBORS,
    HAAR_SCALE_FACTOR,
    HAAR_WINDOW,
    IMAGE_SHAPE,
)
from fer_platform.labels import face_result

CASCADE_FILE = "haarcascade_frontalface_default.xml"


@dataclass(frozen=True)
class DetectorSettings:
    scale_factor: float = HAAR_SCALE_FACTOR
    min_neighbors: int = HAAR_MIN_NEIGHBORS
    min_face: int = HAAR_MIN_FACE


class FaceDetector:
    """OpenCV's Haar cascade shipped with opencv-python (no downloads)."""

    def __init__(self, settings: DetectorSettings = DetectorSettings()):
        path = cv2.data.haarcascades + CASCADE_FILE
        self.cascade = cv2.CascadeClassifier(path)
        if self.cascade.empty():
            raise RuntimeError(f"cannot load the Haar cascade {path} (is opencv-python<5 installed?)")
        self.settings = settings

    def lossless_downscale(self) -> float:
        """The smallest copy of a frame in which a face of `min_face` pixels is still the cascade's window."""
        return min(1.0, HAAR_WINDOW / self.settings.min_face)

    def detect(self, gray: np.ndarray, downscale: float = 1.0,
               sizes: tuple[int, int] | None = None) -> list[tuple[int, int, int, int]]:
        """Face boxes (x, y, w, h) in a grayscale frame, largest first.

        `downscale` < 1 searches a reduced copy (with the smallest face reduced alike) and maps the boxes back
        to the frame: the cascade's cost falls with the pixel count, which is what lets the edge client keep
        up with a camera on two cores."""
        min_face, max_face = sizes or (self.settings.min_face, 0)  # `sizes`: (smallest, largest) face side
        search = gray
        if downscale < 1.0:
            search = cv2.resize(gray, None, fx=downscale, fy=downscale, interpolation=cv2.INTER_AREA)
            min_face, max_face = max(8, round(min_face * downscale)), round(max_face * downscale)
        boxes = self.cascade.detectMultiScale(
            search,
            scaleFactor=self.settings.scale_factor,
            minNeighbors=self.settings.min_neighbors,
            minSize=(min_face, min_face),
            maxSize=(max_face, max_face),
        )
        found = [tuple(int(round(v / downscale)) for v in b) for b in boxes]
        return sorted((_clip(b, gray.shape) for b in found), key=lambda b: -b[2] * b[3])


def detected_face(box: tuple[int, ...], probabilities=None) -> dict:
    """One face as /detect answers it (and `fer-edge --image` and the Python API): its box and face_result of its
    probabilities; label, confidence and probabilities None when it was not classified."""
    answer = face_result(probabilities) if probabilities is not None else \
        {"label": None, "confidence": None, "probabilities": None}
    return {"box": dict(zip(("x", "y", "w", "h"), box, strict=True)), **answer}


def iou(a: tuple[int, ...], b: tuple[int, ...]) -> float:
    """Intersection over union of two (x, y, w, h) boxes (tracking, and whether a detection found a face)."""
    ax2, ay2, bx2, by2 = a[0] + a[2], a[1] + a[3], b[0] + b[2], b[1] + b[3]
    iw = max(0, min(ax2, bx2) - max(a[0], b[0]))
    ih = max(0, min(ay2, by2) - max(a[1], b[1]))
    inter = iw * ih
    union = a[2] * a[3] + b[2] * b[3] - inter
    return inter / union if union else 0.0


def _clip(box: tuple[int, ...], shape: tuple[int, ...]) -> tuple[int, int, int, int]:
    """A mapped-back box kept inside the frame (rounding can push it a pixel over the edge)."""
    x, y, w, h = box
    x, y = min(max(x, 0), shape[1] - 1), min(max(y, 0), shape[0] - 1)
    return x, y, min(w, shape[1] - x), min(h, shape[0] - y)


def to_gray(image: np.ndarray) -> np.ndarray:
    if image.ndim == 2:
        return image
    if image.shape[2] == 4:
        return cv2.cvtColor(image, cv2.COLOR_BGRA2GRAY)
    return cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)


def crop_faces(gray: np.ndarray, boxes: list[tuple[int, int, int, int]]) -> np.ndarray:
    """(N, 48, 48) uint8 crops, resized with area interpolation (the downscale FER2013 faces went through)."""
    crops = [cv2.resize(gray[y:y + h, x:x + w], IMAGE_SHAPE[::-1], interpolation=cv2.INTER_AREA)
             for x, y, w, h in boxes]
    return np.stack(crops).astype(np.uint8) if crops else np.zeros((0, *IMAGE_SHAPE), np.uint8)
