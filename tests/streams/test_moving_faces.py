"""Live search and tracking against a full scan on moving faces (issue #23.13): the live mode (a neighbourhood
search, a full scan every 10 frames) must find what a full scan of every frame finds, and give each person one
track number. Before the fix a face the neighbourhood lost waited a frame for the full scan, and one moving
person got up to 8 track numbers (Haar framed it differently each search, and the look check split the track)."""

import pytest

from fer_platform.contract import EDGE_MIN_FACE, LIVE_FULL_SCAN_EVERY
from fer_platform.edge import demo
from fer_platform.edge.moving_demo import follow, moving_clip
from fer_platform.faces import DetectorSettings, FaceDetector
from fer_platform.streams.face_search import FaceSearch
from fer_platform.streams.face_tracks import FaceTracker
from tests.conftest import SHARED_FER


@pytest.mark.parametrize("pixels_per_frame", [8, 16])
def test_live_search_follows_moving_faces_as_a_full_scan_does(pixels_per_frame):
    picked = demo.pick_faces(SHARED_FER, FaceDetector(), {"happy": 1, "surprise": 1})
    clip = moving_clip([picked["happy"][0][1], picked["surprise"][0][1]], frames=90,
                       pixels_per_frame=pixels_per_frame)
    detector = FaceDetector(DetectorSettings(min_face=EDGE_MIN_FACE))
    full = follow(clip, FaceSearch(detector, detector.lossless_downscale(), full_every=1), FaceTracker())
    live = follow(clip, FaceSearch(detector, detector.lossless_downscale(), full_every=LIVE_FULL_SCAN_EVERY),
                  FaceTracker())
    assert full["found"] >= 0.95, full  # the clip itself is fair to Haar
    assert live["found"] >= full["found"] - 0.01, (live, full)
    assert live["track_ids_per_person"] == [1, 1], (live, full)
    assert full["track_ids_per_person"] == [1, 1], full
