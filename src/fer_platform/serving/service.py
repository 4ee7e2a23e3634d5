"""The BentoML service: one process serving the champion through ONNX Runtime.

    POST /predict  48x48 face crops -> per face: top label, confidence, probabilities
    POST /detect   a JPEG/PNG upload -> Haar faces -> [{box, label, confidence, probabilities}]
    POST /info     the served model: registered name, version, alias, labels, training metrics
    POST /feedback {face_id, label}: the right label of an answered face (its crop kept only with
                   serve.feedback.keep_faces on; then written to the field dataset)
    GET  /live     the live page: the browser's camera labelled per face, through the WebSocket /live/ws
                   (serving.live)
    GET  /livez /readyz /metrics (BentoML's, plus fer_inference_calls_total, fer_inference_faces_total,
                                  fer_predicted_label_total{label} and the fer_prediction_confidence histogram)

The model is the BentoML model-store entry named by params.yaml `promote.registered_model` (`fer-classifier`):
the champion exported to ONNX by the package stage (parity-checked against Keras), so serving needs neither
MLflow nor TensorFlow. CPU-bound work
(decoding, Haar) runs in worker threads, never on the event loop; overload is a quick 503 with Retry-After.
Limits come from params.yaml `serve` (FER_PARAMS overrides). Each answered face gets an id and a line in the
prediction log (serving.prediction_log; never the image).
"""

from __future__ import annotations

import os
import secrets
import time
from collections.abc import Callable
from http import HTTPStatus
from pathlib import Path
from typing import Any

import anyio
import bentoml
import cv2
import numpy as np
from bentoml.exceptions import BentoMLException

from fer_platform import version as fer_platform_version
from fer_platform.config import load_params
from fer_platform.contract import IMAGE_SHAPE, TOKEN_ENV
from fer_platform.faces import DetectorSettings, FaceDetector, crop_faces, detected_face
from fer_platform.labels import EMOTIONS, face_result
from fer_platform.serving.batching import GreedyBatcher
from fer_platform.serving.error_shape import ErrorShape
from fer_platform.serving.guards import BodyGuard, OverloadGuard, TokenGuard
from fer_platform.serving.kept_faces import KeptFaces, write_labelled
from fer_platform.serving.live import PAGE_FILES, live_app
from fer_platform.serving.live_session import LIVE_ROUTE
from fer_platform.serving.openapi_info import OpenAPIInfo
from fer_platform.serving.prediction_log import Batch, PredictionLog, now
from fer_platform.serving.requests import RequestError, decode_faces, decode_image
from fer_platform.serving.runtime import SERVED_MODEL_FILE, FaceClassifier

# At import, because BentoML's decorators below take the limits as arguments.
PARAMS = load_params(os.environ.get("FER_PARAMS", "params.yaml"))
SERVE = PARAMS.serve
MODEL_TAG = f"{PARAMS.promote.registered_model}:latest"  # the store entry the package stage writes


def _counted(predict):
    """`predict`, counted on /metrics: faces classified, in how many ONNX Runtime calls (the batching that merges
    concurrent requests shows as fewer calls than requests), each label answered, and the confidence of answers
    (what the served model sees, without keeping a face: a shift in either is the first sign of drift)."""
    # Imported here, in the worker: BentoML sets PROMETHEUS_MULTIPROC_DIR after importing this module, and a
    # counter made before that never reaches /metrics.
    from prometheus_client import Counter, Histogram

    calls = Counter("fer_inference_calls", "ONNX Runtime inference calls")
    faces_seen = Counter("fer_inference_faces", "faces classified")
    labels = Counter("fer_predicted_label", "faces classified, by top label", ["label"])
    confidence = Histogram("fer_prediction_confidence", "the top label's probability",
                           buckets=(0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 1.0))

    def run(faces: np.ndarray) -> np.ndarray:
        calls.inc()
        faces_seen.inc(len(faces))
        probs = predict(faces)
        for top, p in zip(probs.argmax(axis=1), probs.max(axis=1), strict=True):
            labels.labels(EMOTIONS[top]).inc()
            confidence.observe(float(p))
        return probs
    return run


class ClientError(BentoMLException):
    """A 4xx carrying the status chosen by request validation."""


def _client_error(err) -> ClientError:
    return ClientError(str(err), error_code=HTTPStatus(err.status))


@bentoml.service(name="fer_service", http={"host": "127.0.0.1", "port": 3000}, traffic={"timeout": 30})
class FerService:
    """One process: the event loop only moves bytes; decoding and Haar run in `api_cpu_threads` worker threads,
    ONNX Runtime in `model_threads` threads of its own, one call at a time, merging what queued meanwhile
    (serving.batching; OverloadGuard bounds the queue).

    No separate model service and no adaptive batching, by measurement (bench/): BentoML's batcher waits to fill
    a batch and the hop to a model process costs a copy and a round trip: a 4-face request took ~190 ms that way,
    41 ms this way."""

    bento_model = bentoml.models.BentoModel(MODEL_TAG)

    def __init__(self) -> None:
        cv2.setNumThreads(1)  # one core per CPU-bound request; the other core belongs to inference
        self.detector = FaceDetector(DetectorSettings(SERVE.haar_scale_factor, SERVE.haar_min_neighbors,
                                                      SERVE.haar_min_face))
        self.model = FaceClassifier(self.bento_model.path_of(SERVED_MODEL_FILE), threads=SERVE.model_threads)
        # Ready means ready: each batch shape's first-call set-up, and the cascade's, now rather than on the first
        # requests after /readyz turned 200 (those once got 503s while a client's first burst queued behind it).
        for n in (1, 4, 16, SERVE.max_batch_faces):
            self.model.predict(np.zeros((n, *IMAGE_SHAPE), np.uint8))
        self.detector.detect(np.zeros((480, 640), np.uint8))
        self.cpu = anyio.CapacityLimiter(SERVE.api_cpu_threads)
        self.infer = GreedyBatcher(_counted(self.model.predict), max_faces=SERVE.max_batch_faces)
        meta, log = self.bento_model.info.metadata, SERVE.prediction_log
        self.log = PredictionLog(log.dir, str(self.bento_model.tag), str(meta.get("version", "")), log.max_bytes,
                                 log.backups, log.queue_faces) if log.enabled else None
        feedback = SERVE.feedback  # face crops are kept only when this is on (off by default: biometric data)
        self.kept = KeptFaces(feedback.retention_s, feedback.max_faces) if feedback.keep_faces else None

    def _answered(self, route: str, faces: np.ndarray, probs: np.ndarray, sizes: list[int],
                  start: float) -> list[str]:
        """The faces' ids (returned with each answer, for /feedback), and the batch handed to the prediction log
        (a queue append: the writer thread computes and writes the lines). The live page's photos are logged
        but their crops are never kept: the page promises that nothing it sends is stored."""
        ids = [secrets.token_hex(8) for _ in range(len(faces))]
        if self.kept is not None and route != LIVE_ROUTE:
            self.kept.keep(ids, faces)
        if self.log is not None:
            self.log.submit(Batch(route, ids, faces, probs, sizes, (time.perf_counter() - start) * 1000, now()))
        return ids

    @bentoml.api
    async def predict(self, faces: list | None = None, faces_b64: str | None = None) -> dict[str, Any]:
        """Classify face crops: `faces` as nested lists (N, 48, 48) of 0..255, or `faces_b64` as base64 of
        N*2304 raw uint8 bytes (row-major). At most serve.max_faces_per_request faces."""
        start = time.perf_counter()
        try:
            batch = await anyio.to_thread.run_sync(decode_faces, faces, faces_b64, SERVE.max_faces_per_request,
                                                   limiter=self.cpu)
        except RequestError as err:
            raise _client_error(err) from None
        probs = await self.infer(batch)
        ids = self._answered("/predict", batch, probs, [IMAGE_SHAPE[0]] * len(batch), start)
        return {"labels": list(EMOTIONS),
                "faces": [{"id": i, **face_result(p)} for i, p in zip(ids, probs, strict=True)]}

    @bentoml.api
    async def detect(self, image: Path) -> dict[str, Any]:
        """Upload a photo (multipart field `image`, JPEG or PNG): every Haar-detected face, classified."""
        try:
            return await self.detect_faces(image.read_bytes)
        except RequestError as err:
            raise _client_error(err) from None

    async def detect_faces(self, read: Callable[[], bytes], route: str = "/detect") -> dict[str, Any]:
        """/detect's answer for the photo `read` returns (the live page's photo mode too, from memory, as
        `route` LIVE_ROUTE). Reading, decoding and Haar run in a worker thread: a large photo takes a while."""
        start = time.perf_counter()
        gray, boxes = await anyio.to_thread.run_sync(self._find_faces, read, limiter=self.cpu)
        results = []
        if boxes:
            crops = crop_faces(gray, boxes)
            probs = await self.infer(crops)
            ids = self._answered(route, crops, probs, [int(b[2]) for b in boxes], start)
            results = [{"id": i, **detected_face(b, p)} for i, b, p in zip(ids, boxes, probs, strict=True)]
        return {"labels": list(EMOTIONS), "image": {"width": gray.shape[1], "height": gray.shape[0]},
                "faces": results}

    def _find_faces(self, read: Callable[[], bytes]) -> tuple[np.ndarray, list]:
        """Decode and Haar-detect. BodyGuard (or the live route) bounded the size."""
        gray = decode_image(read(), SERVE.max_request_bytes, SERVE.max_image_side, SERVE.max_image_pixels)
        return gray, self.detector.detect(gray)[: SERVE.max_faces_per_request]

    @bentoml.api
    async def feedback(self, face_id: str, label: str) -> dict[str, Any]:
        """The right label of a face a /predict or /detect answer named (its `id`): with serve.feedback.keep_faces
        on, its kept 48x48 crop is written to the field dataset under that label (serve.feedback.dir)."""
        if label not in EMOTIONS:
            raise ClientError(f"label must be one of {', '.join(EMOTIONS)}", error_code=HTTPStatus.UNPROCESSABLE_ENTITY)
        if self.kept is None:
            raise ClientError("this service keeps no face crops (serve.feedback.keep_faces is off), so feedback "
                              "cannot attach one", error_code=HTTPStatus.CONFLICT)
        crop = self.kept.take(face_id)
        if crop is None:
            raise ClientError(f"no kept face {face_id[:32]!r}: faces are kept for {SERVE.feedback.retention_s:g} s, "
                              f"at most {SERVE.feedback.max_faces}", error_code=HTTPStatus.NOT_FOUND)
        path = await anyio.to_thread.run_sync(write_labelled, SERVE.feedback.dir, face_id, label, crop)
        return {"face_id": face_id, "label": label, "stored": str(path)}

    @bentoml.api
    def info(self) -> dict[str, Any]:
        """The served model: registry name, version and alias, label order, its metrics, serving limits."""
        meta = dict(self.bento_model.info.metadata)
        return {"bento_model": str(self.bento_model.tag), "labels": list(EMOTIONS), **meta,
                "limits": SERVE.model_dump()}


FerService.mount_asgi_app(live_app(bentoml.get_current_service, SERVE, token=os.environ.get(TOKEN_ENV, "")))
FerService.add_asgi_middleware(ErrorShape)  # outermost: it also shapes the guards' answers
FerService.add_asgi_middleware(OpenAPIInfo, versions=lambda: _versions(bentoml.models.get(MODEL_TAG)))
# The live page's files are open (they hold nothing secret, and the page asks for the token itself); its
# WebSocket checks the token in its first message (a browser cannot send a header there).
FerService.add_asgi_middleware(TokenGuard, token=os.environ.get(TOKEN_ENV, ""), open_paths=PAGE_FILES)
FerService.add_asgi_middleware(OverloadGuard, limit=SERVE.max_in_flight, paths=("/predict", "/detect"))
FerService.add_asgi_middleware(BodyGuard, max_bytes=SERVE.max_request_bytes, timeout_s=SERVE.body_timeout_s, routes={
    "/predict": "application/json", "/info": "application/json", "/feedback": "application/json",
    "/detect": "multipart/form-data"}, file_fields={"/detect": "image"},
    json_fields={f"/{name}": tuple(FerService.apis[name].input_spec.model_fields)
                 for name in ("predict", "info", "feedback")})


def _versions(bento_model) -> dict[str, str]:
    meta = bento_model.info.metadata
    return {"fer-platform": fer_platform_version(), "model": str(bento_model.tag),
            "registry": f"{meta.get('registered_model')} v{meta.get('version')} @{meta.get('alias')}"}
