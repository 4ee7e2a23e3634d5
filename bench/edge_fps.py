"""fer-edge against the served release on loopback, as a camera would feed it (--realtime, 30 FPS, 640x480):
FPS, capture-to-label latency, drops and time per stage, with one and with three faces; and the detection
rate of the reduced-frame Haar search against a full-resolution search on the same frames; and on moving faces,
the live search (near the last faces, a full scan every 10 frames) against a full scan of every frame: faces
found, track numbers per person, ms a frame.

    python bench/edge_fps.py
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import cv2

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import DEFAULT_FER, REPO, write_result
from _serving import Server, prepare

from fer_platform.contract import EDGE_MIN_FACE, LIVE_FULL_SCAN_EVERY
from fer_platform.edge.demo import pick_faces
from fer_platform.edge.moving_demo import follow, moving_clip
from fer_platform.faces import DetectorSettings, FaceDetector
from fer_platform.streams.face_search import FaceSearch
from fer_platform.streams.face_tracks import FaceTracker, iou

CACHE = REPO / "bench" / ".cache"
BIN = Path(sys.executable).parent


def _generated(path: Path, *options: str) -> Path:
    """The demo generator's clip at `path`, made once: written under another name and renamed when whole, so an
    interrupted run leaves no half clip to be measured next time."""
    if not path.exists():
        partial = path.with_name(f"{path.stem}.partial{path.suffix}")
        subprocess.run([sys.executable, "-m", "fer_platform.edge.demo", "--fer", str(DEFAULT_FER), "--out",
                        str(partial), *options], check=True)
        if partial.with_suffix(".json").exists():  # the clip's labels, beside it
            partial.with_suffix(".json").replace(path.with_suffix(".json"))
        partial.replace(path)
    return path


def clip(faces: int, frames: int = 300, fps: int = 30) -> Path:
    # Named by its settings: a clip cached with other settings (once, 30 frames) is not measured as this one.
    return _generated(CACHE / f"steady_{faces}_{frames}f_{fps}fps.mp4", "--steady-faces", str(faces),
                      "--frames", str(frames), "--fps", str(fps))


def demo_clip() -> Path:
    return _generated(CACHE / "demo.mp4")


def detection_rate(video: Path, min_face: int = EDGE_MIN_FACE) -> dict:
    """Faces found at full resolution vs on the reduced copy fer-edge searches, and the time each takes."""
    cv2.setNumThreads(1)
    capture, frames = cv2.VideoCapture(str(video)), []
    while (read := capture.read())[0]:
        frames.append(cv2.cvtColor(read[1], cv2.COLOR_BGR2GRAY))
    detector = FaceDetector(DetectorSettings(min_face=min_face))
    out = {}
    for name, scale in (("full", 1.0), ("reduced", detector.lossless_downscale())):
        began = time.perf_counter()
        out[name] = {"downscale": scale, "boxes": [detector.detect(g, scale) for g in frames]}
        out[name]["ms_per_frame"] = round((time.perf_counter() - began) / len(frames) * 1000, 1)
    lost = sum(1 for full, red in zip(out["full"]["boxes"], out["reduced"]["boxes"], strict=True)
               for box in full if not any(iou(box, b) > 0.5 for b in red))
    return {"video": video.name, "frames": len(frames), "min_face": min_face,
            **{f"{k}_faces": sum(map(len, v["boxes"])) for k, v in out.items()},
            **{f"{k}_ms_per_frame": v["ms_per_frame"] for k, v in out.items()},
            "downscale": out["reduced"]["downscale"], "faces_lost_by_reducing": lost}


def moving(pixels_per_frame: float) -> dict:
    """Two demo faces moving at up to `pixels_per_frame` for 300 frames: live search against a full scan."""
    cv2.setNumThreads(1)
    picked = pick_faces(DEFAULT_FER, FaceDetector(), {"happy": 1, "surprise": 1})
    frames = moving_clip([picked["happy"][0][1], picked["surprise"][0][1]], 300, pixels_per_frame)
    detector = FaceDetector(DetectorSettings(min_face=EDGE_MIN_FACE))
    return {name: follow(frames, FaceSearch(detector, detector.lossless_downscale(), full_every=every),
                         FaceTracker())
            for name, every in (("full_scan", 1), ("live", LIVE_FULL_SCAN_EVERY))}


def run_edge(url: str, video: Path, extra: list[str]) -> dict:
    stats = CACHE / "edge_stats.json"
    subprocess.run([str(BIN / "fer-edge"), "--video", str(video), "--url", url, "--no-display", "--realtime",
                    "--stats", str(stats), *extra], check=True, capture_output=True)
    return json.loads(stats.read_text())


def main() -> int:
    env = prepare()
    result: dict = {"detection": detection_rate(demo_clip()), "runs": {},
                    "moving": {f"{speed}_px_per_frame": moving(speed) for speed in (8, 16)}}
    server = Server(env)
    server.start()
    try:
        for faces in (1, 3):
            video = clip(faces)
            run_edge(server.url, video, ["--max-frames", "60"])  # warm-up: connections, caches
            result["runs"][f"{faces}_face"] = run_edge(server.url, video, [])
            result["runs"][f"{faces}_face_annotated_output"] = run_edge(
                server.url, video, ["--output", str(CACHE / f"annotated_{faces}.mp4")])
    finally:
        server.stop()
    write_result("edge_fps", result)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
