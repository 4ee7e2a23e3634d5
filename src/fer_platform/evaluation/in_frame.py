"""Pipeline accuracy: test faces placed into camera-like frames and found again by the product's own detector.

A FER2013 face is 48x48 and tightly framed; the served model only ever sees what the Haar cascade and
`faces.crop_faces` (the code /detect, fer-edge and the Python API share) cut out of a frame. Here each test face
is scaled to 60-250 px, tilted a little, and pasted into a 640x480 frame with a textured background and a light
gradient; the detector searches the frame as the service does. A face counts as detected when a box overlaps
its true box (IoU >= 0.4); the crop of the best box is what the model is scored on.

Detection does not depend on the model, so the frames are made and searched once (the `in_frame` stage) and
every architecture's evaluation only classifies the stored crops.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from fer_platform.data.dataset import FerDataset
from fer_platform.data.splits import cap_per_class
from fer_platform.faces import DetectorSettings, FaceDetector, crop_faces, iou
from fer_platform.io import write_with
from fer_platform.labels import NUM_CLASSES, REPORT, SELECTION

WIDTH, HEIGHT = 640, 480
FACE_SIDES = (60, 250)  # smallest and largest face side in a frame, pixels
MAX_TILT_DEG = 12.0
MIN_IOU = 0.4


@dataclass(frozen=True)
class InFrameFaces:
    """What the detector made of `n` test faces: which were found, and the crops it cut for them."""

    found: np.ndarray  # (n,) bool
    crops: np.ndarray  # (found.sum(), 48, 48) uint8, in the order of the found faces
    sides: np.ndarray  # (n,) int, the face's side in its frame


def _background(rng: np.random.Generator) -> np.ndarray:
    """A room-like grey frame: low-frequency texture, a few edges, and a light gradient across it."""
    coarse = rng.uniform(40, 200, (6, 8)).astype(np.float32)
    frame = cv2.resize(coarse, (WIDTH, HEIGHT), interpolation=cv2.INTER_CUBIC)
    for _ in range(int(rng.integers(2, 6))):  # furniture, door frames: straight edges of another grey
        x0, y0 = int(rng.integers(0, WIDTH)), int(rng.integers(0, HEIGHT))
        cv2.rectangle(frame, (x0, y0), (x0 + int(rng.integers(40, 300)), y0 + int(rng.integers(40, 300))),
                      float(rng.uniform(30, 220)), thickness=-1)
    angle = rng.uniform(0, 2 * np.pi)
    ys, xs = np.mgrid[0:HEIGHT, 0:WIDTH].astype(np.float32)
    ramp = (np.cos(angle) * (xs / WIDTH - 0.5) + np.sin(angle) * (ys / HEIGHT - 0.5))
    frame *= 1.0 + rng.uniform(0.2, 0.6) * ramp  # a window on one side
    frame += rng.normal(0, 3, frame.shape).astype(np.float32)
    return frame


def compose_frame(face: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, tuple[int, int, int, int]]:
    """One grayscale 640x480 frame holding `face` (any side, tilted); returns (frame, the face's true box)."""
    side = int(rng.integers(FACE_SIDES[0], FACE_SIDES[1] + 1))
    big = cv2.resize(face, (side, side), interpolation=cv2.INTER_CUBIC).astype(np.float32)
    # The face's own border, replicated, stands in for hair, neck and shoulders around the tight crop.
    pad = side // 4
    tile = cv2.copyMakeBorder(big, pad, pad, pad, pad, cv2.BORDER_REPLICATE)
    tilt = float(rng.uniform(-MAX_TILT_DEG, MAX_TILT_DEG))
    centre = ((tile.shape[1] - 1) / 2, (tile.shape[0] - 1) / 2)
    tile = cv2.warpAffine(tile, cv2.getRotationMatrix2D(centre, tilt, 1.0), tile.shape[::-1],
                          flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    frame = _background(rng)
    x0 = int(rng.integers(0, WIDTH - tile.shape[1] + 1))
    y0 = int(rng.integers(0, HEIGHT - tile.shape[0] + 1))
    # Feather the tile's edge into the background, so the frame has no square seam for the cascade to find.
    mask = np.zeros(tile.shape, np.float32)
    cv2.ellipse(mask, (tile.shape[1] // 2, tile.shape[0] // 2), (tile.shape[1] // 2 - 2, tile.shape[0] // 2 - 2),
                0, 0, 360, 1.0, thickness=-1)
    mask = cv2.GaussianBlur(mask, (0, 0), pad / 3 + 1)
    region = frame[y0:y0 + tile.shape[0], x0:x0 + tile.shape[1]]
    region[:] = mask * tile + (1 - mask) * region
    gain = float(rng.uniform(0.6, 1.3))  # exposure: the face's light changes with the frame's
    frame = np.clip(frame * gain, 0, 255).astype(np.uint8)
    return frame, (x0 + pad, y0 + pad, side, side)


def detect_in_frames(faces: np.ndarray, seed: int, detector: FaceDetector | None = None) -> InFrameFaces:
    """Each face in its own seeded frame, searched by the service's detector; the crop of its best box."""
    detector = detector or FaceDetector()
    found, crops, sides = [], [], []
    for i, face in enumerate(np.asarray(faces, np.uint8)):
        frame, truth = compose_frame(face, np.random.default_rng([seed, i]))
        boxes = detector.detect(frame)
        best = max(boxes, key=lambda b: iou(b, truth), default=None)
        hit = best is not None and iou(best, truth) >= MIN_IOU
        found.append(hit)
        sides.append(truth[2])
        if hit:
            crops.append(crop_faces(frame, [best])[0])
    return InFrameFaces(np.array(found, bool), np.array(crops, np.uint8).reshape(-1, 48, 48), np.array(sides))


def pipeline_report(probabilities: np.ndarray, labels: np.ndarray, in_frame: InFrameFaces) -> dict:
    """Detection rate, accuracy on the detected faces, and end-to-end accuracy (a missed face counts wrong)."""
    labels = np.asarray(labels)
    n, detected = len(labels), int(in_frame.found.sum())
    correct = int((np.argmax(probabilities, axis=1) == labels[in_frame.found]).sum()) if detected else 0
    return {"n": n, "detected": detected, "detection_rate": detected / n if n else 0.0,
            "accuracy_on_detected": correct / detected if detected else 0.0,
            "end_to_end_accuracy": correct / n if n else 0.0}


SEED = 2019  # fixed, like the robustness suite's: every architecture is scored on the same frames


def search_test_splits(dataset: FerDataset, faces_per_split: int, seed: int = SEED,
                       detector: FaceDetector | None = None) -> dict[str, tuple]:
    """{PublicTest: (labels, InFrameFaces), PrivateTest: ...} for a class-balanced, seeded subset of each: up to
    faces_per_split / 7 faces of each class (FER2013's test splits hold only 55-56 `disgust` faces)."""
    settings = detector.settings if detector else DetectorSettings()

    def search(offset: int, split: str) -> tuple:
        faces = cap_per_class(dataset.split(split), max(1, faces_per_split // NUM_CLASSES), seed)
        # A cascade of its own: one CascadeClassifier is not safe to share between threads.
        return faces.labels, detect_in_frames(faces.images, seed + offset, FaceDetector(settings))

    # The two splits side by side: OpenCV releases the GIL while it searches (the stage took ~1 core of 2).
    with ThreadPoolExecutor(max_workers=2) as pool:
        searched = list(pool.map(search, (0, 1), (SELECTION, REPORT)))
    return dict(zip((SELECTION, REPORT), searched, strict=True))


def save_searches(path: Path, searches: dict[str, tuple]) -> None:
    arrays = {}
    for split, (labels, found) in searches.items():
        key = split.lower()
        arrays.update({f"{key}_labels": labels, f"{key}_found": found.found, f"{key}_crops": found.crops,
                       f"{key}_sides": found.sides})
    write_with(path, lambda tmp: np.savez_compressed(tmp, **arrays))


def load_searches(path: Path) -> dict[str, tuple]:
    with np.load(path) as data:
        return {split: (data[f"{split.lower()}_labels"],
                        InFrameFaces(data[f"{split.lower()}_found"], data[f"{split.lower()}_crops"],
                                     data[f"{split.lower()}_sides"]))
                for split in (SELECTION, REPORT)}
