"""ASGI middlewares in front of the API, so a request is judged before BentoML parses its body.

OverloadGuard: answer 503 with Retry-After at once instead of queuing without bound (a queued request is a
late one: a camera client has a newer frame by then). Requests to the model-bound routes beyond `limit` in
flight are refused before their body is read, and every 503 leaving the service (also the adaptive batcher's
"process is overloaded") carries `Retry-After`, so clients back off instead of retrying at once.

TokenGuard: with FER_API_TOKEN set, every route but the probes (and `open_paths`) needs that bearer token.

BodyGuard: each route gets only the body kind it takes, named by its Content-Type (a multipart form sent to a
JSON route made BentoML fail with a 500; a body without a Content-Type is refused too), and at most
`max_bytes`, counted as the body streams in (no Content-Length needed), within `timeout_s` (a client that
stalls mid-body gets a 408 instead of holding a request slot). The body is read in full here and handed on as
one message, so these answers never depend on how BentoML handles an error raised while it reads; a multipart
form is checked for its shape first (serving.forms), and a JSON body for nesting the parser cannot take and
for fields the route does not take (serving.json_body).
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

import anyio

from fer_platform.serving.forms import form_problem
from fer_platform.serving.json_body import json_body_problem

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
        await respond(send, 503, f"overloaded: {self.limit} requests in flight; retry after {self.retry_after} s",
                      [(b"retry-after", self.retry_after.encode())])


class BodyGuard:
    """`routes` maps a path to the content type it takes (e.g. "application/json", "multipart/form-data");
    `file_fields` maps a multipart path to the one file part it takes; `json_fields` a JSON path to the fields
    it takes."""

    def __init__(self, app, routes: dict[str, str], max_bytes: int, timeout_s: float = 10.0,
                 file_fields: dict[str, str] | None = None, json_fields: dict[str, Iterable[str]] | None = None):
        self.app, self.routes, self.max_bytes, self.timeout_s = app, routes, max_bytes, timeout_s
        self.file_fields = file_fields or {}
        self.json_fields = {path: tuple(fields) for path, fields in (json_fields or {}).items()}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        expected = self.routes.get(scope["path"]) if scope["type"] == "http" else None
        if expected is None or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        kind = headers.get("content-type", "").split(";")[0].strip().lower()
        if kind != expected:  # a missing type too: the body would reach BentoML unjudged
            what = f", not {kind}" if kind else "; the request has no Content-Type"
            await respond(send, 415, f"{scope['path']} takes {expected}{what}")
            return
        declared = headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self.max_bytes:
            await respond(send, 413, f"request body is {declared} bytes; the limit is {self.max_bytes}")
            return
        try:
            with anyio.fail_after(self.timeout_s):
                body = await self._read_body(receive)
        except TimeoutError:
            await respond(send, 408, f"the request body did not arrive within {self.timeout_s:g} s")
            return
        except _TooLarge:
            await respond(send, 413, f"request body is over the limit of {self.max_bytes} bytes")
            return
        except _Disconnected:
            return
        field = self.file_fields.get(scope["path"])
        if field and kind == "multipart/form-data":
            problem = await form_problem(scope, body, field)
            if problem:
                await respond(send, 400, problem)
                return
        fields = self.json_fields.get(scope["path"])
        if fields is not None and kind == "application/json":
            # Parsed here, on the loop: json.loads holds the GIL, so a thread would not free it; the parse is
            # bounded by max_bytes (an 8 MB body: ~0.3 s), and BentoML parses the same body next anyway.
            problem = json_body_problem(scope["path"], body, fields)
            if problem:
                await respond(send, *problem)
                return
        await self.app(scope, _replay(body, receive), send)

    async def _read_body(self, receive: Receive) -> bytes:
        chunks, seen = [], 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise _Disconnected
            chunk = message.get("body", b"")
            seen += len(chunk)
            if seen > self.max_bytes:
                raise _TooLarge
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)


class _TooLarge(Exception):
    pass


class _Disconnected(Exception):
    pass


def _replay(body: bytes, receive: Receive) -> Receive:
    """The body as one message, then whatever the client sends next (a disconnect)."""
    sent = False

    async def replayed() -> dict[str, Any]:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replayed


class TokenGuard:
    """Optional bearer-token authentication: when a token is configured (FER_API_TOKEN), every route but the
    health and metrics probes needs `Authorization: Bearer <token>`. The token is compared in constant time and
    never logged or echoed."""

    OPEN_PATHS = frozenset({"/livez", "/readyz", "/healthz", "/metrics"})

    def __init__(self, app, token: str, open_paths: Iterable[str] = ()):
        self.app, self.token = app, token.encode()
        self.open_paths = self.OPEN_PATHS | frozenset(open_paths)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # Not a WebSocket either: a browser cannot send this header there, so such a route checks its own token.
        if scope["type"] != "http" or not self.token or scope["path"] in self.open_paths:
            await self.app(scope, receive, send)
            return
        given = dict(scope.get("headers", [])).get(b"authorization", b"")
        scheme, _, credential = given.partition(b" ")
        if scheme.lower() != b"bearer" or not hmac.compare_digest(credential.strip(), self.token):
            await respond(send, 401, "missing or wrong bearer token (send Authorization: Bearer <token>)",
                          [(b"www-authenticate", b"Bearer")])
            return
        await self.app(scope, receive, send)


async def respond(send: Send, status: int, error: str, headers: list[tuple[bytes, bytes]] = ()) -> None:
    """A JSON error response {"error": ...} (the shape of every error this service sends)."""
    body = json.dumps({"error": error}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            *headers]})
    await send({"type": "http.response.body", "body": body})


def rewriting_send(send: Send, hold: Callable[[dict[str, Any]], bool],
                   rewrite: Callable[[dict[str, Any], bytes], tuple[bytes, bytes | None]]) -> Send:
    """A `send` that holds a response whose start message `hold` accepts until its whole body is in, then sends
    `rewrite(start, body)` -> (new body, new content type or None to keep it) with a matching Content-Length.
    Other responses pass untouched (ErrorShape and OpenAPIInfo rewrite responses this way)."""
    start: dict[str, Any] | None = None
    body = b""

    async def wrapped(message: dict[str, Any]) -> None:
        nonlocal start, body
        if message["type"] == "http.response.start" and hold(message):
            start = message
            return
        if start is None or message["type"] != "http.response.body":
            await send(message)
            return
        body += message.get("body", b"")
        if message.get("more_body", False):
            return
        new_body, content_type = rewrite(start, body)
        dropped = (b"content-length", b"content-type") if content_type else (b"content-length",)
        headers = [(k, v) for k, v in start.get("headers", []) if k.lower() not in dropped]
        if content_type:
            headers.append((b"content-type", content_type))
        await send({**start, "headers": [*headers, (b"content-length", str(len(new_body)).encode())]})
        await send({"type": "http.response.body", "body": new_body})

    return wrapped
