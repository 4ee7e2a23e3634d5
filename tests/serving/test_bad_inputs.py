"""The bad-input catalogue (tests/serving/bad_inputs.py) against a real `bentoml serve`: every case gets its
4xx in the service's one error shape, a good request is answered after each, and the service's memory stays
bounded over the whole catalogue (its process tree's RSS, sampled throughout)."""

from __future__ import annotations

import threading
import time

import httpx
import psutil
import pytest

from tests.conftest import REPO
from tests.serving.bad_inputs import CATALOGUE, check, run_case

pytestmark = pytest.mark.slow

MAX_PEAK_GROWTH_MB = 150  # a decoded 16384^2 bomb alone would be 268 MB
MAX_FINAL_GROWTH_MB = 60


def tree_rss_mb(pid: int) -> float:
    proc = psutil.Process(pid)
    total = 0
    for p in [proc, *proc.children(recursive=True)]:
        try:
            total += p.memory_info().rss
        except psutil.NoSuchProcess:
            pass
    return total / 2**20


def test_the_catalogue_has_at_least_40_cases_on_every_route():
    assert len(CATALOGUE) >= 40 and len({c.name for c in CATALOGUE}) == len(CATALOGUE)
    assert {c.route for c in CATALOGUE} >= {"/predict", "/detect", "/info"}


def test_every_bad_input_gets_a_clear_4xx_and_memory_stays_bounded(release_server, small_dataset):
    faces = small_dataset.split("PrivateTest").images
    good = {"faces": faces[:2].tolist()}
    for _ in range(3):  # warm: first requests allocate the batcher's and ONNX Runtime's buffers
        assert httpx.post(f"{release_server.url}/predict", json=good, timeout=60).status_code == 200
    baseline = tree_rss_mb(release_server.proc.pid)
    peak, stop = [baseline], threading.Event()

    def sample():
        while not stop.is_set():
            peak.append(tree_rss_mb(release_server.proc.pid))
            time.sleep(0.05)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    problems, timings = [], {}
    try:
        for case in CATALOGUE:
            started = time.perf_counter()
            status, text = run_case(case, release_server.url, faces)
            timings[case.name] = time.perf_counter() - started
            problem = check(case, status, text)
            if problem:
                problems.append(problem)
            after = httpx.post(f"{release_server.url}/predict", json=good, timeout=60)
            if after.status_code != 200:
                problems.append(f"{case.name}: the next good request got HTTP {after.status_code}")
    finally:
        stop.set()
        sampler.join()
    final = tree_rss_mb(release_server.proc.pid)
    print(f"RSS baseline {baseline:.0f} MB, peak {max(peak):.0f} MB, after {final:.0f} MB over {len(CATALOGUE)} "
          f"cases; slowest: {sorted(timings.items(), key=lambda kv: -kv[1])[:3]}")
    assert not problems, "\n".join(problems)
    assert max(peak) - baseline <= MAX_PEAK_GROWTH_MB, (baseline, max(peak))
    assert final - baseline <= MAX_FINAL_GROWTH_MB, (baseline, final)
    assert httpx.get(f"{release_server.url}/readyz", timeout=10).status_code == 200


def test_reliability_md_lists_every_case():
    text = (REPO / "RELIABILITY.md").read_text()
    missing = [c.name for c in CATALOGUE if f"`{c.name}`" not in text]
    assert not missing, f"RELIABILITY.md does not list {missing}"
