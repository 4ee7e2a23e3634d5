"""What fer-edge writes as it goes: --jsonl records and the --output video.

A write that fails (disk full, quota, a closed pipe) ends the run with one line and exit 4, never a traceback.
OpenCV's video writer reports no write errors, so the finished video is read back: a file that does not
open or holds fewer frames than were written is reported as incomplete, not left looking like a success.
"""

from __future__ import annotations

import json
import sys

import cv2
import numpy as np


class OutputFailed(Exception):
    """An output could not be written; the message names it and says why."""


class RunOutputs:
    def __init__(self, jsonl, jsonl_name: str | None, video_path: str | None, fps: float):
        self.jsonl, self.jsonl_name, self.video_path, self.fps = jsonl, jsonl_name, video_path, fps
        self.writer: cv2.VideoWriter | None = None
        self.frames_written = 0

    def record(self, record: dict) -> None:
        """One JSONL line, flushed (a reader following the file sees each frame as it finishes)."""
        if self.jsonl is None:
            return
        try:
            self.jsonl.write(json.dumps(record) + "\n")
            self.jsonl.flush()
        except OSError as err:
            raise OutputFailed(f"cannot write --jsonl {self.jsonl_name}: {err.strerror or err}") from None

    def frame(self, annotated: np.ndarray) -> None:
        if self.video_path is None:
            return
        if self.writer is None:
            self.writer = cv2.VideoWriter(self.video_path, cv2.VideoWriter_fourcc(*"mp4v"), self.fps,
                                          (annotated.shape[1], annotated.shape[0]))
            if not self.writer.isOpened():
                raise OutputFailed(f"cannot write --output {self.video_path}")
        self.writer.write(annotated)
        self.frames_written += 1

    def close(self) -> str | None:
        """Close everything; the first problem found (an incomplete video, a failed flush), or None."""
        problem = None
        if self.writer is not None:
            self.writer.release()
            problem = self._check_video()
        if self.jsonl is not None:
            try:
                if self.jsonl is sys.stdout:
                    self.jsonl.flush()
                else:
                    self.jsonl.close()
            except OSError as err:
                problem = problem or f"cannot write --jsonl {self.jsonl_name}: {err.strerror or err}"
        return problem

    def _check_video(self) -> str | None:
        check = cv2.VideoCapture(self.video_path)
        try:
            held = int(check.get(cv2.CAP_PROP_FRAME_COUNT)) if check.isOpened() else 0
        finally:
            check.release()
        if held < self.frames_written:
            return (f"--output {self.video_path} is incomplete: {self.frames_written} frames were written, the file "
                    f"holds {held} (is the disk full?)")
        return None
