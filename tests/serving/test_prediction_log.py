"""The prediction log's records and writer (serving.prediction_log): no image, bounded, off the hot path."""

import json
import time

import numpy as np
import pytest

from fer_platform.serving.prediction_log import LOG_FILE, Batch, PredictionLog, now, records

FIELDS = {"time", "route", "model", "model_version", "face_id", "label", "confidence", "entropy", "margin",
          "brightness", "contrast", "sharpness", "face_size", "latency_ms"}


def batch(faces: np.ndarray, route: str = "/predict") -> Batch:
    probs = np.full((len(faces), 7), 0.05, np.float32)
    probs[:, 3] = 0.7
    return Batch(route, [f"{i:016x}" for i in range(len(faces))], faces, probs, [48] * len(faces), 12.345, now())


@pytest.fixture(scope="module")
def faces(small_dataset) -> np.ndarray:
    return small_dataset.split("PublicTest").images[:16]


def test_a_record_holds_the_answer_and_the_input_statistics_never_the_image(faces):
    out = records(batch(faces[:2]), "fer-classifier:abc", "3")
    assert len(out) == 2 and all(set(r) == FIELDS for r in out)
    r = out[0]
    assert r["label"] == "happy" and r["confidence"] == pytest.approx(0.7) and r["margin"] == pytest.approx(0.65)
    assert r["model"] == "fer-classifier:abc" and r["model_version"] == "3" and r["latency_ms"] == 12.35
    assert r["brightness"] == pytest.approx(float(faces[0].mean()), abs=1e-3)
    assert len(json.dumps(r)) < 400  # a line of numbers: no pixels (a face is 2,304 bytes)


def test_the_writer_writes_lines_rotates_within_its_bound_and_drops_rather_than_waits(tmp_path, faces):
    log = PredictionLog(tmp_path, "m:1", "1", max_bytes=10_000, backups=2, queue_faces=10_000)
    for _ in range(40):  # 640 lines of ~330 bytes: ~21 files' worth, of which 3 are kept
        assert log.submit(batch(faces))
    log.close()
    files = sorted(tmp_path.iterdir())
    assert [f.name for f in files] == [LOG_FILE, f"{LOG_FILE}.1", f"{LOG_FILE}.2"]
    assert all(f.stat().st_size <= 10_000 for f in files) and log.written == 640
    lines = [json.loads(line) for f in files for line in f.read_text().splitlines()]
    assert all(set(r) == FIELDS for r in lines)

    import threading

    slow = PredictionLog(tmp_path / "slow", "m:1", "1", max_bytes=10_000, backups=1, queue_faces=20)
    gate = threading.Event()
    slow.handler.emit = lambda record: gate.wait()  # a stalled disk: the writer cannot finish a batch
    accepted = [slow.submit(batch(faces)) for _ in range(3)]
    gate.set()
    slow.close()
    assert accepted == [True, False, False] and slow.dropped == 32


def test_the_request_only_queues_the_statistics_and_the_write_happen_in_the_writer(tmp_path, faces, monkeypatch):
    """The hot path is one queue append (#22: asserted as behaviour, not as a time, which a busy CI machine
    missed): with the disk stalled, 2,000 requests are all accepted and none written; nothing is computed or
    written on the requests' thread; a batch whose statistics cannot be computed is accepted too, fails in the
    writer alone, and the writer goes on. The cost is printed (-s; measured with the writer stalled, so without
    its competition); bench/service_load.py measures a live service with the log on and off."""
    import secrets
    import threading

    from fer_platform.serving import prediction_log

    on_request_thread = []
    stats = prediction_log.face_stats

    def statistics(*args):  # the module's own function, watched for the thread it runs on
        if threading.current_thread() is requester:
            on_request_thread.append("statistics")
        return stats(*args)

    monkeypatch.setattr(prediction_log, "face_stats", statistics)
    log = PredictionLog(tmp_path, "m:1", "1", max_bytes=10_000_000, backups=1, queue_faces=100_000)
    gate, write = threading.Event(), log.handler.emit

    def stalled_disk(record):  # until the gate opens
        if threading.current_thread() is requester:
            on_request_thread.append("write")
        gate.wait(timeout=120)
        write(record)

    log.handler.emit = stalled_disk
    face, probs, one = faces[:1], np.full((1, 7), 1 / 7, np.float32), range(2000)
    unreadable = Batch("/predict", ["bad"], face, np.ones((0, 7), np.float32), [48], 1.0, now())  # no answer row
    accepted, timing = [], {}

    def requests():  # on a thread of their own: a request that waited for the disk is seen, not a hung test
        start = time.perf_counter()
        accepted.extend(log.submit(Batch("/predict", [secrets.token_hex(8)], face, probs, [48], 1.0, now()))
                        for _ in one)
        timing["submit_us"] = (time.perf_counter() - start) / len(one) * 1e6
        accepted.append(log.submit(unreadable))  # nothing computed here, so nothing to fail here
        accepted.append(log.submit(Batch("/predict", ["after"], face, probs, [48], 1.0, now())))

    requester = threading.Thread(target=requests, name="requests")
    try:
        requester.start()
        requester.join(timeout=60)
        assert not requester.is_alive(), "a request waited for the stalled disk"
        assert accepted == [True] * 2002 and log.written == 0  # answered while nothing could be written
        assert on_request_thread == [], on_request_thread[:3]
    finally:
        gate.set()
    start = time.perf_counter()
    log.close(timeout=30)
    writer_us = (time.perf_counter() - start) / len(one) * 1e6
    assert log.written == 2001 and log.dropped == 0  # the bad batch failed alone; the one after it was written
    ids = [json.loads(line)["face_id"] for line in log.path.read_text().splitlines()]
    assert len(ids) == 2001 and ids[-1] == "after" and "bad" not in ids
    print(f"\nprediction log: {timing['submit_us']:.1f} us per request on the hot path (writer stalled); "
          f"writer {writer_us:.0f} us per face")


def logged(directory, ids: set[str], timeout: float = 10.0) -> dict[str, dict]:
    """The log's records of these face ids, waiting for the writer thread (milliseconds) to write them."""
    deadline = time.monotonic() + timeout
    while True:
        found = {}
        for path in sorted(directory.glob(f"{LOG_FILE}*")):
            for line in path.read_text().splitlines():
                record = json.loads(line)
                if record["face_id"] in ids:
                    found[record["face_id"]] = record
        if len(found) == len(ids) or time.monotonic() > deadline:
            return found
        time.sleep(0.1)


@pytest.mark.slow
def test_a_real_bentoml_serve_logs_each_face_it_answers_with_its_id(release_server, release_project, faces):
    """The release server (params.yaml: the log on, in logs/predictions under the service's directory): every
    face /predict and /detect answer has an id, and a line in the log under that id with the same label."""
    import base64

    import cv2
    import httpx

    from fer_platform.edge.demo import compose

    answer = httpx.post(f"{release_server.url}/predict", timeout=60,
                        json={"faces_b64": base64.b64encode(faces[:3].tobytes()).decode()}).json()["faces"]
    frame, _ = compose([faces[0], faces[7]], [(165, 240), (475, 240)])
    photo = cv2.imencode(".png", frame)[1].tobytes()
    detected = httpx.post(f"{release_server.url}/detect", files={"image": ("f.png", photo, "image/png")},
                          timeout=60).json()["faces"]
    ids = {f["id"] for f in answer + detected}
    assert len(ids) == 3 + len(detected) and detected
    records = logged(release_project[0] / "logs" / "predictions", ids)
    assert set(records) == ids
    for face in answer + detected:
        record = records[face["id"]]
        assert record["label"] == face["label"] and record["confidence"] == pytest.approx(face["confidence"], abs=1e-4)
        assert set(record) == FIELDS and record["latency_ms"] > 0
        assert record["route"] == ("/detect" if "box" in face else "/predict")
        assert record["face_size"] == (face["box"]["w"] if "box" in face else 48)
    assert records[answer[0]["id"]]["brightness"] == pytest.approx(float(faces[0].mean()), abs=1e-3)


def test_a_failed_write_loses_that_batch_only(tmp_path, faces):
    log = PredictionLog(tmp_path, "m:1", "1", max_bytes=100_000, backups=1, queue_faces=1000)
    emit, calls = log.handler.emit, []

    def full_disk_once(record):
        calls.append(1)
        if len(calls) == 1:
            raise OSError(28, "No space left on device")
        emit(record)

    log.handler.emit = full_disk_once
    log.submit(batch(faces[:2]))
    log.submit(batch(faces[:3]))
    log.close()
    assert len((tmp_path / LOG_FILE).read_text().splitlines()) == 3 and log.written == 3
