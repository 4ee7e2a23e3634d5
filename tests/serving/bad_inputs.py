"""The bad-input catalogue: every route, every body kind, bombs, wrong types, truncated and exotic images, slow
and vanishing clients. Each case is one request and the answer it must get: a 4xx whose message contains the
given text (status None: the client gave up, so there is no answer; the service must simply keep going).

RELIABILITY.md lists these cases; tests/serving/test_bad_inputs.py runs them against a real `bentoml serve`.
"""

from __future__ import annotations

import base64
import json
import socket
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass

import cv2
import httpx
import numpy as np

TIMEOUT = 60


@dataclass(frozen=True)
class Case:
    name: str
    route: str
    status: int | None
    message: str
    send: Callable[[str, np.ndarray], httpx.Response | None]  # (base url, real 48x48 faces) -> response


def _predict(**body) -> Callable:
    return lambda url, faces: httpx.post(f"{url}/predict", json=body, timeout=TIMEOUT)


def _predict_faces(make) -> Callable:
    return lambda url, faces: httpx.post(f"{url}/predict", json={"faces": make(faces)}, timeout=TIMEOUT)


def _raw(route: str, content: bytes, content_type: str | None) -> Callable:
    headers = {"content-type": content_type} if content_type else {}
    return lambda url, faces: httpx.post(f"{url}{route}", content=content, headers=headers, timeout=TIMEOUT)


def _upload(name: str, data: bytes, kind: str = "image/jpeg", field: str = "image") -> Callable:
    return lambda url, faces: httpx.post(f"{url}/detect", files={field: (name, data, kind)}, timeout=TIMEOUT)


def _form(files: list, data: dict | None = None) -> Callable:
    return lambda url, faces: httpx.post(f"{url}/detect", files=files, data=data or {}, timeout=TIMEOUT)


def _png_header(width: int, height: int) -> bytes:
    """The first bytes of a PNG claiming this size (a decompression bomb's header)."""
    ihdr = width.to_bytes(4, "big") + height.to_bytes(4, "big") + b"\x08\x00\x00\x00\x00"
    return (b"\x89PNG\r\n\x1a\n" + len(ihdr).to_bytes(4, "big") + b"IHDR" + ihdr
            + zlib.crc32(b"IHDR" + ihdr).to_bytes(4, "big") + bytes(64))


def _png_bomb() -> bytes:
    """A real, valid 16384x16384 PNG of zeros: 261 KB that decode to 268 MB."""
    raw = zlib.compress(b"".join(b"\x00" + bytes(16384) for _ in range(16384)), 9)
    ihdr = (16384).to_bytes(4, "big") * 2 + b"\x08\x00\x00\x00\x00"

    def chunk(kind: bytes, data: bytes) -> bytes:
        return len(data).to_bytes(4, "big") + kind + data + zlib.crc32(kind + data).to_bytes(4, "big")

    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", raw) + chunk(b"IEND", b"")


def _jpeg_header(width: int, height: int) -> bytes:
    """SOI + a baseline SOF0 claiming this size."""
    sof = b"\x08" + height.to_bytes(2, "big") + width.to_bytes(2, "big") + b"\x01\x01\x11\x00"
    return b"\xff\xd8" + b"\xff\xc0" + (len(sof) + 2).to_bytes(2, "big") + sof + bytes(32)


def _photo(kind: str) -> bytes:
    image = np.full((240, 320), 128, np.uint8)
    cv2.circle(image, (160, 120), 60, 30, -1)
    return cv2.imencode(kind, image)[1].tobytes()


def _socket_request(url: str, head: bytes, body: bytes, then: str, wait_s: float = 0) -> httpx.Response | None:
    """Send `head` + `body` on a raw socket, then `then`: "close" (vanish mid-body) or "stall" (wait for the
    service to answer). Returns the answer as an httpx.Response, or None when the client gave up."""
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=TIMEOUT) as sock:
        sock.sendall(head + body)
        if then == "close":
            time.sleep(wait_s)
            return None
        raw = b""
        while b"\r\n\r\n" not in raw or len(raw) < raw.index(b"\r\n\r\n") + 4 + _length(raw):
            chunk = sock.recv(65536)
            if not chunk:
                break
            raw += chunk
    status = int(raw.split(b" ", 2)[1])
    return httpx.Response(status, content=raw.split(b"\r\n\r\n", 1)[1])


def _length(raw: bytes) -> int:
    for line in raw.split(b"\r\n\r\n", 1)[0].split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            return int(line.split(b":")[1])
    return 0


def _head(route: str, length: int, kind: str = "application/json") -> bytes:
    return (f"POST {route} HTTP/1.1\r\nHost: x\r\nContent-Type: {kind}\r\nContent-Length: {length}\r\n\r\n"
            .encode())


def _chunked_over_limit(url: str, faces: np.ndarray) -> httpx.Response:
    def body():  # no Content-Length: the limit is counted as the body streams in
        for _ in range(90):
            yield b" " * 100_000

    return httpx.post(f"{url}/predict", content=body(), headers={"content-type": "application/json"},
                      timeout=TIMEOUT)


def _b64(faces: np.ndarray) -> str:
    return base64.b64encode(faces.tobytes()).decode()


CATALOGUE: list[Case] = [
    # /predict: JSON fields
    Case("empty_faces", "/predict", 400, "at least one face", _predict(faces=[])),
    Case("neither_field", "/predict", 400, "exactly one of", _predict()),
    Case("both_fields", "/predict", 400, "exactly one of",
         lambda url, f: httpx.post(f"{url}/predict", json={"faces": f[:1].tolist(), "faces_b64": _b64(f[:1])},
                                   timeout=TIMEOUT)),
    Case("wrong_shape", "/predict", 422, "expected (N, 48, 48)", _predict(faces=np.zeros((2, 32, 32), int).tolist())),
    Case("one_face_without_batch_axis", "/predict", 422, "expected (N, 48, 48)",
         _predict_faces(lambda f: f[0].tolist())),
    Case("five_dimensional", "/predict", 422, "expected (N, 48, 48)",
         _predict(faces=np.zeros((1, 1, 48, 48, 2), int).tolist())),
    Case("ragged_faces", "/predict", 422, "ragged", _predict_faces(lambda f: [f[0].tolist(), f[1][:40].tolist()])),
    Case("floats_in_faces", "/predict", 422, "integers 0..255", _predict_faces(lambda f: (f[:1] / 255.0).tolist())),
    Case("out_of_range", "/predict", 422, "integers 0..255", _predict_faces(lambda f: (f[:1].astype(int) + 300).tolist())),
    Case("negative_values", "/predict", 422, "integers 0..255", _predict_faces(lambda f: (-f[:1].astype(int) - 1).tolist())),
    Case("huge_numbers", "/predict", 422, "integers 0..255", _predict(faces=[[[1e308] * 48] * 48])),
    Case("strings_in_faces", "/predict", 422, "got strings", _predict(faces=[[["7"] * 48] * 48])),
    Case("nulls_in_faces", "/predict", 422, "got nulls", _predict(faces=[[[None] * 48] * 48])),
    Case("booleans_in_faces", "/predict", 422, "integers 0..255", _predict(faces=[[[True] * 48] * 48])),
    Case("faces_is_a_string", "/predict", 400, "faces: input should be a valid", _predict(faces="not a list")),
    Case("faces_is_a_number", "/predict", 400, "faces: input should be a valid", _predict(faces=5)),
    Case("faces_b64_is_a_number", "/predict", 400, "faces_b64: input should be a valid string", _predict(faces_b64=12345)),
    Case("faces_b64_empty", "/predict", 400, "empty", _predict(faces_b64="")),
    Case("bad_base64", "/predict", 400, "not valid base64", _predict(faces_b64="@@not base64@@")),
    Case("bad_length_b64", "/predict", 422, "not a multiple of 48*48",
         _predict(faces_b64=base64.b64encode(b"\x00" * 2000).decode())),
    Case("too_many_faces_b64", "/predict", 413, "the limit is 64",
         _predict(faces_b64=_b64(np.zeros((65, 48, 48), np.uint8)))),
    Case("too_many_faces_lists", "/predict", 413, "the limit is 64",
         _predict(faces=np.zeros((65, 48, 48), int).tolist())),
    # /predict: the body itself
    Case("invalid_json", "/predict", 400, "invalid json", _raw("/predict", b"{not json", "application/json")),
    Case("json_array_body", "/predict", 400, "should be an object", _raw("/predict", b"[1, 2, 3]", "application/json")),
    Case("json_null_body", "/predict", 400, "should be an object", _raw("/predict", b"null", "application/json")),
    Case("non_utf8_json", "/predict", 400, "invalid json", _raw("/predict", b'{"faces": "\xff\xfe"}', "application/json")),
    Case("body_over_limit_declared", "/predict", 413, "the limit is",
         _raw("/predict", b"{" + b" " * 8_100_000 + b"}", "application/json")),
    Case("body_over_limit_chunked", "/predict", 413, "over the limit", _chunked_over_limit),
    Case("multipart_to_predict", "/predict", 415, "takes application/json",
         lambda url, f: httpx.post(f"{url}/predict", files={"faces": ("f.bin", b"\xff\xfe\x00",
                                                                      "application/octet-stream")}, timeout=TIMEOUT)),
    Case("text_plain_to_predict", "/predict", 415, "takes application/json", _raw("/predict", b"hello", "text/plain")),
    Case("raw_bytes_to_predict", "/predict", 415, "takes application/json",
         _raw("/predict", bytes(2304), "application/octet-stream")),
    Case("get_predict", "/predict", 405, "method not allowed: GET /predict; use POST",
         lambda url, f: httpx.get(f"{url}/predict", timeout=TIMEOUT)),
    Case("get_info", "/info", 405, "use POST", lambda url, f: httpx.get(f"{url}/info", timeout=TIMEOUT)),
    Case("misspelt_field", "/predict", 422, "does not take `face_b64` (did you mean `faces_b64`?)",
         _predict(face_b64=base64.b64encode(bytes(2304)).decode())),
    Case("deeply_nested_json", "/predict", 400, "nested too deeply",
         _raw("/predict", b"[" * 100_000 + b"]" * 100_000, "application/json")),
    Case("thousands_of_unknown_fields", "/predict", 422, "and 99997 more",
         _raw("/predict", json.dumps({f"k{i}": i for i in range(100_000)}).encode(), "application/json")),
    Case("extra_field", "/predict", 422, "does not take `threshold`; it takes `faces` or `faces_b64`",
         _predict(faces_b64=base64.b64encode(bytes(2304)).decode(), threshold=0.5)),
    Case("unknown_route", "/admin", 404, "not found", lambda url, f: httpx.post(f"{url}/admin", json={}, timeout=TIMEOUT)),
    Case("stalled_body", "/predict", 408, "did not arrive within",
         lambda url, f: _socket_request(url, _head("/predict", 1000), b'{"faces": [', "stall")),
    Case("client_vanishes_mid_body", "/predict", None, "",
         lambda url, f: _socket_request(url, _head("/predict", 100_000), b'{"faces_b64": "AAAA', "close", 0.5)),
    # /detect: the upload
    Case("non_image", "/detect", 415, "not a JPEG or PNG", _upload("x.jpg", b"definitely not a jpeg")),
    Case("empty_upload", "/detect", 400, "empty image upload", _upload("x.jpg", b"")),
    Case("oversized_upload", "/detect", 413, "the limit is", _upload("x.jpg", b"\xff" * 8_100_000)),
    Case("tiff_upload", "/detect", 415, "not a JPEG or PNG", _upload("x.tif", b"II*\x00" + bytes(200), "image/tiff")),
    Case("gif_upload", "/detect", 415, "not a JPEG or PNG", _upload("x.gif", b"GIF89a" + bytes(200), "image/gif")),
    Case("bmp_upload", "/detect", 415, "not a JPEG or PNG", _upload("x.bmp", _photo(".bmp"), "image/bmp")),
    Case("webp_upload", "/detect", 415, "not a JPEG or PNG", _upload("x.webp", _photo(".webp"), "image/webp")),
    Case("jpeg2000_upload", "/detect", 415, "not a JPEG or PNG",
         _upload("x.jp2", b"\x00\x00\x00\x0cjP  \r\n\x87\n" + bytes(200), "image/jp2")),
    Case("png_bomb_header", "/detect", 413, "16384x16384", _upload("bomb.png", _png_header(16384, 16384), "image/png")),
    Case("png_bomb_real", "/detect", 413, "16384x16384", lambda url, f: _upload("bomb.png", _png_bomb(), "image/png")(url, f)),
    Case("jpeg_bomb_header", "/detect", 413, "65000x65000", _upload("bomb.jpg", _jpeg_header(65000, 65000))),
    Case("truncated_png", "/detect", 400, "does not decode", _upload("cut.png", _photo(".png")[:300], "image/png")),
    Case("truncated_jpeg_header", "/detect", 400, "truncated or corrupt", _upload("cut.jpg", _photo(".jpg")[:20])),
    Case("zero_size_png", "/detect", 400, "does not decode", _upload("zero.png", _png_header(0, 0), "image/png")),
    # /detect: the form
    Case("image_as_text_url", "/detect", 400, "not a text field",
         _form([("other", ("a.txt", b"x", "text/plain"))], {"image": "http://127.0.0.1:9/x.jpg"})),
    Case("image_as_text_path", "/detect", 400, "not a text field",
         _form([("other", ("a.txt", b"x", "text/plain"))], {"image": "/etc/passwd"})),
    Case("image_as_only_text_field", "/detect", 400, "not a text field",
         lambda url, f: httpx.post(f"{url}/detect", content=b'--b\r\nContent-Disposition: form-data; name="image"'
                                   b'\r\n\r\nfile:///etc/hostname\r\n--b--\r\n',
                                   headers={"content-type": "multipart/form-data; boundary=b"}, timeout=TIMEOUT)),
    Case("two_image_files", "/detect", 400, "exactly one file part",
         _form([("image", ("a.png", _photo(".png"), "image/png")), ("image", ("b.png", _photo(".png"), "image/png"))])),
    Case("thousand_files", "/detect", 400, "exactly one file part",
         _form([(f"f{i}", ("a.bin", b"x", "application/octet-stream")) for i in range(1000)])),
    Case("extra_text_field", "/detect", 400, "unexpected form parts ['comment']",
         _form([("image", ("a.png", _photo(".png"), "image/png"))], {"comment": "hi"})),
    Case("missing_image_field", "/detect", 400, "no file part", _upload("a.png", _photo(".png"), "image/png", "photo")),
    Case("json_to_detect", "/detect", 415, "takes multipart/form-data",
         lambda url, f: httpx.post(f"{url}/detect", json={"image": "x"}, timeout=TIMEOUT)),
    Case("raw_jpeg_to_detect", "/detect", 415, "takes multipart/form-data", _raw("/detect", _photo(".jpg"), "image/jpeg")),
    Case("multipart_without_boundary", "/detect", 400, "missing boundary", _raw("/detect", b"--x\r\n\r\n", "multipart/form-data")),
    Case("malformed_multipart", "/detect", 400, "invalid multipart",
         _raw("/detect", b"--b\r\nno headers here at all", "multipart/form-data; boundary=b")),
    # /info
    Case("multipart_to_info", "/info", 415, "takes application/json",
         lambda url, f: httpx.post(f"{url}/info", files={"x": ("x.bin", b"\x80\x81", "image/png")}, timeout=TIMEOUT)),
    Case("invalid_json_to_info", "/info", 400, "invalid json", _raw("/info", b"{{{", "application/json")),
    Case("field_to_info", "/info", 422, "/info does not take `verbose`; it takes no fields",
         lambda url, f: httpx.post(f"{url}/info", json={"verbose": True}, timeout=TIMEOUT)),
    # No Content-Type at all (content= with no header: httpx adds one only for json=/files=/data=)
    Case("no_content_type_to_predict", "/predict", 415, "has no content-type",
         _raw("/predict", json.dumps({"faces_b64": base64.b64encode(bytes(2304)).decode()}).encode(), None)),
    Case("no_content_type_to_detect", "/detect", 415, "has no content-type",
         _raw("/detect", b'--b\r\nContent-Disposition: form-data; name="image"; filename="a.png"\r\n'
              b"Content-Type: image/png\r\n\r\n" + _photo(".png") + b"\r\n--b--\r\n", None)),
]


def run_case(case: Case, url: str, faces: np.ndarray) -> tuple[int | None, str]:
    """(status, body text) of one case; (None, "") when the client gave up by design."""
    response = case.send(url, faces)
    if response is None:
        return None, ""
    return response.status_code, response.text


def check(case: Case, status: int | None, text: str) -> str | None:
    """What is wrong with this answer, or None."""
    if status != case.status:
        return f"{case.name}: HTTP {status} (expected {case.status}): {text[:200]}"
    if status is not None:
        try:
            error = json.loads(text)
        except ValueError:
            return f"{case.name}: the body is not JSON: {text[:200]}"
        if set(error) != {"error", "status"} or error["status"] != status or not error["error"]:
            return f"{case.name}: not the service's error shape {{error, status}}: {text[:200]}"
        if case.message.lower() not in error["error"].lower():
            return f"{case.name}: message {error['error'][:200]!r} lacks {case.message!r}"
    return None
