"""Generate a 640x480 demo video from FER2013 PrivateTest faces, with ground truth per segment.

Segments show one face, then two faces side by side, then none. Faces are chosen per label in file-name
order among those the Haar cascade finds in the composed frame (never by what any model predicts), so the
ground truth measures classification, not detection luck.

    python -m fer_platform.edge.demo --out demo.mp4            # writes demo.mp4 and demo.json
"""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np

from fer_platform import version
from fer_platform.edge.cli import positive_int
from fer_platform.errors import entry_point
from fer_platform.faces import FaceDetector
from fer_platform.labels import EMOTIONS
from fer_platform.streams.face_tracks import iou

WIDTH, HEIGHT, FACE_SIDE, PAD = 640, 480, 150, 30
BACKGROUND = 110  # the grey behind the faces
DEFAULT_OUT, DEFAULT_PHOTO = "outputs/demo.mp4", "outputs/sample.jpg"  # outputs/ is git-ignored: demo files never land in the checkout's tracked tree
SINGLE_LABELS = ("happy", "surprise", "neutral", "angry", "sad", "fear")
PAIRS = (("happy", "sad"), ("surprise", "neutral"), ("angry", "happy"))
# Face centres for steady clips of 1, 2 and 3 faces (tiles are 210 px wide).
STEADY_CENTERS = ([(WIDTH // 2, HEIGHT // 2)], [(165, HEIGHT // 2), (475, HEIGHT // 2)],
                  [(110, HEIGHT // 2), (320, HEIGHT // 2), (530, HEIGHT // 2)])


class Y4mWriter:
    """Uncompressed YUV 4:2:0 frames: the format Chromium's fake camera plays
    (--use-file-for-fake-video-capture=FILE.y4m), so a browser can be shown labelled faces as its camera."""

    def __init__(self, out: Path, fps: float):
        self.file = open(out, "wb")  # noqa: SIM115  (release() closes it, as a cv2.VideoWriter does)
        rate = f"{int(fps)}:1" if float(fps).is_integer() else f"{round(fps * 1000)}:1000"
        self.file.write(f"YUV4MPEG2 W{WIDTH} H{HEIGHT} F{rate} Ip A1:1 C420jpeg\n".encode())

    def write(self, frame: np.ndarray) -> None:
        self.file.write(b"FRAME\n" + cv2.cvtColor(frame, cv2.COLOR_BGR2YUV_I420).tobytes())

    def release(self) -> None:
        self.file.close()


def open_writer(out: Path, fps: float):
    """A .y4m (a fake camera's clip) or an MP4 video."""
    if out.suffix.lower() == ".y4m":
        return Y4mWriter(out, fps)
    writer = cv2.VideoWriter(str(out), cv2.VideoWriter_fourcc(*"mp4v"), fps, (WIDTH, HEIGHT))
    if not writer.isOpened():
        raise OSError(f"cannot write {out}")
    return writer


def _face_tile(face48: np.ndarray) -> np.ndarray:
    """Upscale the 48x48 face and add a replicated border so the cascade sees some context."""
    big = cv2.resize(face48, (FACE_SIDE, FACE_SIDE), interpolation=cv2.INTER_CUBIC)
    return cv2.copyMakeBorder(big, PAD, PAD, PAD, PAD, cv2.BORDER_REPLICATE)


def compose(faces: list[np.ndarray], centers: list[tuple[int, int]], jitter: tuple[int, int] = (0, 0)):
    """A BGR frame with each face tile centred at a point; returns (frame, face boxes)."""
    frame = np.full((HEIGHT, WIDTH), BACKGROUND, np.uint8)
    boxes = []
    for face, (cx, cy) in zip(faces, centers, strict=True):
        tile = _face_tile(face)
        x0, y0 = cx - tile.shape[1] // 2 + jitter[0], cy - tile.shape[0] // 2 + jitter[1]
        frame[y0:y0 + tile.shape[0], x0:x0 + tile.shape[1]] = tile
        boxes.append((x0 + PAD, y0 + PAD, FACE_SIDE, FACE_SIDE))
    return cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR), boxes


def _detectable(detector: FaceDetector, face: np.ndarray) -> bool:
    frame, (box,) = compose([face], [(WIDTH // 2, HEIGHT // 2)])
    found = detector.detect(cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY))
    return len(found) == 1 and iou(found[0], box) > 0.5


def pick_faces(fer_root: Path, detector: FaceDetector, needed: dict[str, int]) -> dict[str, list[tuple[str, np.ndarray]]]:
    picked: dict[str, list[tuple[str, np.ndarray]]] = {label: [] for label in needed}
    for label, count in needed.items():
        for path in sorted((fer_root / "test" / label).glob("PrivateTest_*.jpg")):
            face = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
            if face is not None and face.shape == (48, 48) and _detectable(detector, face):
                picked[label].append((path.relative_to(fer_root).as_posix(), face))
                if len(picked[label]) == count:
                    break
        if len(picked[label]) < count:
            raise RuntimeError(f"only {len(picked[label])} detectable {label} faces in {fer_root}")
    return picked


def generate(fer_root: Path, out: Path, frames_per_segment: int = 15, fps: float = 10.0,
             singles_per_label: int = 1) -> dict:
    """One-face segments (`singles_per_label` faces per label), two-face segments, then an empty one."""
    detector = FaceDetector()
    singles = [lab for lab in SINGLE_LABELS for _ in range(singles_per_label)]
    needed: dict[str, int] = {}
    for label in [*singles, *(lab for pair in PAIRS for lab in pair)]:
        needed[label] = needed.get(label, 0) + 1
    pool = pick_faces(fer_root, detector, needed)
    segments_spec = [[lab] for lab in singles] + [list(p) for p in PAIRS] + [[]]
    writer = open_writer(out, fps)
    rng = np.random.default_rng(0)
    used: dict[str, int] = {}
    segments, frame_index = [], 0
    for spec in segments_spec:
        chosen = []
        for label in spec:
            chosen.append(pool[label][used.get(label, 0)])
            used[label] = used.get(label, 0) + 1
        centers = [(WIDTH // 2, HEIGHT // 2)] if len(chosen) == 1 else [(165, HEIGHT // 2), (475, HEIGHT // 2)]
        centers = centers[: len(chosen)]
        boxes = []
        for _ in range(frames_per_segment):
            jitter = tuple(int(v) for v in rng.integers(-3, 4, size=2))
            frame, boxes = compose([f for _, f in chosen], centers, jitter)
            writer.write(frame)
        segments.append({
            "start": frame_index, "end": frame_index + frames_per_segment - 1,
            "faces": [{"label": label, "source_id": sid, "box": list(box)}
                      for label, (sid, _), box in zip(spec, chosen, boxes, strict=True)],
        })
        frame_index += frames_per_segment
    writer.release()
    truth = {"video": out.name, "width": WIDTH, "height": HEIGHT, "fps": fps, "frames": frame_index,
             "labels": list(EMOTIONS), "segments": segments}
    out.with_suffix(".json").write_text(json.dumps(truth, indent=2) + "\n")
    return truth


def generate_steady(fer_root: Path, out: Path, faces: int, frames: int, fps: float = 30.0) -> dict:
    """A benchmark clip: the same `faces` faces (1 to 3, side by side) in every frame, jittering slightly."""
    if not 1 <= faces <= len(STEADY_CENTERS):
        raise ValueError(f"--steady-faces must be 1..{len(STEADY_CENTERS)}, got {faces}")
    labels = SINGLE_LABELS[:faces]
    pool = pick_faces(fer_root, FaceDetector(), {label: 1 for label in labels})
    chosen = [pool[label][0] for label in labels]
    centers = STEADY_CENTERS[faces - 1]
    writer = open_writer(out, fps)
    rng = np.random.default_rng(0)
    boxes = []
    for _ in range(frames):
        frame, boxes = compose([f for _, f in chosen], centers, tuple(int(v) for v in rng.integers(-3, 4, size=2)))
        writer.write(frame)
    writer.release()
    truth = {"video": out.name, "width": WIDTH, "height": HEIGHT, "fps": fps, "frames": frames,
             "labels": list(EMOTIONS), "segments": [{"start": 0, "end": frames - 1, "faces": [
                 {"label": label, "source_id": sid, "box": list(box)}
                 for label, (sid, _), box in zip(labels, chosen, boxes, strict=True)]}]}
    out.with_suffix(".json").write_text(json.dumps(truth, indent=2) + "\n")
    return truth


def generate_photo(fer_root: Path, out: Path, faces: int = 3) -> dict:
    """A still photo (the README's sample, release/sample.jpg): `faces` PrivateTest faces side by side, the
    first of each label Haar finds (never chosen by what the model says of them)."""
    labels = SINGLE_LABELS[:faces]
    pool = pick_faces(fer_root, FaceDetector(), {label: 1 for label in labels})
    frame, boxes = compose([pool[label][0][1] for label in labels], STEADY_CENTERS[faces - 1])
    if not cv2.imwrite(str(out), frame, [cv2.IMWRITE_JPEG_QUALITY, 92]):
        raise OSError(f"cannot write {out}")
    return {"photo": out.name, "faces": [{"label": label, "source_id": pool[label][0][0], "box": list(box)}
                                         for label, box in zip(labels, boxes, strict=True)]}


@entry_point("demo", also=(OSError, RuntimeError, cv2.error))  # a folder, a codec or a file that fails
def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m fer_platform.edge.demo", description=__doc__.split("\n\n")[0])
    parser.add_argument("--version", action="version", version=f"%(prog)s {version()}")
    parser.add_argument("--fer", default="data/fer2013", help="FER2013 image-folder root (default: %(default)s)")
    parser.add_argument("--out", default=DEFAULT_OUT, help="output video (default: %(default)s, git-ignored); "
                        "ground truth goes beside it as .json; a .y4m is a clip for Chromium's fake camera")
    parser.add_argument("--photo", action="store_true",
                        help=f"a still photo of three faces instead of a video (default --out {DEFAULT_PHOTO})")
    parser.add_argument("--frames-per-segment", type=positive_int, default=15)
    parser.add_argument("--faces-per-label", type=positive_int, default=1, help="one-face segments per label")
    parser.add_argument("--fps", type=float, default=10.0, help="frame rate of the video (default 10)")
    parser.add_argument("--steady-faces", type=int, choices=(1, 2, 3), metavar="N",
                        help="instead of segments: N faces (1-3) in every frame, for benchmarks")
    parser.add_argument("--frames", type=positive_int, default=300, help="with --steady-faces: how many frames")
    args = parser.parse_args(argv)
    fer, out = Path(args.fer), Path(args.out)
    if not (fer / "test").is_dir():
        parser.error(f"--fer {fer}: no test/ folder (the FER2013 image-folder root; `dvc pull data.dvc`)")
    if args.photo and args.out == DEFAULT_OUT:
        out = Path(DEFAULT_PHOTO)
    if args.photo and out.suffix.lower() not in (".jpg", ".jpeg", ".png"):
        parser.error(f"--out {out}: a --photo is a .jpg or .png")
    if args.out == DEFAULT_OUT:
        out.parent.mkdir(exist_ok=True)
    if not out.parent.is_dir() or not os.access(out.parent, os.W_OK):
        parser.error(f"--out {out}: the folder {out.parent} does not exist or is not writable")
    if args.photo:
        try:
            made = generate_photo(fer, out)
        except BaseException:  # nothing half-written stays behind
            out.unlink(missing_ok=True)
            raise
        print(f"wrote {out}: " + ", ".join(f"{f['label']} ({f['source_id']})" for f in made["faces"]))
        return 0
    try:
        if args.steady_faces:
            truth = generate_steady(fer, out, args.steady_faces, args.frames, args.fps)
        else:
            truth = generate(fer, out, args.frames_per_segment, args.fps, singles_per_label=args.faces_per_label)
    except BaseException:  # nothing half-written stays behind
        out.unlink(missing_ok=True)
        raise
    print(f"wrote {args.out} ({truth['frames']} frames, {len(truth['segments'])} segments) and "
          f"{Path(args.out).with_suffix('.json')}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
