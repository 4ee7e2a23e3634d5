"""fer-edge without a service: tracking, smoothing, start-up weight, exit codes."""

import subprocess
import sys

import numpy as np

from fer_platform.edge.cli import EXIT_OUTPUT, EXIT_SOURCE, main
from fer_platform.edge.face_tracks import FaceTracker, iou


def one_hot(code: int) -> np.ndarray:
    return np.eye(7)[code]


def test_iou():
    assert iou((0, 0, 10, 10), (0, 0, 10, 10)) == 1.0
    assert iou((0, 0, 10, 10), (20, 20, 5, 5)) == 0.0
    assert abs(iou((0, 0, 10, 10), (5, 0, 10, 10)) - 50 / 150) < 1e-9


def test_two_faces_keep_separate_tracks_and_windows():
    tracker = FaceTracker(window=3)
    left, right = (10, 10, 50, 50), (300, 10, 50, 50)
    for step in range(5):
        shift = (step, 0, 0, 0)
        boxes = [tuple(a + b for a, b in zip(left, shift)), tuple(a + b for a, b in zip(right, shift))]
        # order of detections flips every frame: matching is by position, not by index
        if step % 2:
            boxes = boxes[::-1]
            probs = np.stack([one_hot(5), one_hot(3)])
        else:
            probs = np.stack([one_hot(3), one_hot(5)])
        tracks = tracker.update(boxes, probs)
    by_x = sorted(tracks, key=lambda t: t.box[0])
    assert [t.track_id for t in by_x] == [1, 2]
    assert by_x[0].smoothed().argmax() == 3 and by_x[1].smoothed().argmax() == 5  # no blending
    assert len(by_x[0].window) == 3  # the window is bounded


def test_smoothing_averages_the_window_and_unclassified_frames_add_nothing():
    tracker = FaceTracker(window=4)
    box = (0, 0, 40, 40)
    for code in (3, 3, 4):
        tracker.update([box], np.stack([one_hot(code)]))
    (track,) = tracker.update([box], None)  # service down: the track survives, the window does not change
    np.testing.assert_allclose(track.smoothed(), (2 * one_hot(3) + one_hot(4)) / 3)


def test_lost_tracks_expire():
    tracker = FaceTracker(window=2, max_missed=2)
    tracker.update([(0, 0, 40, 40)], None)
    for _ in range(3):
        tracker.update([], None)
    assert tracker.tracks == []


def test_edge_client_never_imports_tensorflow_or_mlflow():
    code = ("import sys; from fer_platform.edge import cli;"
            "rc = cli.main(['--video', '/nonexistent.mp4', '--no-display']);"
            "heavy = [m for m in ('tensorflow', 'keras', 'mlflow', 'bentoml', 'prefect') if m in sys.modules];"
            "print(rc, heavy)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == f"{EXIT_SOURCE} []", out.stdout + out.stderr


def test_exit_codes(tmp_path, capsys):
    assert main(["--video", str(tmp_path / "missing.mp4"), "--no-display"]) == EXIT_SOURCE
    assert "cannot open video" in capsys.readouterr().err
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"not a video")
    assert main(["--video", str(bad), "--no-display"]) == EXIT_SOURCE
    import cv2

    video = tmp_path / "ok.avi"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), 5, (64, 48))
    writer.write(np.zeros((48, 64, 3), np.uint8))
    writer.release()
    assert main(["--video", str(video), "--no-display", "--jsonl", str(tmp_path / "no/such/dir/x.jsonl")]) == EXIT_OUTPUT


def test_bad_arguments_exit_2():
    for args in ([], ["--camera", "0", "--video", "x.mp4"], ["--video", "x.mp4", "--max-frames", "0"]):
        out = subprocess.run([sys.executable, "-m", "fer_platform.edge.cli", *args], capture_output=True, text=True)
        assert out.returncode == 2, args
