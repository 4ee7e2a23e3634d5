"""The one HTTP client of the BentoML service, shared by fer-edge and the Python API: the token header, the
/predict body, the checks that an answer is one (for the faces sent, or a /detect answer), and the service's
error message."""

from __future__ import annotations

import base64
import os
import time

import httpx
import numpy as np

from fer_platform.labels import EMOTIONS


class ServiceHTTP:
    """An httpx client for the service at `url` (bearer `token` if given)."""

    def __init__(self, url: str, token: str | None = None, timeout: float = 5.0):
        self.url = url.rstrip("/")
        headers = {"authorization": f"Bearer {token}"} if token else {}
        self.http = httpx.Client(timeout=timeout, headers=headers)

    def predict(self, crops: np.ndarray) -> httpx.Response:
        """POST (N, 48, 48) uint8 crops to /predict as base64 (raises httpx.HTTPError if it cannot be sent)."""
        body = {"faces_b64": base64.b64encode(np.ascontiguousarray(crops, np.uint8).tobytes()).decode("ascii")}
        return self.http.post(f"{self.url}/predict", json=body)

    def detect(self, data: bytes) -> httpx.Response:
        return self.http.post(f"{self.url}/detect", files={"image": ("image", data, "application/octet-stream")})

    def close(self) -> None:
        self.http.close()


def error_text(response: httpx.Response) -> str:
    """The service's {"error": ...} message, or the start of whatever else answered (a proxy's page)."""
    try:
        error = response.json().get("error")
    except (ValueError, AttributeError):
        error = None
    return error if isinstance(error, str) and error else response.text[:200].strip() or response.reason_phrase


def probabilities(body, expected: int) -> np.ndarray:
    """(N, 7) probabilities from a /predict answer, or ValueError when it is not one for these N faces."""
    faces = body["faces"]
    if not isinstance(faces, list) or len(faces) != expected:
        raise ValueError(f"{len(faces) if isinstance(faces, list) else 'no'} faces for {expected} sent")
    probs = np.array([[float(f["probabilities"][e]) for e in EMOTIONS] for f in faces], dtype=np.float32)
    if not np.all(np.isfinite(probs)) or (probs < 0).any():
        raise ValueError("probabilities that are not finite and non-negative")
    return probs.reshape(-1, len(EMOTIONS))


def detected_faces(body) -> list[dict]:
    """The faces of a /detect answer ({box, label, confidence, probabilities} each), or ValueError when it is not
    one (a proxy's page, another service on the port)."""
    faces = body.get("faces") if isinstance(body, dict) else None
    if not isinstance(faces, list):
        raise ValueError("no list of faces")
    for face in faces:
        box, probs = (face.get("box"), face.get("probabilities")) if isinstance(face, dict) else (None, None)
        if not isinstance(box, dict) or sorted(box) != ["h", "w", "x", "y"] or face.get("label") not in EMOTIONS \
                or not isinstance(probs, dict) or sorted(probs) != sorted(EMOTIONS):
            raise ValueError(f"a face that is not box, label, confidence and probabilities: {str(face)[:120]}")
    return faces


def wait_ready(url: str, timeout_s: float, pid: int | None = None) -> bool:
    """Whether the service at `url` answers /readyz with 200 within `timeout_s` (0: one try); False at once when
    process `pid` (the server being started) has exited."""
    deadline = time.monotonic() + timeout_s
    while True:
        if pid is not None and not _alive(pid):
            return False
        try:
            if httpx.get(f"{url.rstrip('/')}/readyz", timeout=2).status_code == 200:
                return True
        except httpx.HTTPError:
            pass
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.5)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: it exists
        return True
    return True
