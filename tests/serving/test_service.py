"""A real `bentoml serve` on a free loopback port, serving the champion of the quick profile."""

from __future__ import annotations

import base64
import json

import httpx
import numpy as np
import pytest

from fer_platform.edge.demo import compose
from fer_platform.labels import EMOTIONS

pytestmark = pytest.mark.slow


@pytest.fixture(scope="session")
def faces(small_dataset) -> tuple[np.ndarray, np.ndarray]:
    test = small_dataset.split("PrivateTest")
    return test.images, test.labels


def post_predict(url: str, **body) -> httpx.Response:
    return httpx.post(f"{url}/predict", json=body, timeout=60)


def test_package_stage_built_a_self_contained_bento(packaged):
    root, _ = packaged
    info = json.loads((root / "reports/bento.json").read_text())
    assert info["alias"] == "champion" and info["bento"].startswith("fer-service:")
    assert info["bento_model"].startswith("fer-classifier:")
    # served through ONNX Runtime, checked against Keras on real PrivateTest faces before it was stored
    assert info["runtime"].startswith("onnxruntime") and info["parity"]["ok"]
    assert info["parity"]["faces"] >= 512 and info["parity"]["max_abs_diff"] <= 1e-4


def test_predict_returns_probabilities_in_label_order(server, faces):
    images, _ = faces
    r = post_predict(server.url, faces_b64=base64.b64encode(images[:5].tobytes()).decode())
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["labels"] == list(EMOTIONS) and len(body["faces"]) == 5
    for face in body["faces"]:
        probs = np.array([face["probabilities"][e] for e in EMOTIONS])
        assert abs(probs.sum() - 1) < 1e-4 and face["label"] == EMOTIONS[int(probs.argmax())]
        assert face["confidence"] == pytest.approx(probs.max())
    same = post_predict(server.url, faces=images[:5].tolist()).json()  # the nested-list wire format agrees
    assert [f["label"] for f in same["faces"]] == [f["label"] for f in body["faces"]]


def test_concurrent_requests_are_answered(server, faces):
    """Adaptive batching merges concurrent requests; each caller still gets its own faces back."""
    import concurrent.futures as cf

    images, _ = faces
    single = [post_predict(server.url, faces=images[i:i + 1].tolist()).json()["faces"][0]["label"] for i in range(8)]
    with cf.ThreadPoolExecutor(8) as pool:
        labels = list(pool.map(lambda i: post_predict(server.url, faces=images[i:i + 1].tolist())
                               .json()["faces"][0]["label"], range(8)))
    assert labels == single


def test_detect_finds_and_classifies_faces(server, faces):
    import cv2

    images, _ = faces
    frame, boxes = compose([images[0], images[7]], [(165, 240), (475, 240)])
    ok, jpeg = cv2.imencode(".jpg", frame)
    r = httpx.post(f"{server.url}/detect", files={"image": ("photo.jpg", jpeg.tobytes(), "image/jpeg")}, timeout=60)
    assert r.status_code == 200, r.text
    found = r.json()["faces"]
    assert len(found) >= 1
    for face in found:
        assert set(face) >= {"box", "label", "confidence", "probabilities"} and face["label"] in EMOTIONS
    png = cv2.imencode(".png", np.full((200, 300, 3), 90, np.uint8))[1].tobytes()
    empty = httpx.post(f"{server.url}/detect", files={"image": ("blank.png", png, "image/png")}, timeout=60)
    assert empty.status_code == 200 and empty.json()["faces"] == []


def test_info_describes_the_served_model(server):
    r = httpx.post(f"{server.url}/info", json={}, timeout=30)
    assert r.status_code == 200
    info = r.json()
    assert info["registered_model"] == "fer-classifier" and info["alias"] == "champion"
    assert info["labels"] == list(EMOTIONS) and info["version"]
    assert "publictest_accuracy" in info["metrics"]
    assert isinstance(info["publictest_accuracy"], float)  # a number, like the other metrics
    assert info["runtime"].startswith("onnxruntime") and info["limits"]["max_in_flight"] >= 1


def _png_header(width: int, height: int) -> bytes:
    """The first bytes of a PNG claiming this size (a decompression bomb's header: refused before decoding)."""
    import zlib

    ihdr = width.to_bytes(4, "big") + height.to_bytes(4, "big") + b"\x08\x00\x00\x00\x00"
    return (b"\x89PNG\r\n\x1a\n" + len(ihdr).to_bytes(4, "big") + b"IHDR" + ihdr
            + zlib.crc32(b"IHDR" + ihdr).to_bytes(4, "big") + bytes(64))


def test_health_and_metrics_routes(server):
    for route in ("/livez", "/readyz", "/metrics"):
        assert httpx.get(f"{server.url}{route}", timeout=10).status_code == 200, route


@pytest.mark.parametrize("case, status, message", [
    ("non_image", 415, "not a JPEG or PNG"),
    ("empty_upload", 400, "empty image upload"),
    ("oversized_upload", 413, "the limit is"),
    ("empty_faces", 400, "at least one face"),
    ("neither_field", 400, "exactly one of"),
    ("wrong_shape", 422, "expected (N, 48, 48)"),
    ("wrong_dtype", 422, "integers 0..255"),
    ("out_of_range", 422, "integers 0..255"),
    ("bad_length_b64", 422, "not a multiple of 48*48"),
    ("bad_base64", 400, "not valid base64"),
    ("too_many_faces", 413, "the limit is 64"),
    ("invalid_json", 400, "json"),
    ("multipart_to_predict", 415, "takes application/json"),
    ("multipart_to_info", 415, "takes application/json"),
    ("strings_in_faces", 422, "got strings"),
    ("nulls_in_faces", 422, "got nulls"),
    ("tiff_upload", 415, "not a JPEG or PNG"),
    ("png_bomb", 413, "16384x16384"),
    ("predict_body_over_limit", 413, "the limit is"),
])
def test_malformed_input_gets_a_4xx_and_the_service_keeps_answering(server, faces, case, status, message):
    images, _ = faces
    url = server.url
    requests = {
        "non_image": lambda: httpx.post(f"{url}/detect", files={"image": ("x.jpg", b"definitely not a jpeg",
                                                                          "image/jpeg")}),
        "empty_upload": lambda: httpx.post(f"{url}/detect", files={"image": ("x.jpg", b"", "image/jpeg")}),
        "oversized_upload": lambda: httpx.post(f"{url}/detect", files={"image": ("x.jpg", b"\xff" * 8_100_000,
                                                                                 "image/jpeg")}),
        "empty_faces": lambda: post_predict(url, faces=[]),
        "neither_field": lambda: post_predict(url),
        "wrong_shape": lambda: post_predict(url, faces=np.zeros((2, 32, 32), int).tolist()),
        "wrong_dtype": lambda: post_predict(url, faces=(images[:1] / 255.0).tolist()),
        "out_of_range": lambda: post_predict(url, faces=(images[:1].astype(int) + 300).tolist()),
        "bad_length_b64": lambda: post_predict(url, faces_b64=base64.b64encode(b"\x00" * 2000).decode()),
        "bad_base64": lambda: post_predict(url, faces_b64="@@not base64@@"),
        "too_many_faces": lambda: post_predict(url, faces_b64=base64.b64encode(
            np.zeros((65, 48, 48), np.uint8).tobytes()).decode()),
        "invalid_json": lambda: httpx.post(f"{url}/predict", content=b"{not json", timeout=30,
                                           headers={"content-type": "application/json"}),
        "multipart_to_predict": lambda: httpx.post(f"{url}/predict", files={"faces": ("f.bin", b"\xff\xfe\x00",
                                                                                       "application/octet-stream")}),
        "multipart_to_info": lambda: httpx.post(f"{url}/info", files={"x": ("x.bin", b"\x80\x81", "image/png")}),
        "strings_in_faces": lambda: post_predict(url, faces=[[["7"] * 48] * 48]),
        "nulls_in_faces": lambda: post_predict(url, faces=[[[None] * 48] * 48]),
        "tiff_upload": lambda: httpx.post(f"{url}/detect", files={"image": ("x.tif", b"II*\x00" + bytes(200),
                                                                            "image/tiff")}),
        "png_bomb": lambda: httpx.post(f"{url}/detect", files={"image": ("bomb.png", _png_header(16384, 16384),
                                                                         "image/png")}),
        "predict_body_over_limit": lambda: httpx.post(f"{url}/predict", content=b"{" + b" " * 8_100_000 + b"}",
                                                      headers={"content-type": "application/json"}, timeout=30),
    }
    r = requests[case]()
    assert r.status_code == status, (case, r.status_code, r.text)
    assert message.lower() in r.text.lower(), r.text
    ok = post_predict(url, faces=images[:1].tolist())
    assert ok.status_code == 200


def test_a_token_protects_every_route_but_the_probes_and_fer_edge_sends_it(packaged, faces, tmp_path):
    import subprocess
    import sys

    from fer_platform.edge.demo import generate
    from tests.conftest import SHARED_FER
    from tests.quick_project import Server

    root, env = packaged
    srv = Server(root, {**env, "FER_API_TOKEN": "team-secret"})
    srv.start()
    try:
        images, _ = faces
        body = {"faces": images[:1].tolist()}
        assert httpx.post(f"{srv.url}/predict", json=body, timeout=30).status_code == 401
        bearer = {"authorization": "Bearer team-secret"}
        assert httpx.post(f"{srv.url}/predict", json=body, headers=bearer, timeout=30).status_code == 200
        assert httpx.get(f"{srv.url}/readyz", timeout=10).status_code == 200
        generate(SHARED_FER, tmp_path / "demo.mp4", frames_per_segment=3)
        out = subprocess.run([sys.executable, "-m", "fer_platform.edge.cli", "--video", str(tmp_path / "demo.mp4"),
                              "--url", srv.url, "--no-display", "--jsonl", "-"], capture_output=True, text=True,
                             timeout=300, env={**env, "FER_API_TOKEN": "team-secret"})
        assert out.returncode == 0, out.stderr
        records = [json.loads(line) for line in out.stdout.splitlines()]
        assert any(r["faces"] and r["classified"] for r in records)
        assert "team-secret" not in out.stderr and "team-secret" not in (root / f"serve-{srv.port}.log").read_text()
    finally:
        srv.stop()
