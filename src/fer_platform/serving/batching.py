"""Greedy batching: one inference call at a time, and the requests that arrived while it ran are merged into the
next call. It never waits for more requests, so a lone request pays nothing for it (BentoML's adaptive batcher
waits to fill a batch, which cost a 4-face request ~190 ms here) while a burst costs fewer, larger calls (ONNX
Runtime on one thread: 98 faces/s one at a time, 111 in batches, bench/model_ceiling.py)."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable

import anyio
import numpy as np


class GreedyBatcher:
    def __init__(self, predict: Callable[[np.ndarray], np.ndarray], max_faces: int):
        self.predict, self.max_faces = predict, max_faces
        self._waiting: deque[tuple[np.ndarray, asyncio.Future]] = deque()
        self._draining = False
        self._task: asyncio.Task | None = None  # a reference, so the running drain is not garbage-collected
        self.calls = 0  # inference calls made (for tests and metrics)

    async def __call__(self, faces: np.ndarray) -> np.ndarray:
        """(N, 48, 48) uint8 -> (N, 7) probabilities, computed in a worker thread (the event loop stays free)."""
        future = asyncio.get_running_loop().create_future()
        self._waiting.append((faces, future))
        if not self._draining:
            self._draining = True
            self._task = asyncio.create_task(self._drain())
        return await future

    async def _drain(self) -> None:
        try:
            while self._waiting:
                batch = self._next_batch()
                try:
                    probs = await anyio.to_thread.run_sync(self.predict, np.concatenate([f for f, _ in batch]))
                except Exception as err:  # noqa: BLE001 - every caller of this call gets the error
                    for _, future in batch:
                        if not future.done():
                            future.set_exception(err)
                    continue
                finally:
                    self.calls += 1
                start = 0
                for faces, future in batch:
                    if not future.done():  # a caller that went away (cancelled) needs no answer
                        future.set_result(probs[start:start + len(faces)])
                    start += len(faces)
        finally:
            self._draining = False

    def _next_batch(self) -> list[tuple[np.ndarray, asyncio.Future]]:
        """Waiting requests in arrival order, up to max_faces faces (always at least one request)."""
        batch = [self._waiting.popleft()]
        total = len(batch[0][0])
        while self._waiting and total + len(self._waiting[0][0]) <= self.max_faces:
            batch.append(self._waiting.popleft())
            total += len(batch[-1][0])
        return batch
