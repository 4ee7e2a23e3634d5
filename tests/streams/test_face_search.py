"""FaceSearch with the real Haar cascade on demo frames: the neighbourhood search finds what a full scan finds,
and a face that jumps out of its neighbourhood is found in the same frame, by a full scan."""

import cv2

from fer_platform.contract import EDGE_MIN_FACE
from fer_platform.edge import demo
from fer_platform.faces import DetectorSettings, FaceDetector
from fer_platform.streams.face_search import FaceSearch
from fer_platform.streams.face_tracks import iou
from tests.conftest import SHARED_FER


def _frame(faces, centers, jitter=(0, 0)):
    frame, truth = demo.compose(faces, centers, jitter)
    return cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY), truth


def test_neighbourhood_search_keeps_the_faces_and_a_full_scan_finds_a_jump_in_the_same_frame():
    picked = demo.pick_faces(SHARED_FER, FaceDetector(), {"happy": 1, "sad": 1, "surprise": 1})
    faces = [picked[label][0][1] for label in ("happy", "sad", "surprise")]
    detector = FaceDetector(DetectorSettings(min_face=EDGE_MIN_FACE))
    search = FaceSearch(detector, detector.lossless_downscale(), full_every=30)
    three = demo.STEADY_CENTERS[2]
    for step, jitter in enumerate([(0, 0), (3, -2), (-3, 3), (2, 2), (-1, -3)]):
        gray, truth = _frame(faces, three, jitter)
        found = search.find(gray)
        assert len(found) == 3 and all(any(iou(t, f) > 0.5 for f in found) for t in truth), (step, found)
    assert search._since_full > 1  # frames 2-5 were neighbourhood searches, not full scans

    centre, left = demo.STEADY_CENTERS[0][0], demo.STEADY_CENTERS[2][0]
    search = FaceSearch(detector, detector.lossless_downscale(), full_every=30)
    for _ in range(3):  # one face, tracked in the middle
        gray, truth = _frame(faces[:1], [centre])
        assert len(search.find(gray)) == 1
    gray, truth = _frame(faces[:1], [left])  # it jumps to the left edge, outside the searched neighbourhood
    found = search.find(gray)  # the neighbourhood search loses it, so this frame is scanned whole and finds it
    assert len(found) == 1 and iou(found[0], truth[0]) > 0.5
    assert search._since_full == 1
