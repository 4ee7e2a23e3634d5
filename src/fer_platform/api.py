"""The Python API: the faces in an image, each with its box, label, confidence and probabilities (the shape of
the service's /detect), in one call.

    from fer_platform.api import FER

    fer = FER.from_release()                           # the committed release model, in this process
    fer = FER.from_registry()                          # <promote.registered_model>@champion, MLflow registry
    fer = FER.from_service("http://127.0.0.1:3000")    # a running `bentoml serve` (token: FER_API_TOKEN)

    fer.detect_emotions("release/sample.jpg")    # a path, or an image array (BGR as OpenCV reads it, or grayscale)
    # [{"box": {"x": 212, "y": 96, "w": 143, "h": 143}, "label": "happy", "confidence": 0.93,
    #   "probabilities": {"angry": 0.01, ..., "neutral": 0.02}}]
    fer.classify(crops)                 # (N, 48, 48) uint8 face crops: the same dicts, without boxes
    for faces in fer.detect_video(frames): ...   # a video's frames in order, searched near the last faces

In process, faces are found with the same Haar detector and settings as the service. The release is classified
by its ONNX graph in ONNX Runtime, as the service does (no TensorFlow: ready in about a second); a `.keras` file
or the registry, by Keras (TensorFlow is imported, ~13 s). Against a service, the image is sent to /detect (and
crops to /predict), so the answer is the served model's.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from fer_platform.contract import IMAGE_SHAPE, LIVE_FULL_SCAN_EVERY, MODEL_NAME, TOKEN_ENV
from fer_platform.errors import UserError
from fer_platform.faces import DetectorSettings, FaceDetector, crop_faces, detected_face, to_gray
from fer_platform.labels import face_result
from fer_platform.release import MODEL_FILE, ONNX_FILE, RELEASE_DIR
from fer_platform.streams.face_search import FaceSearch

Faces = list[dict[str, Any]]


class FER:
    """Facial expressions of the faces in an image. Build one with `from_release`, `from_registry` or
    `from_service`; then call `detect_emotions(image)`, `detect_video(frames)` or `classify(crops)`."""

    def __init__(self, predict, detect=None, source: str = "", min_face: int | None = None):
        """`min_face`: the smallest face side (pixels) searched for in process; None: the service's (/detect's)
        setting, so both find the same faces. A larger one is searched on a reduced copy of the image, where that
        face is the cascade's own window: faster, and smaller faces are not found."""
        if min_face is not None and (not isinstance(min_face, int) or min_face < 1):
            raise UserError(f"min_face must be a whole number of pixels >= 1, got {min_face!r}")
        self._predict, self._detect, self.source = predict, detect, source
        self._settings = DetectorSettings() if min_face is None else DetectorSettings(min_face=min_face)
        self._detector: FaceDetector | None = None

    @classmethod
    def from_release(cls, release_dir: str | Path = RELEASE_DIR, threads: int = 1, min_face: int | None = None) -> FER:
        """The committed release's ONNX graph (parity-checked against its model.keras when it was written)."""
        path = Path(release_dir) / ONNX_FILE
        if not path.exists():  # a release written without its graph (onnx=False, or before there was one): Keras
            path = Path(release_dir) / MODEL_FILE
        if not path.exists():
            raise FileNotFoundError(f"{path}: no release model (run from the project root, or pass release_dir)")
        return cls.from_model_file(path, threads, min_face)

    @classmethod
    def from_model_file(cls, path: str | Path, threads: int = 1, min_face: int | None = None) -> FER:
        """An ONNX graph of the image contract (run by ONNX Runtime on `threads` threads), or a Keras model file
        (a release's model.keras, a training's artifacts/models/<arch>/model.keras)."""
        path = Path(path)
        if path.suffix == ".onnx":
            from fer_platform.serving.runtime import FaceClassifier  # ONNX Runtime only

            return cls(FaceClassifier(path, threads=threads).predict, source=str(path), min_face=min_face)
        from fer_platform.models import load_model  # start-up cost: Keras only when a Keras model is used

        model = load_model(path, compile=False)
        return cls(_keras_predict(model), source=str(path), min_face=min_face)

    @classmethod
    def from_registry(cls, alias: str = "champion", registered_model: str | None = None,
                      params: str | Path = "params.yaml") -> FER:
        """The version `alias` points to in the MLflow registry (MLFLOW_TRACKING_URI, else ./mlflow.db), of
        `registered_model` (default: params.yaml's promote.registered_model where there is a params.yaml, as
        promotion registers it; else fer-classifier)."""
        from fer_platform.tracking.model_logging import load_logged_model  # start-up cost: MLflow and Keras

        if registered_model is None:
            registered_model = _registered_model_in(Path(params))

        model = load_logged_model(f"models:/{registered_model}@{alias}")
        return cls(_keras_predict(model), source=f"models:/{registered_model}@{alias}")

    @classmethod
    def from_service(cls, url: str = "http://127.0.0.1:3000", token: str | None = None,
                     timeout: float = 30.0) -> FER:
        client = _ServiceClient(url, token if token is not None else os.environ.get(TOKEN_ENV), timeout)
        return cls(client.predict, client.detect, source=url)

    def detect_emotions(self, image: str | Path | np.ndarray) -> Faces:
        """Every face Haar finds in `image`, largest first: [{"box", "label", "confidence", "probabilities"}]."""
        if self._detect is not None:
            return self._detect(_encoded(image))
        gray, detector = _gray(image), self._face_detector()
        same_as_service = self._settings == DetectorSettings()
        return self._labelled(gray, detector.detect(gray, 1.0 if same_as_service else detector.lossless_downscale()))

    def detect_video(self, frames: Iterable[str | Path | np.ndarray]) -> Iterator[Faces]:
        """`detect_emotions` for the frames of one video or camera, in order: one list of faces per frame. Each
        frame is searched near the faces of the frame before, and all over every LIVE_FULL_SCAN_EVERY frames or
        when a face is lost, as fer-edge and the live page search: a fraction of a full search. A face that
        appears beside tracked ones is found at the next full search (a third of a second at 30 FPS)."""
        if self._detect is not None:  # a service searches every frame whole
            yield from map(self.detect_emotions, frames)
            return
        detector = self._face_detector()
        search = FaceSearch(detector, detector.lossless_downscale(), full_every=LIVE_FULL_SCAN_EVERY)
        for frame in frames:
            gray = _gray(frame)
            yield self._labelled(gray, search.find(gray))

    def _face_detector(self) -> FaceDetector:
        if self._detector is None:  # the cascade loads on first use, not when the model does
            self._detector = FaceDetector(self._settings)
        return self._detector

    def _labelled(self, gray: np.ndarray, boxes: list[tuple[int, int, int, int]]) -> Faces:
        if not boxes:
            return []
        probabilities = self._predict(crop_faces(gray, boxes))
        return [detected_face(box, p) for box, p in zip(boxes, probabilities, strict=True)]

    def classify(self, crops: np.ndarray) -> Faces:
        """(N, 48, 48) uint8 face crops -> [{"label", "confidence", "probabilities"}]."""
        crops = np.asarray(crops)
        if crops.ndim == 2:
            crops = crops[None]
        if crops.shape[1:] != IMAGE_SHAPE or crops.dtype != np.uint8:
            raise UserError(f"crops must be uint8 of shape (N, 48, 48), got {crops.dtype} {crops.shape}")
        return [face_result(p) for p in self._predict(crops)]


def _keras_predict(model):
    from fer_platform.models.inference import predict_probabilities

    return lambda crops: predict_probabilities(model, crops)


def _gray(image: str | Path | np.ndarray) -> np.ndarray:
    if isinstance(image, np.ndarray):
        if image.dtype != np.uint8 or image.ndim not in (2, 3):
            raise UserError(f"an image array must be uint8 HxW or HxWxC, got {image.dtype} {image.shape}")
        return to_gray(image)
    path = Path(image)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such image file")
    gray = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)  # applies EXIF orientation, as the service does
    if gray is None:
        raise UserError(f"{path}: not an image OpenCV can read")
    return gray


def _encoded(image: str | Path | np.ndarray) -> bytes:
    """The bytes to upload: a JPEG/PNG file as it is, an array as PNG (lossless)."""
    if isinstance(image, np.ndarray):
        _gray(image)  # the same checks as in process
        return cv2.imencode(".png", image)[1].tobytes()
    path = Path(image)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such image file")
    return path.read_bytes()


def _registered_model_in(params: Path) -> str:
    """params.yaml's promote.registered_model; fer-classifier without one (only that key is read: a params file
    that is otherwise unfinished must not stop a caller who only needs the name)."""
    import yaml

    try:
        raw = yaml.safe_load(params.read_text())
        name = raw["promote"]["registered_model"]
    except (OSError, yaml.YAMLError, KeyError, TypeError):
        return MODEL_NAME
    return name if isinstance(name, str) and name else MODEL_NAME


class _ServiceClient:
    """The service behind FER.from_service: the shared client (fer_platform.service_client), answers checked."""

    def __init__(self, url: str, token: str | None, timeout: float):
        from fer_platform.service_client import ServiceHTTP  # here: httpx only for a service-backed FER

        self.service = ServiceHTTP(url, token, timeout)

    def _answer(self, response, route: str) -> dict:
        from fer_platform.service_client import error_text

        if response.status_code != 200:
            raise UserError(f"{self.service.url}{route}: HTTP {response.status_code}: {error_text(response)}")
        return response.json()

    def _send(self, route: str, send, *args):
        import httpx  # here: only a service-backed FER needs it

        try:
            return self._answer(send(*args), route)
        except httpx.HTTPError as err:  # no service there: one line with the fix, not a 60-line traceback
            raise UserError(f"{self.service.url}{route}: no answer ({type(err).__name__}: {err}); is `bentoml "
                            "serve` running there? (or pass its url: FER.from_service(URL))") from None

    def detect(self, data: bytes) -> Faces:
        from fer_platform.service_client import detected_faces

        try:
            return detected_faces(self._send("/detect", self.service.detect, data))
        except ValueError as err:  # a 200 that is not a /detect answer
            raise UserError(f"{self.service.url}/detect: not a /detect answer: {err}") from None

    def predict(self, crops: np.ndarray) -> np.ndarray:
        from fer_platform.service_client import probabilities

        try:
            return probabilities(self._send("/predict", self.service.predict, crops), len(crops))
        except (ValueError, KeyError, TypeError) as err:  # a 200 that is not an answer for these faces
            raise UserError(f"{self.service.url}/predict: not an answer for {len(crops)} faces: {err}") from None
