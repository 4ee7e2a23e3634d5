"""Faces that move, and how well live search and tracking follow them (issue #23.13).

A live source searches near the last faces and scans the whole frame only every few frames (streams.face_search);
that must find the faces a full scan finds and keep one track number per person. `moving_clip` makes the frames
(demo faces walking smooth paths and changing size, as a person before a webcam does), `follow` scores a search
and a tracker on them: the share of true faces found, and the track numbers each person got.
"""

from __future__ import annotations

import time

import cv2
import numpy as np

from fer_platform.edge.demo import BACKGROUND, HEIGHT, WIDTH
from fer_platform.faces import crop_faces, iou
from fer_platform.streams.face_search import FaceSearch
from fer_platform.streams.face_tracks import Box, FaceTracker


def moving_clip(faces: list[np.ndarray], frames: int,
                pixels_per_frame: float = 8.0) -> list[tuple[np.ndarray, list[Box]]]:
    """Gray 640x480 frames with each 48x48 face (one or two) upscaled to 110-170 px and moving on its own smooth
    path, at up to about `pixels_per_frame` (8 at 30 FPS: 240 px/s, a person leaning and turning); each frame
    with its true face boxes."""
    if not 1 <= len(faces) <= 2:
        raise ValueError("moving_clip takes one or two faces")
    clip = []
    for t in range(frames):
        frame = np.full((HEIGHT, WIDTH), BACKGROUND, np.uint8)
        boxes = []
        for k, face in enumerate(faces):
            side = int(140 + 30 * np.sin(t / 25 + k))
            cx = int(170 + 300 * k + 120 * np.sin(pixels_per_frame * t / 120 + 1.3 * k))
            cy = int(240 + 80 * np.sin(pixels_per_frame * t / 90 + k))
            pad = side // 5  # the cascade needs some context around a face
            tile = cv2.copyMakeBorder(cv2.resize(face, (side, side), interpolation=cv2.INTER_CUBIC),
                                      pad, pad, pad, pad, cv2.BORDER_REPLICATE)
            x0 = min(max(0, cx - tile.shape[1] // 2), WIDTH - tile.shape[1])
            y0 = min(max(0, cy - tile.shape[0] // 2), HEIGHT - tile.shape[0])
            frame[y0:y0 + tile.shape[0], x0:x0 + tile.shape[1]] = tile
            boxes.append((x0 + pad, y0 + pad, side, side))
        clip.append((frame, boxes))
    return clip


def follow(clip: list[tuple[np.ndarray, list[Box]]], search: FaceSearch, tracker: FaceTracker) -> dict:
    """Run `search` and `tracker` over the clip as fer-edge and the live page do: found (true faces with a box at
    IoU >= 0.5, over all true faces), track numbers per person, and the search's and tracker's ms a frame."""
    found = total = 0
    ids: dict[int, set[int]] = {}
    started = time.perf_counter()
    for frame, truth in clip:
        boxes = search.find(frame)
        tracks = tracker.update(boxes, None, crop_faces(frame, boxes) if boxes else None)
        for person, true_box in enumerate(truth):
            total += 1
            best = max(((iou(box, true_box), track.track_id) for box, track in zip(boxes, tracks, strict=True)),
                       default=(0.0, None))
            if best[0] >= 0.5:
                found += 1
                ids.setdefault(person, set()).add(best[1])
    ms = (time.perf_counter() - started) * 1000 / max(len(clip), 1)
    return {"found": round(found / max(total, 1), 4), "track_ids_per_person": [len(ids.get(p, ())) for p in
                                                                                range(len(clip[0][1]))],
            "ms_per_frame": round(ms, 1)}
