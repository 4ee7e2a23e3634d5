"""fer-edge: Haar-crop faces from a camera or video, classify them on the service, smooth per face, draw.

Exit codes: 0 done; 2 bad arguments; 3 the camera/video cannot be opened; 4 an output cannot be written.
The service being down is not an error: frames are marked unclassified and the client reconnects.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import deque
from collections.abc import Sequence
from concurrent.futures import Future

EXIT_OK, EXIT_USAGE, EXIT_SOURCE, EXIT_OUTPUT = 0, 2, 3, 4


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="fer-edge", description=__doc__.split("\n\n")[0],
                                     epilog="exit codes: 0 ok, 2 bad arguments, 3 source cannot be opened, "
                                            "4 output cannot be written")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--camera", type=int, metavar="INDEX", help="camera index (e.g. 0)")
    source.add_argument("--video", metavar="PATH", help="a video file")
    parser.add_argument("--url", default="http://127.0.0.1:3000", help="service URL (default: %(default)s)")
    parser.add_argument("--no-display", action="store_true", help="no window (headless)")
    parser.add_argument("--jsonl", metavar="PATH|-", help="write one JSON object per frame ('-' = stdout)")
    parser.add_argument("--output", metavar="PATH", help="write the annotated video (e.g. annotated.mp4)")
    parser.add_argument("--max-frames", type=_positive, metavar="N", help="stop after N frames")
    parser.add_argument("--realtime", action="store_true",
                        help="play a --video at its own frame rate, as a camera would deliver it")
    parser.add_argument("--window", type=_positive, default=10, help="smoothing window in frames (default 10)")
    parser.add_argument("--timeout", type=float, default=5.0, help="request timeout in seconds")
    parser.add_argument("--max-in-flight", type=_positive, default=4, help="pipelined requests (default 4)")
    parser.add_argument("--min-face", type=_positive, default=30, help="smallest face side in pixels")
    return parser.parse_args(argv)


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    import cv2  # after parsing: `fer-edge --help` stays instant

    from fer_platform.edge.client import PredictClient
    from fer_platform.edge.overlay import draw
    from fer_platform.edge.tracking import FaceTracker
    from fer_platform.faces import DetectorSettings, FaceDetector, crop_faces, to_gray

    source = args.camera if args.video is None else args.video
    if args.video is not None and not _readable(args.video):
        print(f"fer-edge: cannot open video {args.video!r}: no such readable file", file=sys.stderr)
        return EXIT_SOURCE
    capture = cv2.VideoCapture(source)
    if not capture.isOpened():
        what = f"camera {args.camera}" if args.video is None else f"video {args.video!r}"
        print(f"fer-edge: cannot open {what}", file=sys.stderr)
        return EXIT_SOURCE
    try:
        jsonl = _open_jsonl(args.jsonl)
    except OSError as err:
        print(f"fer-edge: cannot write --jsonl {args.jsonl}: {err}", file=sys.stderr)
        return EXIT_OUTPUT
    fps_in = capture.get(cv2.CAP_PROP_FPS) or 25.0
    detector = FaceDetector(DetectorSettings(min_face=args.min_face))
    client = PredictClient(args.url, timeout=args.timeout, max_in_flight=args.max_in_flight)
    tracker = FaceTracker(window=args.window)
    writer = None
    pending: deque[tuple[int, float, object, list, Future | None]] = deque()
    frame_times: deque[float] = deque(maxlen=30)
    index, quit_requested, status = 0, False, EXIT_OK

    def finish(item) -> bool:
        """Track, record and draw one frame whose request has completed (frames stay in order)."""
        nonlocal writer, status
        i, ts, frame, boxes, future = item
        probs, classified = None, False
        if future is not None:
            try:
                probs, classified = future.result(), True
            except Exception:  # noqa: BLE001 - any failure leaves the frame unclassified
                probs = None
        tracks = tracker.update(boxes, probs)
        frame_times.append(time.monotonic())
        fps = (len(frame_times) - 1) / (frame_times[-1] - frame_times[0]) if len(frame_times) > 1 else 0.0
        if jsonl is not None:
            jsonl.write(json.dumps(_record(i, ts, boxes, tracks, probs, classified or not boxes)) + "\n")
            jsonl.flush()
        if args.output or not args.no_display:
            annotated = draw(frame, boxes, tracks, probs, fps, classified or not boxes)
            if args.output:
                if writer is None:
                    writer = cv2.VideoWriter(args.output, cv2.VideoWriter_fourcc(*"mp4v"), fps_in,
                                             (annotated.shape[1], annotated.shape[0]))
                    if not writer.isOpened():
                        print(f"fer-edge: cannot write --output {args.output}", file=sys.stderr)
                        status = EXIT_OUTPUT
                        return True
                writer.write(annotated)
            if not args.no_display:
                cv2.imshow("fer-edge (q quits)", annotated)
                if cv2.waitKey(1) & 0xFF == ord("q"):
                    return True
        return False

    try:
        started = time.monotonic()
        while not quit_requested and (args.max_frames is None or index < args.max_frames):
            if args.realtime and args.video is not None:
                time.sleep(max(0.0, started + index / fps_in - time.monotonic()))
            ok, frame = capture.read()
            if not ok:
                break
            ts = capture.get(cv2.CAP_PROP_POS_MSEC) / 1000.0 if args.video else time.time()
            gray = to_gray(frame)
            boxes = detector.detect(gray)
            future = client.submit(crop_faces(gray, boxes)) if boxes else None
            pending.append((index, ts, frame, boxes, future))
            index += 1
            # Capture runs ahead of the network; results are consumed in frame order as they arrive.
            while pending and (pending[0][4] is None or pending[0][4].done() or len(pending) > args.max_in_flight):
                if finish(pending.popleft()):
                    quit_requested = True
                    break
        while pending and not quit_requested:
            quit_requested = finish(pending.popleft())
    except KeyboardInterrupt:
        pass
    finally:
        capture.release()
        client.close()
        if writer is not None:
            writer.release()
        if jsonl is not None and jsonl is not sys.stdout:
            jsonl.close()
        if not args.no_display:
            cv2.destroyAllWindows()
    print(f"fer-edge: {index} frames, {client.failures} failed requests", file=sys.stderr)
    return status


def _readable(path: str) -> bool:
    try:
        with open(path, "rb"):
            return True
    except OSError:
        return False


def _open_jsonl(target: str | None):
    if target is None:
        return None
    if target == "-":
        return sys.stdout
    return open(target, "w")


def _record(index, ts, boxes, tracks, probs, classified) -> dict:
    from fer_platform.labels import EMOTIONS

    faces = []
    for bi, (box, track) in enumerate(zip(boxes, tracks, strict=True)):
        smooth = track.smoothed()
        face = {"track_id": track.track_id, "box": list(box),
                "label": None, "confidence": None, "probabilities": None,
                "smoothed_label": None if smooth is None else EMOTIONS[int(smooth.argmax())],
                "smoothed_probabilities": None if smooth is None else
                {e: round(float(p), 5) for e, p in zip(EMOTIONS, smooth, strict=True)}}
        if probs is not None:
            face.update(label=EMOTIONS[int(probs[bi].argmax())], confidence=round(float(probs[bi].max()), 5),
                        probabilities={e: round(float(p), 5) for e, p in zip(EMOTIONS, probs[bi], strict=True)})
        faces.append(face)
    return {"frame": index, "timestamp": round(ts, 3), "classified": bool(classified), "faces": faces}


if __name__ == "__main__":
    raise SystemExit(main())
