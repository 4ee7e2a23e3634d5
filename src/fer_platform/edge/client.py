"""HTTP client for the service's /predict: pipelined requests, and backoff while the service is down.

A 4xx other than 408/429 is this side's mistake (a wrong token, a request over the service's limits): sending
again cannot fix it, so it is not backed off from but kept in `refused` for fer-edge to name and end the run.
"""

from __future__ import annotations

import sys
import time
from concurrent.futures import Future, ThreadPoolExecutor

import httpx
import numpy as np

from fer_platform.service_client import ServiceHTTP, error_text, probabilities


class ServiceUnavailable(RuntimeError):
    """The service could not be reached or answered with an error; the frame stays unclassified."""


RETRY_LATER = frozenset({408, 429})  # the 4xx answers that mean "try again later"


class RequestRefused(RuntimeError):
    """The service refused the request (a 4xx other than 408/429): sending it again cannot help."""

    def __init__(self, status: int, error: str):
        super().__init__(f"HTTP {status}: {error}")
        self.status, self.error = status, error


class PredictClient:
    def __init__(self, url: str, timeout: float = 5.0, max_in_flight: int = 4,
                 backoff_initial: float = 0.25, backoff_max: float = 4.0, token: str | None = None):
        self.service = ServiceHTTP(url, token, timeout)
        self.url = self.service.url
        self.pool = ThreadPoolExecutor(max_workers=max_in_flight, thread_name_prefix="fer-edge-http")
        self.backoff_initial, self.backoff_max = backoff_initial, backoff_max
        self._backoff = 0.0
        self._retry_at = 0.0
        self.failures = 0
        self.refused: RequestRefused | None = None  # the first refusal

    def submit(self, crops: np.ndarray) -> Future:
        """Send (N, 48, 48) uint8 crops in one request without blocking the caller."""
        if time.monotonic() < self._retry_at:  # backing off: do not hammer a service that is down
            failed: Future = Future()
            failed.set_exception(ServiceUnavailable("backing off after a failed request"))
            return failed
        return self.pool.submit(self._predict, np.ascontiguousarray(crops, dtype=np.uint8))

    def _predict(self, crops: np.ndarray) -> np.ndarray:
        try:
            response = self.service.predict(crops)
        except httpx.HTTPError as err:
            self._failed(f"{type(err).__name__}: {err}")
            raise ServiceUnavailable(str(err)) from None
        status = response.status_code
        if 400 <= status < 500 and status not in RETRY_LATER:
            self.failures += 1
            refused = RequestRefused(status, error_text(response))
            self.refused = self.refused or refused
            raise refused
        if status != 200:
            self._failed(f"HTTP {status}: {response.text[:200]}")
            raise ServiceUnavailable(f"HTTP {status}")
        try:
            answer = probabilities(response.json(), len(crops))
        except (ValueError, KeyError, TypeError) as err:  # a 200 that is not the answer is still a failure
            self._failed(f"malformed response: {err}")
            raise ServiceUnavailable(f"malformed response: {err}") from None
        if self._backoff:
            print(f"fer-edge: service at {self.url} is back", file=sys.stderr)
        self._backoff = 0.0
        return answer

    def _failed(self, why: str) -> None:
        self.failures += 1
        self._backoff = min(self.backoff_max, self._backoff * 2 if self._backoff else self.backoff_initial)
        self._retry_at = time.monotonic() + self._backoff
        print(f"fer-edge: service unavailable ({why}); retrying in {self._backoff:.2f}s", file=sys.stderr)

    def close(self) -> None:
        self.pool.shutdown(wait=True)
        self.service.close()
