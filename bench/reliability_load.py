"""Sustained load: 32 clients for 60 s against a real `bentoml serve` of the release model, on loopback. Each
client posts one face to /predict as soon as its last answer is in; one in eight requests is a /detect of a
640x480 JPEG. Reports every error by kind, latency percentiles, and the service tree's RSS over the run (every 10 s: it should level off, not climb).

    python bench/reliability_load.py [--clients 32] [--seconds 60]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import cv2
import httpx
import numpy as np
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import DEFAULT_FER, write_result
from _serving import Server, prepare
from service_load import body, percentiles

from fer_platform.data.readers import read_fer2013
from fer_platform.edge.demo import compose
from fer_platform.labels import REPORT


def tree_rss_mb(pid: int) -> float:
    proc = psutil.Process(pid)
    return sum(p.memory_info().rss for p in [proc, *proc.children(recursive=True)]) / 2**20


async def sustained(url: str, faces: np.ndarray, jpeg: bytes, clients: int, seconds: float) -> dict:
    latencies: dict[str, list[float]] = {"/predict": [], "/detect": []}
    errors: Counter[str] = Counter()
    deadline = time.perf_counter() + seconds
    async with httpx.AsyncClient(timeout=30, limits=httpx.Limits(max_connections=clients)) as http:
        async def client(offset: int) -> None:
            i = offset
            while time.perf_counter() < deadline:
                route = "/detect" if i % 8 == 7 else "/predict"
                began = time.perf_counter()
                try:
                    if route == "/detect":
                        r = await http.post(f"{url}/detect", files={"image": ("f.jpg", jpeg, "image/jpeg")})
                    else:
                        r = await http.post(f"{url}/predict", json=body(faces[i % len(faces)][None]))
                    if r.status_code == 200:
                        latencies[route].append((time.perf_counter() - began) * 1000)
                    else:
                        errors[f"HTTP {r.status_code}"] += 1
                except httpx.HTTPError as err:
                    errors[type(err).__name__] += 1
                i += clients

        began = time.perf_counter()
        await asyncio.gather(*(client(c) for c in range(clients)))
        elapsed = time.perf_counter() - began
    answered = sum(len(v) for v in latencies.values())
    return {"clients": clients, "seconds": round(elapsed, 1), "requests": answered + sum(errors.values()),
            "errors": sum(errors.values()), "error_kinds": dict(errors), "requests_per_s": round(answered / elapsed, 1),
            **{route.strip("/"): {"n": len(ms), **percentiles(ms), "max": round(max(ms), 1) if ms else None}
               for route, ms in latencies.items()}}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--fer", default=str(DEFAULT_FER))
    args = parser.parse_args()
    env = prepare(Path(args.fer))
    test = read_fer2013(args.fer).split(REPORT)
    frame, _ = compose([test.images[0], test.images[7]], [(165, 240), (475, 240)])
    jpeg = cv2.imencode(".jpg", frame)[1].tobytes()
    server = Server(env)
    server.start()
    rss, stop = [], threading.Event()

    def sample() -> None:
        while not stop.is_set():
            rss.append(tree_rss_mb(server.proc.pid))
            time.sleep(0.25)

    try:
        for _ in range(5):  # warm
            httpx.post(f"{server.url}/predict", json=body(test.images[:1]), timeout=30).raise_for_status()
        baseline = tree_rss_mb(server.proc.pid)
        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        result = asyncio.run(sustained(server.url, test.images, jpeg, args.clients, args.seconds))
        stop.set()
        sampler.join()
        ready = httpx.get(f"{server.url}/readyz", timeout=10).status_code
        result["rss_mb"] = {"baseline": round(baseline), "peak": round(max(rss)),
                            "after": round(tree_rss_mb(server.proc.pid)),
                            "every_10_s": [round(v) for v in rss[::40]]}  # sampled every 0.25 s: flat = bounded
        result["readyz_after"] = ready
    finally:
        server.stop()
    write_result("reliability_load", result)
    print(result)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
