"""A real `bentoml serve` on a free loopback port, serving the champion (the release model, as after `make run`)."""

from __future__ import annotations

import base64
import json
from hashlib import sha256

import cv2
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
    # the champion is the release: its committed export was reused (no second tf2onnx run), and its committed
    # parity report with it, measured on these faces under these runtimes (no second Keras and ORT pass)
    assert info["onnx_source"] == "release/model.onnx (exported from the same weights)", info["onnx_source"]
    assert info["parity"].get("reused"), ("release/onnx_parity.json was measured with another graph, faces or "
                                          "runtimes (after a uv.lock bump): python -m fer_platform.release onnx")
    assert info["parity"]["onnx_sha256"] == sha256(
        (root / "release/model.onnx").read_bytes()).hexdigest()


def test_predict_returns_probabilities_in_label_order(release_server, faces):
    images, _ = faces
    r = post_predict(release_server.url, faces_b64=base64.b64encode(images[:5].tobytes()).decode())
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["labels"] == list(EMOTIONS) and len(body["faces"]) == 5
    for face in body["faces"]:
        probs = np.array([face["probabilities"][e] for e in EMOTIONS])
        assert abs(probs.sum() - 1) < 1e-4 and face["label"] == EMOTIONS[int(probs.argmax())]
        assert face["confidence"] == pytest.approx(probs.max())
    same = post_predict(release_server.url, faces=images[:5].tolist()).json()  # the nested-list wire format agrees
    assert [f["label"] for f in same["faces"]] == [f["label"] for f in body["faces"]]


def inference_counters(url: str) -> tuple[float, float]:
    """(ONNX Runtime calls, faces classified) so far, from the service's Prometheus metrics."""
    text = httpx.get(f"{url}/metrics", timeout=10).text
    values = dict(line.rsplit(" ", 1) for line in text.splitlines() if line.startswith("fer_inference_"))
    return float(values["fer_inference_calls_total"]), float(values["fer_inference_faces_total"])


def test_concurrent_requests_are_merged_into_fewer_inference_calls(release_server, faces):
    """The greedy batcher merges requests that queue while a call runs (fewer calls than requests, on /metrics);
    each caller still gets its own faces back. Four faces a request, base64: inference, not decoding, is then
    the slow part, as in production, so requests queue behind it."""
    import concurrent.futures as cf

    images, _ = faces
    n, per = 24, 4
    batches = [images[(i * per) % 40:(i * per) % 40 + per] for i in range(n)]

    def labels_of(batch):
        r = post_predict(release_server.url, faces_b64=base64.b64encode(batch.tobytes()).decode())
        assert r.status_code == 200, r.text
        return [f["label"] for f in r.json()["faces"]]

    single = [labels_of(b) for b in batches]
    calls_before, faces_before = inference_counters(release_server.url)
    with cf.ThreadPoolExecutor(n) as pool:
        together = list(pool.map(labels_of, batches))
    calls_after, faces_after = inference_counters(release_server.url)
    assert together == single
    assert faces_after - faces_before == n * per
    assert calls_after - calls_before < n, "no request was merged into another's inference call"


def test_detect_finds_and_classifies_faces(release_server, faces):
    images, _ = faces
    frame, boxes = compose([images[0], images[7]], [(165, 240), (475, 240)])
    ok, jpeg = cv2.imencode(".jpg", frame)
    r = httpx.post(f"{release_server.url}/detect", files={"image": ("photo.jpg", jpeg.tobytes(), "image/jpeg")}, timeout=60)
    assert r.status_code == 200, r.text
    found = r.json()["faces"]
    assert len(found) >= 1
    for face in found:
        assert set(face) >= {"box", "label", "confidence", "probabilities"} and face["label"] in EMOTIONS
    png = cv2.imencode(".png", np.full((200, 300, 3), 90, np.uint8))[1].tobytes()
    empty = httpx.post(f"{release_server.url}/detect", files={"image": ("blank.png", png, "image/png")}, timeout=60)
    assert empty.status_code == 200 and empty.json()["faces"] == []


def test_info_describes_the_served_model(release_server):
    r = httpx.post(f"{release_server.url}/info", json={}, timeout=30)
    assert r.status_code == 200
    info = r.json()
    assert info["registered_model"] == "fer-classifier" and info["alias"] == "champion"
    assert info["labels"] == list(EMOTIONS) and info["version"]
    assert "publictest_accuracy" in info["metrics"]
    assert isinstance(info["publictest_accuracy"], float)  # a number, like the other metrics
    assert info["runtime"].startswith("onnxruntime") and info["limits"]["max_in_flight"] >= 1


def test_the_openapi_document_describes_this_service(release_server):
    spec = httpx.get(f"{release_server.url}/docs.json", timeout=30).json()
    info = spec["info"]
    assert info["title"] == "FER service: facial expression recognition"
    assert "fer-platform " in info["version"] and "fer-classifier:" in info["version"] and "@champion" in info["version"]
    assert "Errors are" in info["description"] and "BentoML" not in info["description"]
    for route in ("/predict", "/info"):
        examples = spec["paths"][route]["post"]["requestBody"]["content"]["application/json"]["examples"]
        for example in examples.values():  # every documented example is a request the service accepts
            assert httpx.post(f"{release_server.url}{route}", json=example["value"], timeout=30).status_code == 200


def test_the_openapi_document_declares_real_answers_and_errors(release_server, faces):
    """Each route's 200 schema is what the service answers (checked on real answers, extra keys refused), and
    its error statuses are the ones it sends (every one the bad-input catalogue expects), in the error shape."""
    import jsonschema
    from tests.serving.bad_inputs import CATALOGUE

    spec = httpx.get(f"{release_server.url}/docs.json", timeout=30).json()

    def schema(route: str, status: str) -> dict:
        ref = spec["paths"][route]["post"]["responses"][status]["content"]["application/json"]["schema"]
        return {**ref, "components": spec["components"]}

    photo = cv2.imencode(".png", compose([faces[0][0], faces[0][7]], [(165, 240), (475, 240)])[0])[1].tobytes()
    answers = {"/predict": post_predict(release_server.url, faces=faces[0][:2].tolist()),
               "/detect": httpx.post(f"{release_server.url}/detect", files={"image": ("a.png", photo, "image/png")},
                                     timeout=60),
               "/info": httpx.post(f"{release_server.url}/info", json={}, timeout=30)}
    for route, answer in answers.items():
        assert answer.status_code == 200, (route, answer.text)
        jsonschema.validate(answer.json(), schema(route, "200"))
    assert answers["/detect"].json()["faces"], "the composed photo's faces were found"
    with pytest.raises(jsonschema.ValidationError):  # the schema is strict: an extra key is not a Face
        jsonschema.validate({**answers["/predict"].json(), "extra": 1}, schema("/predict", "200"))
    expected = {(c.route, c.status) for c in CATALOGUE if c.status not in (None, 404, 405)}  # 404/405: no route
    for route, status in sorted(expected):
        declared = spec["paths"][route]["post"]["responses"]
        assert str(status) in declared, f"{route} answers {status} but the document does not say so"
        jsonschema.validate({"error": "x", "status": status}, schema(route, str(status)))


def test_health_and_metrics_routes(release_server):
    for route in ("/livez", "/readyz", "/metrics"):
        assert httpx.get(f"{release_server.url}{route}", timeout=10).status_code == 200, route


def test_a_token_protects_every_route_but_the_probes_and_fer_edge_sends_it(release_project, faces, tmp_path):
    import subprocess
    import sys

    from fer_platform.edge.demo import generate
    from tests.conftest import SHARED_FER
    from tests.quick_project import Server

    root, env = release_project
    srv = Server(root, {**env, "FER_API_TOKEN": "team-secret"})
    srv.start()
    try:
        images, _ = faces
        body = {"faces": images[:1].tolist()}
        bearer = {"authorization": "Bearer team-secret"}
        import concurrent.futures as cf

        with cf.ThreadPoolExecutor(16) as pool:  # ready means ready: a first burst right after /readyz is served
            burst = list(pool.map(lambda i: httpx.post(f"{srv.url}/predict", json={"faces": images[i:i + 4].tolist()},
                                                       headers=bearer, timeout=30).status_code, range(16)))
        assert burst == [200] * 16, burst
        assert httpx.post(f"{srv.url}/predict", json=body, timeout=30).status_code == 401
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


def _metric_samples(text: str, name: str) -> dict[str, float]:
    """{labels part: value} of one metric in Prometheus' text format."""
    out = {}
    for line in text.splitlines():
        if line.startswith(name):
            key, value = line.rsplit(" ", 1)
            out[key[len(name):]] = float(value)
    return out


def test_metrics_count_each_label_answered_and_the_confidence_of_answers(release_server, faces):
    """#27's first piece: what the served model answers, on /metrics, without keeping a face."""
    url = release_server.url

    def scrape() -> tuple[dict, dict]:
        text = httpx.get(f"{url}/metrics", timeout=10).text
        return (_metric_samples(text, "fer_predicted_label_total"),
                _metric_samples(text, "fer_prediction_confidence_count"))

    labels_before, count_before = scrape()
    answer = post_predict(url, faces=faces[0][:3].tolist()).json()["faces"]
    labels_after, count_after = scrape()
    for label in {f["label"] for f in answer}:
        key = f'{{label="{label}"}}'
        want = sum(f["label"] == label for f in answer)
        assert labels_after[key] - labels_before.get(key, 0.0) == want, (label, labels_before, labels_after)
    assert sum(count_after.values()) - sum(count_before.values()) == 3
