"""POST /feedback against a real `bentoml serve` (#27): the release server keeps no face (off by default);
one with serve.feedback.keep_faces on, a short retention and a token attaches a labelled crop to the field
dataset once, refuses without the token, forgets a face after its retention, and the folder is a DVC version."""

import asyncio
import base64
import json
import subprocess
import sys
import time
from pathlib import Path

import cv2
import httpx
import jsonschema
import numpy as np
import pytest
import yaml

pytestmark = pytest.mark.slow


def test_feedback_needs_kept_faces_and_the_token_and_keeps_a_face_no_longer_than_its_retention(
        release_server, release_project, small_dataset, tmp_path):
    from tests.quick_project import Server

    faces = small_dataset.split("PrivateTest").images[:3]
    off = httpx.post(f"{release_server.url}/feedback", json={"face_id": "0" * 16, "label": "happy"}, timeout=30)
    assert off.status_code == 409 and "keep_faces is off" in off.json()["error"]

    root, env = release_project
    raw = yaml.safe_load((root / "params.yaml").read_text())
    raw["serve"]["feedback"] = {"keep_faces": True, "retention_s": 4, "max_faces": 50, "dir": str(tmp_path / "field")}
    raw["data"]["field"] = str(tmp_path / "field")  # ingest reads where /feedback writes (params.yaml checks it)
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(raw))
    srv = Server(root, {**env, "FER_PARAMS": str(tmp_path / "params.yaml"), "FER_API_TOKEN": "team-secret"})
    srv.start()
    try:
        bearer = {"authorization": "Bearer team-secret"}
        answer = httpx.post(f"{srv.url}/predict", headers=bearer, timeout=60,
                            json={"faces_b64": base64.b64encode(faces.tobytes()).decode()}).json()["faces"]
        first, second, third = (f["id"] for f in answer)

        def feedback(face_id, label="happy", headers=bearer):
            return httpx.post(f"{srv.url}/feedback", json={"face_id": face_id, "label": label}, headers=headers,
                              timeout=30)

        assert feedback(first, headers={}).status_code == 401
        assert feedback(first, label="bored").status_code == 422
        stored = feedback(first)
        assert stored.status_code == 200, stored.text
        assert Path(stored.json()["stored"]) == tmp_path / "field" / "happy" / f"{first}.png"
        spec = httpx.get(f"{srv.url}/docs.json", headers=bearer, timeout=30).json()  # the answer is as documented
        jsonschema.validate(stored.json(), {**spec["components"]["schemas"]["FeedbackResponse"],
                                            "components": spec["components"]})
        assert np.array_equal(cv2.imread(stored.json()["stored"], cv2.IMREAD_GRAYSCALE), faces[0])
        assert feedback(first).status_code == 404  # attached once, then forgotten
        assert feedback(second, "sad").status_code == 200
        time.sleep(4.5)  # past retention_s
        gone = feedback(third)
        assert gone.status_code == 404 and "kept for 4 s" in gone.json()["error"]
        # The live page's photos are never kept (the page says nothing it sends is stored): their faces get ids
        # that /feedback does not know, while the same photo's faces through /detect can be labelled.
        photo = (Path(__file__).resolve().parents[2] / "release" / "sample.jpg").read_bytes()
        live = asyncio.run(_live_photo(srv.url, "team-secret", photo))
        assert live["type"] == "photo" and len(live["faces"]) == 3, live
        assert all(feedback(face["id"]).status_code == 404 for face in live["faces"])
        detected = httpx.post(f"{srv.url}/detect", headers=bearer, timeout=60,
                              files={"image": ("sample.jpg", photo, "image/jpeg")}).json()["faces"]
        fourth = detected[0]["id"]
        assert feedback(fourth, "neutral").status_code == 200
        assert sorted(p.relative_to(tmp_path / "field").as_posix() for p in (tmp_path / "field").rglob("*.png")) == \
            sorted([f"happy/{first}.png", f"sad/{second}.png", f"neutral/{fourth}.png"])
    finally:
        srv.stop()

    dvc = [str(Path(sys.executable).with_name("dvc"))]
    subprocess.run([*dvc, "init", "--no-scm", "-q"], cwd=tmp_path, check=True)
    subprocess.run([*dvc, "add", "-q", "field"], cwd=tmp_path, check=True)  # the field dataset's data version
    assert yaml.safe_load((tmp_path / "field.dvc").read_text())["outs"][0]["nfiles"] == 3


async def _live_photo(url: str, token: str, photo: bytes) -> dict:
    """A photo through the live page's WebSocket, as the page sends one (its token first, then `P` + the file)."""
    import websockets

    async with websockets.connect(url.replace("http://", "ws://") + "/live/ws") as ws:
        await ws.send(json.dumps({"token": token}))
        assert json.loads(await ws.recv())["type"] == "ready"
        await ws.send(b"P" + photo)
        return json.loads(await ws.recv())
