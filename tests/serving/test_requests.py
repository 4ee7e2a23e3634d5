"""Request validation without a server: every malformed body maps to its 4xx and message, valid ones to arrays.
(The same cases through a real `bentoml serve` are in test_service.py.)"""

import base64
from http import HTTPStatus

import cv2
import numpy as np
import pytest

from fer_platform.serving.requests import RequestError, decode_faces, decode_image

LIMIT = 64


def _b64(array: np.ndarray) -> str:
    return base64.b64encode(np.ascontiguousarray(array, np.uint8).tobytes()).decode()


def test_both_encodings_decode_to_the_same_uint8_faces(small_dataset):
    faces = small_dataset.images[:3]
    from_lists = decode_faces(faces.tolist(), None, LIMIT)
    from_b64 = decode_faces(None, _b64(faces), LIMIT)
    assert from_lists.dtype == np.uint8 and from_lists.shape == (3, 48, 48)
    np.testing.assert_array_equal(from_lists, faces)
    np.testing.assert_array_equal(from_b64, faces)
    with_channel = decode_faces(faces[..., None].tolist(), None, LIMIT)  # (N, 48, 48, 1) is accepted too
    np.testing.assert_array_equal(with_channel, faces)


@pytest.mark.parametrize(("faces", "faces_b64", "status", "message"), [
    (None, None, HTTPStatus.BAD_REQUEST, "exactly one of"),
    ([[0]], "AAAA", HTTPStatus.BAD_REQUEST, "exactly one of"),
    ([], None, HTTPStatus.BAD_REQUEST, "at least one face"),
    (None, "", HTTPStatus.BAD_REQUEST, "empty"),
    (None, "@@not base64@@", HTTPStatus.BAD_REQUEST, "not valid base64"),
    (None, base64.b64encode(b"\x00" * 2000).decode(), HTTPStatus.UNPROCESSABLE_ENTITY, "not a multiple of 48*48"),
    (None, _b64(np.zeros((LIMIT + 1, 48, 48))), HTTPStatus.REQUEST_ENTITY_TOO_LARGE, f"limit is {LIMIT}"),
    (np.zeros((LIMIT + 1, 48, 48), int).tolist(), None, HTTPStatus.REQUEST_ENTITY_TOO_LARGE, f"limit is {LIMIT}"),
    (np.zeros((2, 32, 32), int).tolist(), None, HTTPStatus.UNPROCESSABLE_ENTITY, "expected (N, 48, 48)"),
    ([np.zeros((48, 48), int).tolist(), [[0] * 10]], None, HTTPStatus.UNPROCESSABLE_ENTITY, "48x48"),
    ((np.ones((1, 48, 48)) / 2).tolist(), None, HTTPStatus.UNPROCESSABLE_ENTITY, "integers 0..255"),
    ((np.full((1, 48, 48), 300)).tolist(), None, HTTPStatus.UNPROCESSABLE_ENTITY, "integers 0..255"),
    ((np.full((1, 48, 48), -1)).tolist(), None, HTTPStatus.UNPROCESSABLE_ENTITY, "integers 0..255"),
    ([[["7"] * 48] * 48], None, HTTPStatus.UNPROCESSABLE_ENTITY, "got strings"),
    ([[[None] * 48] * 48], None, HTTPStatus.UNPROCESSABLE_ENTITY, "got nulls"),
    ([[[True] * 48] * 48], None, HTTPStatus.UNPROCESSABLE_ENTITY, "got booleans"),
])
def test_malformed_faces_get_their_status_and_message(faces, faces_b64, status, message):
    with pytest.raises(RequestError) as caught:
        decode_faces(faces, faces_b64, LIMIT)
    assert caught.value.status == status
    assert message.lower() in str(caught.value).lower()


def _png(image: np.ndarray) -> bytes:
    ok, encoded = cv2.imencode(".png", image)
    assert ok
    return encoded.tobytes()


def _jpeg_with_orientation(image: np.ndarray, orientation: int) -> bytes:
    import io

    from PIL import Image

    picture = Image.fromarray(image)
    exif = picture.getexif()
    exif[0x0112] = orientation  # EXIF Orientation, as phones write it
    out = io.BytesIO()
    picture.save(out, format="JPEG", exif=exif.tobytes())
    return out.getvalue()


def test_images_decode_to_upright_grayscale_and_their_limits_hold():
    frame = np.full((120, 160, 3), 90, np.uint8)
    decoded = decode_image(_png(frame), max_bytes=1_000_000, max_side=4096)
    assert decoded.shape == (120, 160) and decoded.dtype == np.uint8
    sixteen_bit = decode_image(_png(np.full((20, 20), 4000, np.uint16)), max_bytes=1_000_000, max_side=4096)
    assert sixteen_bit.dtype == np.uint8
    landscape = np.zeros((40, 80), np.uint8)
    upright = decode_image(_jpeg_with_orientation(landscape, 6), max_bytes=1_000_000, max_side=4096)
    assert upright.shape == (80, 40)  # a phone's portrait photo, stored sideways, is read upright
    cases = [
        (b"", {}, HTTPStatus.BAD_REQUEST, "empty"),
        (b"definitely not an image", {}, HTTPStatus.UNSUPPORTED_MEDIA_TYPE, "not a JPEG or PNG"),
        (b"II*\x00" + bytes(100), {}, HTTPStatus.UNSUPPORTED_MEDIA_TYPE, "not a JPEG or PNG"),  # TIFF
        (b"\x00\x00\x00\x0cjP  \r\n\x87\n" + bytes(100), {}, HTTPStatus.UNSUPPORTED_MEDIA_TYPE,
         "not a JPEG or PNG"),  # JPEG 2000
        (_png(frame)[:20], {}, HTTPStatus.BAD_REQUEST, "truncated"),
        (_png(frame)[:60], {}, HTTPStatus.BAD_REQUEST, "does not decode"),
        (b"\xff\xd8\xff\xe0\x00\x10JFIF" + bytes(10), {}, HTTPStatus.BAD_REQUEST, "JPEG upload is"),
        (_png(frame), {"max_bytes": 100}, HTTPStatus.REQUEST_ENTITY_TOO_LARGE, "the limit is 100"),
        (_png(frame), {"max_side": 100}, HTTPStatus.REQUEST_ENTITY_TOO_LARGE, "longest side limit is 100"),
        (_png(frame), {"max_pixels": 10_000}, HTTPStatus.REQUEST_ENTITY_TOO_LARGE, "19200 pixels"),
    ]
    for data, limits, status, message in cases:
        with pytest.raises(RequestError) as caught:
            decode_image(data, **{"max_bytes": 1_000_000, "max_side": 4096, **limits})
        assert caught.value.status == status and message in str(caught.value), (status, str(caught.value))


def test_a_decompression_bomb_is_refused_from_its_header_without_decoding():
    import zlib

    # A real 16384x16384 PNG of zeros: 261 KB on the wire, 268 MB once decoded.
    side = 16384
    row, packer = b"\x00" + bytes(side), zlib.compressobj(9)
    raw = b"".join(packer.compress(row) for _ in range(side)) + packer.flush()
    header = b"\x89PNG\r\n\x1a\n"

    def chunk(kind: bytes, payload: bytes) -> bytes:
        return len(payload).to_bytes(4, "big") + kind + payload + zlib.crc32(kind + payload).to_bytes(4, "big")

    png = header + chunk(b"IHDR", side.to_bytes(4, "big") * 2 + b"\x08\x00\x00\x00\x00") + chunk(b"IDAT", raw) \
        + chunk(b"IEND", b"")
    assert len(png) < 1_000_000
    # The same header over pixels that cannot be decoded: a decoder run first would call it corrupt (400).
    # Asserted as behaviour, not as a time (a busy CI machine can pause any thread for 50 ms).
    undecodable = header + chunk(b"IHDR", side.to_bytes(4, "big") * 2 + b"\x08\x00\x00\x00\x00") \
        + chunk(b"IDAT", b"not zlib" * 64) + chunk(b"IEND", b"")
    for data in (png, undecodable):
        with pytest.raises(RequestError) as caught:
            decode_image(data, max_bytes=8_000_000, max_side=4096)
        assert caught.value.status == HTTPStatus.REQUEST_ENTITY_TOO_LARGE and "16384x16384" in str(caught.value)
    small = header + chunk(b"IHDR", (64).to_bytes(4, "big") * 2 + b"\x08\x00\x00\x00\x00") \
        + chunk(b"IDAT", b"not zlib" * 64) + chunk(b"IEND", b"")
    with pytest.raises(RequestError) as caught:  # within the limits, the same pixels reach the decoder
        decode_image(small, max_bytes=8_000_000, max_side=4096)
    assert caught.value.status == HTTPStatus.BAD_REQUEST and "corrupt" in str(caught.value)
