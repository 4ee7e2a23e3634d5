"""The Python API in process against the `fer` package, on the same frames: how long until the first frame is
labelled (a fresh process: imports, model load, first call), and frames labelled per second after that.

Ours: `FER.from_release()` (Haar with the service's settings: faces from 30 px, the release's ONNX graph in
ONNX Runtime, one thread), `FER.from_release(min_face=50)` (fer's default smallest face, searched on the
reduced copy where it is the cascade's window), and `detect_video(frames)` (the service's settings, the frames
searched as one video, near the last faces, as fer-edge does). fer's: `FER(mtcnn=False)` (its Haar settings and
its int8 TFLite model), unpacked as bench/fer_package_baseline.py does; it needs `pkg_resources`, which this
environment lacks, so the one call it makes (`resource_filename`) is given to it here. The frames: the demo
generator's steady clip (640x480, one FER2013 face jittering, the same frames for both).

    python bench/python_api.py [--frames 150]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import textwrap
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import REPO, write_result
from edge_fps import clip
from fer_package_baseline import CACHE, fetch_model

FER_VERSION = "25.10.3"

# Run in a fresh process each: `ready_s` counts imports, as a user's script pays them.
PROBE = textwrap.dedent("""
    import json, sys, time
    started = time.perf_counter()
    import cv2
    frames = []
    capture = cv2.VideoCapture(sys.argv[2])
    while len(frames) < int(sys.argv[3]) and (read := capture.read())[0]:
        frames.append(read[1])
    read_s = time.perf_counter() - started
    started = time.perf_counter()
    if sys.argv[1].startswith("ours"):
        from fer_platform.api import FER
        size = sys.argv[1].removeprefix("ours").removeprefix("_video")
        fer = FER.from_release(sys.argv[4], min_face=int(size) if size else None)
    else:
        import os, types
        sys.path.insert(0, sys.argv[4])
        shim = types.ModuleType("pkg_resources")
        shim.resource_filename = lambda package, name: os.path.join(sys.argv[4], package, name)
        sys.modules["pkg_resources"] = shim
        from fer.fer import FER as PackageFER
        fer = PackageFER(mtcnn=False)
    first = fer.detect_emotions(frames[0])
    ready_s = time.perf_counter() - started
    started = time.perf_counter()
    if "_video" in sys.argv[1]:  # the frames as one video: searched near the last faces, as fer-edge does
        found = sum(len(faces) > 0 for faces in fer.detect_video(frames))
    else:
        found = sum(len(fer.detect_emotions(frame)) > 0 for frame in frames)
    seconds = time.perf_counter() - started
    print(json.dumps({"ready_s": round(ready_s, 2), "frames": len(frames), "frames_with_a_face": int(found),
                      "fps": round(len(frames) / seconds, 1), "ms_per_frame": round(1000 * seconds / len(frames), 1),
                      "tensorflow_imported": "tensorflow" in sys.modules}))
""")


def probe(who: str, video: Path, frames: int, where: Path) -> dict:
    env_note = {"TF_CPP_MIN_LOG_LEVEL": "2"}
    import os

    out = subprocess.run([sys.executable, "-c", PROBE, who, str(video), str(frames), str(where)], cwd=REPO,
                         capture_output=True, text=True, env={**os.environ, **env_note}, timeout=900)
    if out.returncode != 0:
        raise RuntimeError(f"{who}: {out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--frames", type=int, default=150)
    args = parser.parse_args()
    fetch_model(FER_VERSION)  # unpacks the package into bench/.cache once
    video = clip(1)
    ours = probe("ours", video, args.frames, REPO / "release")
    ours_50 = probe("ours50", video, args.frames, REPO / "release")
    ours_video = probe("ours_video", video, args.frames, REPO / "release")
    theirs = probe("fer", video, args.frames, CACHE / f"fer-{FER_VERSION}")
    write_result("python_api", {
        "clip": f"{video.name} (640x480, 1 face, demo generator)", "ours": ours,
        "ours_min_face_50": ours_50, "ours_detect_video": ours_video, f"fer_{FER_VERSION}": theirs,
        "fps_ratio": round(ours["fps"] / theirs["fps"], 2),
        "fps_ratio_min_face_50": round(ours_50["fps"] / theirs["fps"], 2),
        "fps_ratio_detect_video": round(ours_video["fps"] / theirs["fps"], 2),
        "goal": "ready in <= 2 s, >= 1.5x fer's frame rate (issue #24)"})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
