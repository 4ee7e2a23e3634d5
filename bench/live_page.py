"""The live page (GET /live) against the served release on this machine: the page's FPS and capture-to-label
latency in headless Chromium under the browser test's fake camera (two labelled PrivateTest faces), and the
two transports it could use, measured with one frame in flight as the page sends them: the WebSocket
/live/ws (tracking on the service) against HTTP /detect (which would need the tracking in the browser).

    python bench/live_page.py          # needs chromium + chromium-driver (make browser)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import cv2
import httpx
import websockets

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import DEFAULT_FER, REPO, write_result
from _serving import Server, prepare

sys.path.insert(0, str(REPO))
from selenium.webdriver.common.by import By
from tests.serving.live_browser import camera_clip, chromium, labelled_right, wait_for, watch

CACHE = REPO / "bench" / ".cache"


def frames_of(clip: Path, width: int) -> list[bytes]:
    """The clip's frames as the page sends them: downscaled to `width`, JPEG at quality 80."""
    capture, out = cv2.VideoCapture(str(clip)), []
    while (read := capture.read())[0]:
        height = round(read[1].shape[0] * width / read[1].shape[1])
        small = cv2.resize(read[1], (width, height), interpolation=cv2.INTER_AREA)
        out.append(cv2.imencode(".jpg", small, [cv2.IMWRITE_JPEG_QUALITY, 80])[1].tobytes())
    return out


def summary(times_ms: list[float]) -> dict:
    ordered = sorted(times_ms)
    return {"frames": len(ordered), "p50_ms": round(statistics.median(ordered), 1),
            "p95_ms": round(ordered[int(0.95 * (len(ordered) - 1))], 1),
            "fps_one_in_flight": round(1000 / statistics.mean(ordered), 1)}


async def over_websocket(url: str, frames: list[bytes], n: int) -> dict:
    async with websockets.connect(url.replace("http://", "ws://") + "/live/ws") as ws:
        await ws.send(json.dumps({"token": ""}))
        json.loads(await ws.recv())
        times = []
        for i in range(n):
            began = time.perf_counter()
            await ws.send(b"F" + frames[i % len(frames)])
            json.loads(await ws.recv())
            times.append((time.perf_counter() - began) * 1000)
    return summary(times[5:])  # the first frames set the search up


def over_detect(url: str, frames: list[bytes], n: int) -> dict:
    times = []
    with httpx.Client(timeout=30) as client:
        for i in range(n):
            began = time.perf_counter()
            client.post(f"{url}/detect", files={"image": ("frame.jpg", frames[i % len(frames)], "image/jpeg")})
            times.append((time.perf_counter() - began) * 1000)
    return summary(times[5:])


def transports(url: str, clip: Path, n: int) -> dict:
    out = {}
    for width in (320, 640):
        frames = frames_of(clip, width)
        out[f"{width}x{width * 3 // 4}"] = {"websocket": asyncio.run(over_websocket(url, frames, n)),
                                           "detect": over_detect(url, frames, n)}
    return out


def page(url: str, clip: Path, truth: dict, seconds: float) -> dict:
    with tempfile.TemporaryDirectory() as profile:
        driver = chromium(clip, Path(profile))
        try:
            driver.get(f"{url}/live")
            wait_for(driver, "return window.ferLive && window.ferLive.state === 'ready'")
            driver.find_element(By.ID, "camera-start").click()
            wait_for(driver, "return window.ferLive.records.length >= 10")
            seen = watch(driver, seconds)
        finally:
            driver.quit()
    found, right, judged = labelled_right(seen.pop("records"), truth)
    return {**seen, "faces_found": round(found / judged, 3), "smoothed_label_right": round(right / judged, 3)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--fer", default=str(DEFAULT_FER))
    parser.add_argument("--seconds", type=float, default=15.0, help="how long the page is watched")
    parser.add_argument("--frames", type=int, default=100, help="frames per transport and size")
    args = parser.parse_args()
    env = prepare(Path(args.fer))
    CACHE.mkdir(parents=True, exist_ok=True)
    clip = CACHE / "live_camera.y4m"
    truth = camera_clip(Path(args.fer), clip)
    server = Server(env)
    server.start()
    try:
        load_before = os.getloadavg()[0]
        result = {"camera": {"clip": "demo generator, 2 steady faces, 640x480, 30 FPS (the browser test's)",
                             "labels": [f["label"] for f in truth["segments"][0]["faces"]]},
                  "page": page(server.url, clip, truth, args.seconds),
                  "transports": transports(server.url, CACHE / "live_camera.y4m", args.frames),
                  "load_average_1min_before": round(load_before, 2)}
    finally:
        server.stop()
    write_result("live_page", result)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
