"""Overload protection in front of the API: answer 503 with Retry-After at once instead of queuing without
bound (a queued request is a late one: a camera client has a newer frame by then).

An ASGI middleware, so it costs nothing per request but a counter: requests to the model-bound routes beyond
`limit` in flight are refused before their body is read. Every 503 leaving the service (also the adaptive
batcher's "process is overloaded") carries `Retry-After`, so clients back off instead of retrying at once.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]


class OverloadGuard:
    def __init__(self, app, limit: int, paths: Iterable[str], retry_after_s: int = 1):
        self.app, self.limit, self.paths, self.retry_after = app, limit, frozenset(paths), str(retry_after_s)
        self.in_flight = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] not in self.paths:
            await self.app(scope, receive, send)
            return
        if self.in_flight >= self.limit:
            await self._refuse(send)
            return
        self.in_flight += 1
        try:
            await self.app(scope, receive, self._with_retry_after(send))
        finally:
            self.in_flight -= 1

    def _with_retry_after(self, send: Send) -> Send:
        async def wrapped(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start" and message["status"] == 503:
                message = {**message, "headers": [*message.get("headers", []),
                                                  (b"retry-after", self.retry_after.encode())]}
            await send(message)

        return wrapped

    async def _refuse(self, send: Send) -> None:
        body = json.dumps({"error": f"overloaded: {self.limit} requests in flight; retry after "
                                    f"{self.retry_after} s"}).encode()
        await send({"type": "http.response.start", "status": 503,
                    "headers": [(b"content-type", b"application/json"), (b"retry-after", self.retry_after.encode()),
                                (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})
