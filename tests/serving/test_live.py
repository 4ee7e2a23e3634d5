"""The live page's route without a browser or a model: its files, its WebSocket's Origin and token checks, the
per-connection tracking, and its answers to bad images (the browser test, test_live_page.py, runs it for real)."""

from __future__ import annotations

import asyncio
import json
import re
import warnings

import anyio
import cv2
import httpx
import numpy as np
import pytest
from starlette.websockets import WebSocketDisconnect

from fer_platform.config import ServeSettings
from fer_platform.edge.demo import compose
from fer_platform.labels import EMOTIONS
from fer_platform.serving.guards import TokenGuard
from fer_platform.serving.live import PAGE_DIR, PAGE_FILES, live_app, same_origin
from fer_platform.serving.live_session import LiveSession
from tests.conftest import SHARED_FER

with warnings.catch_warnings():  # Starlette 1.x suggests another HTTP client for its test client; this one works
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

SAME_ORIGIN = {"origin": "http://testserver"}  # TestClient sends Host: testserver
HAPPY = np.eye(len(EMOTIONS))[EMOTIONS.index("happy")]


class FakeService:
    """What a session uses of FerService: every face is happy; photos are answered without a search."""

    def __init__(self):
        self.cpu = anyio.CapacityLimiter(1)
        self.photos: list[bytes] = []
        self.routes: list[str] = []  # a live photo is answered as the live route (logged, its crops never kept)

    async def infer(self, faces: np.ndarray) -> np.ndarray:
        return np.tile(HAPPY, (len(faces), 1))

    async def detect_faces(self, read, route="/detect"):
        self.photos.append(read())
        self.routes.append(route)
        return {"labels": list(EMOTIONS), "image": {"width": 1, "height": 1}, "faces": []}


@pytest.fixture(scope="module")
def frame_jpeg() -> bytes:
    """Two real PrivateTest faces side by side, as the page sends a camera frame: 320x240 JPEG."""
    faces = [cv2.imread(str(next((SHARED_FER / "test" / label).glob("PrivateTest_*.jpg"))), cv2.IMREAD_GRAYSCALE)
             for label in ("happy", "surprise")]
    frame, _ = compose(faces, [(165, 240), (475, 240)])
    return cv2.imencode(".jpg", cv2.resize(frame, (320, 240), interpolation=cv2.INTER_AREA))[1].tobytes()


def client(token: str = "", **limits) -> tuple[TestClient, FakeService]:
    service = FakeService()
    return TestClient(live_app(lambda: service, ServeSettings(**limits), token=token)), service


def open_view(test_client: TestClient, token: str = "", headers=SAME_ORIGIN):
    ws = test_client.websocket_connect("/live/ws", headers=headers).__enter__()
    ws.send_text(json.dumps({"token": token}))
    return ws


def test_the_page_is_its_own_files_under_a_strict_policy():
    test_client, _ = client()
    for path, (name, media_type) in PAGE_FILES.items():
        r = test_client.get(path)
        assert r.status_code == 200 and r.headers["content-type"] == media_type, path
        assert "default-src 'self'" in r.headers["content-security-policy"]
        assert "frame-ancestors 'none'" in r.headers["content-security-policy"]
        assert not re.search(r"(https?:)?//[a-z]", r.text.replace("://${location.host}", "")), f"{name} loads from afar"
    assert {p.name for p in PAGE_DIR.iterdir()} == {name for name, _ in PAGE_FILES.values()}  # all served


def test_a_browser_page_of_another_origin_is_refused():
    assert same_origin(None, "127.0.0.1:3000")  # not a browser
    assert same_origin("http://127.0.0.1:3000", "127.0.0.1:3000")
    assert not same_origin("http://evil.example", "127.0.0.1:3000")
    assert not same_origin("http://127.0.0.1:3001", "127.0.0.1:3000")
    test_client, _ = client()
    with pytest.raises(WebSocketDisconnect) as refused, \
            test_client.websocket_connect("/live/ws", headers={"origin": "http://evil.example"}):
        pass
    assert refused.value.code == 1008


@pytest.mark.parametrize("given", ["", "not-it"])
def test_with_a_token_the_view_closes_unless_the_first_message_has_it(given):
    test_client, _ = client(token="s3cret")
    ws = open_view(test_client, given)
    with pytest.raises(WebSocketDisconnect) as refused:
        ws.receive_json()
    assert refused.value.code == 4401 and "s3cret" not in (refused.value.reason or "")
    ready = open_view(test_client, "s3cret").receive_json()
    assert ready["type"] == "ready" and ready["labels"] == list(EMOTIONS) and "s3cret" not in json.dumps(ready)


def test_the_token_guard_lets_the_page_through_and_keeps_the_routes_locked():
    async def app(scope, receive, send):
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    async def statuses():
        guard = TokenGuard(app, token="s3cret", open_paths=PAGE_FILES)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=guard), base_url="http://test") as http:
            return [(await http.get(path)).status_code for path in (*PAGE_FILES, "/info", "/live/other")]

    assert asyncio.run(statuses()) == [200] * len(PAGE_FILES) + [401, 401]


def test_each_view_tracks_its_own_faces_and_smooths_them(frame_jpeg):
    test_client, _ = client()
    ws = open_view(test_client)
    assert ws.receive_json()["type"] == "ready"
    answers = []
    for _ in range(4):
        ws.send_bytes(b"F" + frame_jpeg)
        answers.append(ws.receive_json())
    assert answers[0]["image"] == {"width": 320, "height": 240}
    ids = [sorted(f["track_id"] for f in a["faces"]) for a in answers]
    assert ids == [[1, 2]] * 4  # the same two faces keep their numbers
    face = answers[-1]["faces"][0]
    assert face["smoothed_label"] == face["label"] == "happy" and face["smoothed_confidence"] == 1.0
    assert set(face["box"]) == {"x", "y", "w", "h"} and answers[-1]["server_ms"] >= 0
    other = open_view(test_client)  # another browser: its own tracks, numbered from 1
    other.receive_json()
    other.send_bytes(b"F" + frame_jpeg)
    assert sorted(f["track_id"] for f in other.receive_json()["faces"]) == [1, 2]


def test_a_bad_image_is_answered_with_its_reason_and_the_view_goes_on(frame_jpeg):
    test_client, service = client(max_request_bytes=50_000)
    ws = open_view(test_client)
    ws.receive_json()
    for message, status in ((b"Fnot an image", 415), (b"F" + b"\xff" * 60_000, 413), (b"Xabc", 400), (b"F", 400)):
        ws.send_bytes(message)
        answer = ws.receive_json()
        assert answer["type"] == "error" and answer["status"] == status, (message[:8], answer)
    ws.send_text("hello")
    assert ws.receive_json()["status"] == 400
    ws.send_bytes(b"P" + frame_jpeg)  # a photo goes to /detect's code, from memory
    assert ws.receive_json()["type"] == "photo" and service.photos == [frame_jpeg]
    assert service.routes == ["/live/ws"]
    ws.send_bytes(b"F" + frame_jpeg)
    assert len(ws.receive_json()["faces"]) == 2


def test_live_views_beyond_the_limit_are_told_to_come_back_later():
    test_client, _ = client(max_in_flight=1)
    first = open_view(test_client)
    assert first.receive_json()["type"] == "ready"
    with pytest.raises(WebSocketDisconnect) as busy:
        open_view(test_client).receive_json()
    assert busy.value.code == 1013
    first.close()


def test_frames_are_searched_at_fer_edges_scale_whatever_their_size():
    session = LiveSession(FakeService(), ServeSettings())
    assert session._search_for(320).downscale == 1.0  # 24 px faces and up, at the cascade's window
    assert session._search_for(640).downscale == 0.5  # fer-edge's own: 48 px faces, on a half-size copy
    assert session._search_for(640) is session._search_for(640)  # kept while the size stays


@pytest.mark.parametrize("first", ["[" * 4000, json.dumps({"token": "x" * 5000})])
def test_a_first_message_too_deep_or_too_long_is_refused_not_parsed(first):
    """Before the token is known, a message is parsed only when it is short (a long one would hold the event
    loop: without the bound, this service, which has no token, would take it), and JSON nested too deeply for
    json.loads (RecursionError, under the bound) is a refusal too, not a traceback."""
    test_client, _ = client()
    ws = test_client.websocket_connect("/live/ws", headers=SAME_ORIGIN).__enter__()
    ws.send_text(first)
    with pytest.raises(WebSocketDisconnect) as refused:
        ws.receive_json()
    assert refused.value.code == 4401


def test_connections_without_their_token_yet_hold_no_place_among_the_views():
    """A client that connects and sends nothing (or reconnects every body_timeout_s) must not keep the
    views' places from those with the token."""
    test_client, _ = client(token="s3cret", max_in_flight=2)
    silent = test_client.websocket_connect("/live/ws", headers=SAME_ORIGIN).__enter__()
    views = [open_view(test_client, "s3cret") for _ in range(2)]
    assert [view.receive_json()["type"] for view in views] == ["ready", "ready"]
    silent.close()


def test_a_view_that_sends_nothing_is_closed_and_frees_its_place():
    """An open tab with no camera running (or a client that only connects) does not hold one of the
    serve.max_in_flight places for ever."""
    test_client = TestClient(live_app(FakeService, ServeSettings(max_in_flight=1), idle_s=0.3))
    first = open_view(test_client)
    assert first.receive_json()["type"] == "ready"
    with pytest.raises(WebSocketDisconnect) as idle:
        first.receive_json()
    assert idle.value.code == 4408
    assert open_view(test_client).receive_json()["type"] == "ready"  # its place is free again
