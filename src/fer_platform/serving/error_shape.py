"""One shape for every error the service sends: `{"error": "<what is wrong>", "status": <code>}`.

BentoML answers in three shapes of its own: a list `[{"error": ...}]` for an exception raised by an API, a
pydantic report `{"error": "1 validation error for Input", "detail": [...]}` for a body that does not match
the API's signature, and plain text for an unknown route or method. A client (and a person reading it) should
need one parser and get the actual reason, so error responses are rewritten here; successes pass untouched.
"""

from __future__ import annotations

import json
from http import HTTPStatus
from typing import Any

from fer_platform.serving.guards import rewriting_send


class ErrorShape:
    def __init__(self, app):
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        await self.app(scope, receive, rewriting_send(
            send, hold=lambda start: start["status"] >= 400,
            rewrite=lambda start, body: (json.dumps(_shaped(scope, start, body)).encode(), b"application/json")))


def _shaped(scope: dict[str, Any], start: dict[str, Any], body: bytes) -> dict[str, Any]:
    shaped = error_body(start["status"], body)
    if start["status"] == 405:  # say what would work: Starlette's bare "Method Not Allowed" does not
        allowed = dict(start.get("headers", [])).get(b"allow", b"").decode("latin-1")
        shaped["error"] = f"method not allowed: {scope['method']} {scope['path']}" + (
            f"; use {allowed}" if allowed else "")
    return shaped


def error_body(status: int, body: bytes) -> dict[str, Any]:
    """{"error": message, "status": status} from whatever error body BentoML, Starlette or a guard produced."""
    try:
        data = json.loads(body)
    except ValueError:
        text = body.decode("utf-8", "replace").strip()
        return {"error": text or _phrase(status), "status": status}
    if isinstance(data, list) and len(data) == 1:
        data = data[0]
    message = None
    if isinstance(data, dict):
        detail = data.get("detail")
        if isinstance(detail, list) and detail and all(isinstance(d, dict) for d in detail):
            message = "; ".join(_validation_message(d) for d in detail)
        elif isinstance(data.get("error"), str):
            message = data["error"]
    return {"error": message or _phrase(status), "status": status}


def _validation_message(detail: dict) -> str:
    where = ".".join(str(part) for part in detail.get("loc", ())) or "request body"
    return f"{where}: {detail.get('msg', 'invalid')}"


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "error"
