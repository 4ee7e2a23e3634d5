"""The fer-edge loop as named steps: capture (its own thread), detect faces on a reduced copy, submit their
crops, finish the frame (track, record, draw) once its request is done. Frames finish in capture order."""

from __future__ import annotations

import argparse
import sys
import time
from collections import deque
from concurrent.futures import Future
from dataclasses import dataclass

import cv2
import numpy as np

from fer_platform.edge.capture import NOTHING_YET, CapturedFrame, FrameReader
from fer_platform.edge.client import PredictClient
from fer_platform.edge.outputs import OutputFailed, RunOutputs
from fer_platform.edge.overlay import draw
from fer_platform.edge.run_stats import RunStats
from fer_platform.faces import DetectorSettings, FaceDetector, crop_faces, to_gray
from fer_platform.labels import EMOTIONS
from fer_platform.streams.face_search import FaceSearch
from fer_platform.streams.face_tracks import Box, FaceTracker, Track

WINDOW_TITLE = "fer-edge (q quits)"
POLL_S = 0.002  # while a request is out, look for its answer this often between frames


@dataclass
class PendingFrame:
    """A captured frame waiting for its classification (`request` is None when no face was found)."""

    captured: CapturedFrame
    boxes: list[Box]
    request: Future | None
    crops: np.ndarray | None = None  # the faces sent (the tracker compares them across frames)

    def ready(self) -> bool:
        return self.request is None or self.request.done()


def open_source(camera: int | None, video: str | None) -> tuple[cv2.VideoCapture | None, str]:
    """(capture, "") or (None, why it cannot be opened)."""
    if video is not None and not _readable(video):
        return None, f"cannot open video {video!r}: no such readable file"
    capture = cv2.VideoCapture(camera if video is None else video)
    if not capture.isOpened():
        return None, f"cannot open {f'camera {camera}' if video is None else f'video {video!r}'}"
    return capture, ""


class EdgeLoop:
    def __init__(self, args: argparse.Namespace, capture: cv2.VideoCapture, jsonl):
        self.args = args
        from_file = args.video is not None
        self.fps_in = capture.get(cv2.CAP_PROP_FPS) or 25.0
        live = not from_file or args.realtime  # a camera, or a file played as one: drop, never queue
        reopen = None if from_file else (lambda: cv2.VideoCapture(args.camera))
        self.reader = FrameReader(capture, live=live, paced_fps=self.fps_in if from_file and args.realtime else None,
                                  max_frames=args.max_frames, from_file=from_file, reopen=reopen,
                                  reconnect_s=args.reconnect_s, name=f"camera {args.camera}")
        self.outputs = RunOutputs(jsonl, args.jsonl, args.output, self.fps_in)
        detector = FaceDetector(DetectorSettings(min_face=args.min_face))
        self.search = FaceSearch(detector, detector.lossless_downscale(), full_every=args.full_scan_every)
        self.client = PredictClient(args.url, timeout=args.timeout, max_in_flight=args.max_in_flight,
                                    token=args.token)
        self.tracker = FaceTracker(window=args.window)
        self.stats = RunStats()
        self.output_failed = False
        self.total_frames = int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) if from_file else 0
        self._next_progress = time.monotonic() + args.progress_s
        self._frame_times: deque[float] = deque(maxlen=30)

    @property
    def frames(self) -> int:
        return self.stats.frames

    def run(self) -> bool:
        """Process frames until the source ends, --max-frames, q, Ctrl-C or the service refuses a request (sending
        more would be refused too); False if an output failed."""
        pending: deque[PendingFrame] = deque()
        quit_requested = False
        self.reader.start()
        try:
            while not quit_requested and self.client.refused is None:
                # A frame is finished as soon as its answer is in, not when the next frame arrives: that wait
                # would add up to a frame interval to every capture-to-label latency.
                # At most --max-in-flight requests out: a deeper pipeline only queues frames in the service.
                while pending and (pending[0].ready() or len(pending) >= self.args.max_in_flight):
                    if self.finish(pending.popleft()):
                        quit_requested = True
                        break
                if quit_requested:
                    break
                captured = self.reader.next(timeout=POLL_S if pending else None)
                self.record_dropped()
                if captured is NOTHING_YET:
                    continue
                if captured is None:
                    break
                pending.append(self.submit(captured))
            while pending and not quit_requested:
                quit_requested = self.finish(pending.popleft())
        except KeyboardInterrupt:
            pass
        except OutputFailed as err:
            self._output_failed(str(err))
        finally:
            self.close()
        return not self.output_failed

    def _output_failed(self, why: str) -> None:
        if not self.output_failed:
            print(f"fer-edge: {why}", file=sys.stderr)
        self.output_failed = True

    def record_dropped(self) -> None:
        for index in self.reader.take_dropped():
            self.stats.dropped += 1
            # Same keys as a processed frame, so readers need no special case; `dropped` says why it is empty.
            self.outputs.record({"frame": index, "dropped": True, "classified": False, "faces": []})

    def detect(self, image: np.ndarray) -> tuple[np.ndarray, list[Box]]:
        with self.stats.stage("decode"):
            gray = to_gray(image)
        with self.stats.stage("detect"):
            return gray, self.search.find(gray)

    def submit(self, captured: CapturedFrame) -> PendingFrame:
        """Detect faces and send their crops without waiting for the answer."""
        gray, boxes = self.detect(captured.image)
        request = crops = None
        if boxes:
            with self.stats.stage("crop"):
                crops = crop_faces(gray, boxes)
            request = self.client.submit(crops)
        return PendingFrame(captured, boxes, request, crops)

    def finish(self, frame: PendingFrame) -> bool:
        """Track, record and draw one frame whose request has completed; True when the user quit."""
        with self.stats.stage("request_wait"):
            probs = self._probabilities(frame)
        classified = probs is not None or not frame.boxes
        with self.stats.stage("smoothing"):
            tracks = self.tracker.update(frame.boxes, probs, frame.crops)
        now = time.monotonic()
        latency_ms = (now - frame.captured.captured_at) * 1000
        self.stats.frame_done(latency_ms, has_faces=bool(frame.boxes), classified=probs is not None)
        self._frame_times.append(now)
        if self.args.progress_s and now >= self._next_progress:
            self._next_progress = now + self.args.progress_s
            self.progress()
        if self.outputs.jsonl is not None:
            record = frame_record(frame, tracks, probs, classified)
            record["latency_ms"] = round(latency_ms, 1)
            self.outputs.record(record)
        if self.args.output or not self.args.no_display:
            with self.stats.stage("drawing"):
                annotated = draw(frame.captured.image, frame.boxes, tracks, probs, self.fps(), classified,
                                 self.args.window)
            return self.show(annotated)
        return False

    def progress(self) -> None:
        s = self.stats
        done = s.frames + s.dropped
        of = f"/{self.total_frames} ({done / self.total_frames:.0%})" if self.total_frames > 0 else ""
        print(f"fer-edge: frame {done}{of}, {self.fps():.1f} FPS, {s.frames_classified}/{s.frames_with_faces} "
              f"frames with faces classified, {s.dropped} dropped", file=sys.stderr, flush=True)

    def show(self, annotated: np.ndarray) -> bool:
        """Write the annotated frame to --output and the window; True to stop (q)."""
        self.outputs.frame(annotated)
        if not self.args.no_display:
            cv2.imshow(WINDOW_TITLE, annotated)
            return cv2.waitKey(1) & 0xFF == ord("q")
        return False

    def fps(self) -> float:
        times = self._frame_times
        return (len(times) - 1) / (times[-1] - times[0]) if len(times) > 1 and times[-1] > times[0] else 0.0

    def close(self) -> None:
        self.reader.stop()
        try:
            self.record_dropped()
        except OutputFailed as err:
            self._output_failed(str(err))
        self.reader.capture.release()  # the reader's: it may have reopened a camera
        self.client.close()
        self.stats.finished()
        problem = self.outputs.close()
        if problem:
            self._output_failed(problem)
        if not self.args.no_display:
            cv2.destroyAllWindows()

    @staticmethod
    def _probabilities(frame: PendingFrame) -> np.ndarray | None:
        if frame.request is None:
            return None
        try:
            return frame.request.result()
        except Exception:  # noqa: BLE001 - any failure leaves the frame unclassified
            return None


def frame_record(frame: PendingFrame, tracks: list[Track], probs: np.ndarray | None, classified: bool) -> dict:
    """One JSONL line: the frame, and per face its track, raw and smoothed labels and probabilities."""
    faces = []
    for bi, (box, track) in enumerate(zip(frame.boxes, tracks, strict=True)):
        smooth = track.smoothed()
        face = {"track_id": track.track_id, "box": list(box),
                "label": None, "confidence": None, "probabilities": None,
                "smoothed_label": None if smooth is None else EMOTIONS[int(smooth.argmax())],
                "smoothed_probabilities": None if smooth is None else _rounded(smooth)}
        if probs is not None:
            face.update(label=EMOTIONS[int(probs[bi].argmax())], confidence=round(float(probs[bi].max()), 5),
                        probabilities=_rounded(probs[bi]))
        faces.append(face)
    return {"frame": frame.captured.index, "timestamp": round(frame.captured.timestamp, 3), "dropped": False,
            "classified": bool(classified), "faces": faces}


def _rounded(probabilities: np.ndarray) -> dict[str, float]:
    return {e: round(float(p), 5) for e, p in zip(EMOTIONS, probabilities, strict=True)}


def _readable(path: str) -> bool:
    try:
        with open(path, "rb"):
            return True
    except OSError:
        return False
