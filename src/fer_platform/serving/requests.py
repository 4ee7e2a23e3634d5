"""Request validation for the service: every malformed input becomes a 4xx with a message, never a 500.

Pure numpy/OpenCV, so it is unit-testable without a server.
"""

from __future__ import annotations

import base64
import binascii
from http import HTTPStatus

import cv2
import numpy as np

from fer_platform.contract import IMAGE_SHAPE, NUM_PIXELS
from fer_platform.serving.errors import RequestError
from fer_platform.serving.image_header import image_size

__all__ = ["RequestError", "decode_faces", "decode_image"]


def decode_faces(faces: list | None, faces_b64: str | None, max_faces: int) -> np.ndarray:
    """Exactly one of: `faces` nested lists (N, 48, 48) of ints 0..255, or `faces_b64` base64 of N*2304
    raw uint8 bytes (row-major). Returns (N, 48, 48) uint8."""
    if (faces is None) == (faces_b64 is None):
        raise RequestError(HTTPStatus.BAD_REQUEST, "send exactly one of `faces` (nested lists) or `faces_b64`")
    if faces_b64 is not None:
        max_b64 = (max_faces * NUM_PIXELS + 2) // 3 * 4
        if len(faces_b64) > max_b64:
            raise RequestError(HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
                               f"faces_b64 holds more than {max_faces} faces ({len(faces_b64)} base64 characters); "
                               f"the limit is {max_faces}")
        try:
            raw = base64.b64decode(faces_b64, validate=True)
        except (binascii.Error, ValueError):
            raise RequestError(HTTPStatus.BAD_REQUEST, "faces_b64 is not valid base64") from None
        if not raw:
            raise RequestError(HTTPStatus.BAD_REQUEST, "faces_b64 is empty: send at least one face")
        if len(raw) % NUM_PIXELS:
            raise RequestError(HTTPStatus.UNPROCESSABLE_ENTITY,
                               f"faces_b64 decodes to {len(raw)} bytes, not a multiple of 48*48={NUM_PIXELS}")
        array = np.frombuffer(raw, np.uint8).reshape(-1, *IMAGE_SHAPE)
    else:
        if len(faces) == 0:
            raise RequestError(HTTPStatus.BAD_REQUEST, "faces is empty: send at least one face")
        if len(faces) > max_faces:
            raise RequestError(HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
                               f"{len(faces)} faces in one request; the limit is {max_faces}")
        try:
            values = np.asarray(faces)
        except ValueError:
            raise RequestError(HTTPStatus.UNPROCESSABLE_ENTITY, "faces is ragged: every face must be 48x48") from None
        if values.ndim == 4 and values.shape[-1] == 1:
            values = values[..., 0]
        if values.ndim != 3 or values.shape[1:] != IMAGE_SHAPE:
            raise RequestError(HTTPStatus.UNPROCESSABLE_ENTITY,
                               f"faces has shape {values.shape}; expected (N, 48, 48) grayscale")
        if values.dtype.kind not in "iu":  # strings, nulls, floats, booleans: no range to report
            raise RequestError(HTTPStatus.UNPROCESSABLE_ENTITY,
                               f"faces must be integers 0..255 (uint8), got {_kind(values)}")
        if values.min() < 0 or values.max() > 255:
            raise RequestError(HTTPStatus.UNPROCESSABLE_ENTITY,
                               f"faces must be integers 0..255 (uint8), got range {values.min()}..{values.max()}")
        array = values.astype(np.uint8)
    if len(array) > max_faces:
        raise RequestError(HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
                           f"{len(array)} faces in one request; the limit is {max_faces}")
    return array


def _kind(values: np.ndarray) -> str:
    names = {"f": "floating-point numbers", "U": "strings", "S": "strings", "O": "nulls or mixed values",
             "b": "booleans"}
    return names.get(values.dtype.kind, f"values of type {values.dtype}")


def decode_image(data: bytes, max_bytes: int, max_side: int, max_pixels: int | None = None) -> np.ndarray:
    """A JPEG/PNG upload -> grayscale uint8, upright (EXIF orientation applied). Size limits are checked on
    the header before decoding: 400 empty or truncated, 413 too large, 415 not a JPEG or PNG."""
    if not data:
        raise RequestError(HTTPStatus.BAD_REQUEST, "empty image upload")
    if len(data) > max_bytes:
        raise RequestError(HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
                           f"image upload is {len(data)} bytes; the limit is {max_bytes}")
    kind, width, height = image_size(data)
    if max(width, height) > max_side:
        raise RequestError(HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
                           f"image is {width}x{height}; the longest side limit is {max_side}")
    if max_pixels is not None and width * height > max_pixels:
        raise RequestError(HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
                           f"image is {width}x{height} = {width * height} pixels; the limit is {max_pixels}")
    # Grayscale is all detection needs; this flag also applies EXIF orientation (phone photos stand upright).
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_GRAYSCALE)
    if image is None:
        raise RequestError(HTTPStatus.BAD_REQUEST, f"{kind.upper()} upload is corrupt: it does not decode")
    return image
