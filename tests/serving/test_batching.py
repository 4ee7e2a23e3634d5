"""GreedyBatcher: one inference call at a time; what queued meanwhile is merged; each caller gets its own rows."""

import asyncio
import threading
import time

import numpy as np
import pytest

from fer_platform.serving.batching import GreedyBatcher


def _model(calls: list[int], seconds: float = 0.02):
    """A stand-in for ONNX Runtime with the same contract: row i's answer depends only on face i."""
    lock = threading.Lock()

    def predict(faces: np.ndarray) -> np.ndarray:
        with lock:  # one call at a time, or the batcher broke its promise
            calls.append(len(faces))
            time.sleep(seconds)
            return np.repeat(faces.reshape(len(faces), -1)[:, :1].astype(np.float32), 7, axis=1)
    return predict


def _faces(value: int, n: int = 1) -> np.ndarray:
    return np.full((n, 48, 48), value, np.uint8)


def test_a_burst_is_merged_into_few_calls_and_each_caller_gets_its_own_rows():
    calls: list[int] = []
    batcher = GreedyBatcher(_model(calls), max_faces=64)

    async def burst():
        return await asyncio.gather(*(batcher(_faces(i, n=1 + i % 3)) for i in range(20)))

    results = asyncio.run(burst())
    for i, probs in enumerate(results):
        assert probs.shape == (1 + i % 3, 7) and (probs == i).all()
    assert sum(calls) == sum(1 + i % 3 for i in range(20)) and len(calls) < 20 and max(calls) <= 64


def test_a_lone_request_is_one_call_without_waiting():
    calls: list[int] = []
    batcher = GreedyBatcher(_model(calls, seconds=0.0), max_faces=64)
    began = time.perf_counter()
    assert (asyncio.run(batcher(_faces(5))) == 5).all()
    assert calls == [1] and time.perf_counter() - began < 0.5


def test_an_error_reaches_every_caller_of_that_call_and_the_next_call_still_runs():
    state = {"fail": True}

    def flaky(faces):
        time.sleep(0.01)
        if state.pop("fail", False):
            raise RuntimeError("inference failed")
        return np.zeros((len(faces), 7), np.float32)

    batcher = GreedyBatcher(flaky, max_faces=8)

    async def scenario():
        first = await asyncio.gather(*(batcher(_faces(1)) for _ in range(3)), return_exceptions=True)
        later = await batcher(_faces(2))
        return first, later

    first, later = asyncio.run(scenario())
    assert any(isinstance(r, RuntimeError) for r in first) and later.shape == (1, 7)


def test_a_caller_that_goes_away_does_not_break_the_others():
    calls: list[int] = []
    batcher = GreedyBatcher(_model(calls, seconds=0.05), max_faces=64)

    async def scenario():
        running = asyncio.create_task(batcher(_faces(1)))
        await asyncio.sleep(0.01)
        gone = asyncio.create_task(batcher(_faces(2)))
        kept = asyncio.create_task(batcher(_faces(3)))
        await asyncio.sleep(0.01)
        gone.cancel()
        with pytest.raises(asyncio.CancelledError):
            await gone
        return await running, await kept

    first, kept = asyncio.run(scenario())
    assert (first == 1).all() and (kept == 3).all()
