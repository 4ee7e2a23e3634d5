"""Debian's headless Chromium, driven by Selenium, with a fake camera that plays the demo generator's labelled
faces: how the live page is tested (test_live_page.py) and measured (bench/live_page.py, the same camera)."""

from __future__ import annotations

import shutil
import statistics
import subprocess
import time
from pathlib import Path

from selenium import webdriver
from selenium.webdriver.chrome.service import Service

from fer_platform.edge.demo import generate_steady
from fer_platform.faces import iou

REPO = Path(__file__).resolve().parents[2]
CHROMIUM, CHROMEDRIVER = "chromium", "chromedriver"  # Debian's packages: `make browser` installs them
# What runs headless here, as root, with no network: no sandbox (root), no GPU, nothing phoning home.
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync", "--window-size=1280,760",
         "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream")
CAMERA_FPS = 30


def ensure_chromium() -> tuple[str, str]:
    """The browser and its driver, installed from apt (`make browser`) when missing: never a download by Selenium."""
    if not (shutil.which(CHROMIUM) and shutil.which(CHROMEDRIVER)):
        subprocess.run(["make", "-s", "browser"], cwd=REPO, check=False, timeout=600)
    found = shutil.which(CHROMIUM), shutil.which(CHROMEDRIVER)
    if not all(found):
        raise RuntimeError("chromium and chromium-driver are missing and could not be installed: run `make browser`")
    return found


def camera_clip(fer_root: Path, out: Path, faces: int = 2) -> dict:
    """A one-second Y4M loop of `faces` PrivateTest faces side by side (the demo generator's steady clip, with its
    truth): what Chromium's fake camera plays, over and over."""
    return generate_steady(fer_root, out, faces, frames=CAMERA_FPS, fps=CAMERA_FPS)


def chromium(clip: Path, profile: Path) -> webdriver.Chrome:
    browser, driver = ensure_chromium()
    options = webdriver.ChromeOptions()
    options.binary_location = browser
    for flag in (*FLAGS, f"--use-file-for-fake-video-capture={clip}", f"--user-data-dir={profile}"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(options=options, service=Service(driver))


def wait_for(driver, script: str, timeout: float = 20, poll: float = 0.05):
    """The first truthy value of a JavaScript expression (`return ...`), or TimeoutError."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = driver.execute_script(script)
        if value:
            return value
        time.sleep(poll)
    raise TimeoutError(f"{script!r} not true within {timeout} s; the page says: {page_state(driver)}")


def page_state(driver) -> str:
    return driver.execute_script("return window.ferLive ? window.ferLive.state + ': ' + "
                                 "document.getElementById('status').textContent : 'no page state'")


def watch(driver, seconds: float) -> dict:
    """The page's answers to camera frames over `seconds`: how many a second, capture-to-label latency, the
    service's own time per frame, and the answers themselves."""
    start = driver.execute_script("return performance.now()")
    time.sleep(seconds)
    end, records = driver.execute_script("return [performance.now(), window.ferLive.records]")
    window = [r for r in records if start < r["t"] <= end]
    latencies = sorted(r["latency_ms"] for r in window) or [float("nan")]

    def p50(key: str) -> float:
        return round(statistics.median([r[key] for r in window] or [float("nan")]), 1)

    return {"seconds": round((end - start) / 1000, 2), "frames": len(window),
            "fps": round(len(window) / ((end - start) / 1000), 1), "latency_ms_p50": p50("latency_ms"),
            "latency_ms_p95": round(latencies[int(0.95 * (len(latencies) - 1))], 1),
            "before_send_ms_p50": p50("before_send_ms"), "round_trip_ms_p50": p50("round_trip_ms"),
            "server_ms_p50": p50("server_ms"), "records": window}


def matched_faces(records: list[dict], truth: dict):
    """(true face number, true face, the page's faces whose box overlaps it) for each true face of each record
    (the clip's boxes scaled to the frame sent)."""
    for record in records:
        scale = record["image"]["width"] / truth["width"]
        for person, face in enumerate(truth["segments"][0]["faces"]):
            box = [round(v * scale) for v in face["box"]]
            yield person, face, [f for f in record["faces"] if iou(box, tuple(f["box"][k] for k in "xywh")) >= 0.3]


def labelled_right(records: list[dict], truth: dict) -> tuple[int, int, int]:
    """(faces found, smoothed label right, faces judged) over the records: each true face is judged once per
    answered frame; it is found when a box overlaps its own."""
    found = right = judged = 0
    for _, face, match in matched_faces(records, truth):
        judged += 1
        found += bool(match)
        right += bool(match) and match[0]["smoothed_label"] == face["label"]
    return found, right, judged


def track_ids_per_face(records: list[dict], truth: dict) -> list[int]:
    """How many track numbers each true face got over the records (one each, when tracking holds)."""
    ids: list[set] = [set() for _ in truth["segments"][0]["faces"]]
    for person, _, match in matched_faces(records, truth):
        ids[person] |= {f["track_id"] for f in match}
    return [len(person_ids) for person_ids in ids]


def console_errors(driver) -> list[str]:
    """The browser console's errors since the last call."""
    return [entry["message"] for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]
