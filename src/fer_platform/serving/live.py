"""The live page, served by the service itself: GET /live (the page, its script and its style, files of this
package: no CDN, no build step, so it works offline) and the WebSocket /live/ws it talks to.

Why a WebSocket with per-connection state rather than /detect with tracking in the browser: the tracking and
smoothing `fer-edge` uses (fer_platform.streams) then serve the page unchanged instead of being rewritten in
JavaScript, the search can look near each face's last place (fer-edge's faster search, which needs that
state), and a frame stays in memory (BentoML writes each /detect upload to a temporary file). Measured on
320x240 frames: bench/live_page.py and docs/live.md.

Security, since a browser does not apply CORS to WebSockets and cannot send an Authorization header on one:
- Origin: a browser's connection is taken only from a page of this service's own origin (another site's page
  could otherwise use a visitor's access); a client that sends no Origin (not a browser) is taken.
- Token: with FER_API_TOKEN set, the first message must be {"token": "<it>"}, within body_timeout_s; else the
  socket is closed with code 4401. The token never travels in a URL and is never logged or echoed.
- At most `max_in_flight` live views (each has at most one frame in flight, so this bounds the frames waiting
  here as OverloadGuard bounds requests); one more is refused with code 1013 (try again later). A place is
  taken once the token is right; connections still to send it have a pool of `max_in_flight` of their own.
- A view that sends nothing for `idle_s` (a tab left open with the camera off) is closed with code 4408, so
  it does not hold one of those places for ever; the page says so and connects again on request.
- The first message is parsed only when it is short (FIRST_MESSAGE_MAX): a deeply nested one would raise
  RecursionError in json.loads and a long one would hold the event loop, from a client not yet authorised.
"""

from __future__ import annotations

import hmac
import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import anyio
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from fer_platform.config import ServeSettings
from fer_platform.contract import SMOOTHING_WINDOW
from fer_platform.labels import EMOTION_COLOURS, EMOTIONS
from fer_platform.serving.errors import RequestError
from fer_platform.serving.live_session import LIVE_ROUTE, LiveSession

PAGE_DIR = Path(__file__).with_name("live_page")
PAGE_FILES = {"/live": ("index.html", "text/html; charset=utf-8"),
              "/live/live.js": ("live.js", "text/javascript; charset=utf-8"),
              "/live/draw.js": ("draw.js", "text/javascript; charset=utf-8"),
              "/live/live.css": ("live.css", "text/css; charset=utf-8")}
SOCKET_PATH = LIVE_ROUTE
# The page loads only its own files and talks only to its own origin; nothing may frame it (clickjacking).
SECURITY_HEADERS = {
    "content-security-policy": "default-src 'self'; img-src 'self' blob: data:; media-src 'self' blob: "
                               "mediastream:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; "
                               "form-action 'none'",
    "x-content-type-options": "nosniff", "referrer-policy": "no-referrer", "cache-control": "no-cache"}
UNAUTHORIZED, TRY_AGAIN_LATER, POLICY_VIOLATION, IDLE = 4401, 1013, 1008, 4408
IDLE_S = 120.0  # a view without frames for this long is closed
FIRST_MESSAGE_MAX = 4096  # characters: {"token": ...} is far shorter
COLOURS = {label: "#{:02x}{:02x}{:02x}".format(*rgb) for label, rgb in EMOTION_COLOURS.items()}  # CSS
log = logging.getLogger(__name__)


def live_app(service: Callable[[], Any], limits: ServeSettings, token: str = "",
             window: int = SMOOTHING_WINDOW, idle_s: float = IDLE_S) -> Starlette:
    """`service()` is the FerService instance (looked up per connection: it exists once BentoML started)."""
    # Two pools of max_in_flight places: connections still to send their token (each for at most
    # body_timeout_s), and views. A place among the views is taken only once authorised, so clients without
    # the token cannot hold the views' places by reconnecting.
    places = {"waiting": 0, "views": 0}

    async def page(request: Request) -> Response:
        name, media_type = PAGE_FILES[request.url.path]
        return FileResponse(PAGE_DIR / name, media_type=media_type, headers=SECURITY_HEADERS)

    async def refuse_if_full(ws: WebSocket, pool: str) -> bool:
        if places[pool] < limits.max_in_flight:
            return False
        await ws.close(TRY_AGAIN_LATER, f"{limits.max_in_flight} live views are open; try again later")
        return True

    async def socket(ws: WebSocket) -> None:
        if not same_origin(ws.headers.get("origin"), ws.headers.get("host", "")):
            await ws.close(POLICY_VIOLATION)  # before accepting: the browser gets a 403 to the handshake
            return
        await ws.accept()
        if await refuse_if_full(ws, "waiting"):
            return
        places["waiting"] += 1
        try:
            authorised = await _authorised(ws, token, limits.body_timeout_s)
        except WebSocketDisconnect:
            return
        finally:
            places["waiting"] -= 1
        if not authorised:
            await ws.close(UNAUTHORIZED, "missing or wrong token")
            return
        if await refuse_if_full(ws, "views"):
            return
        places["views"] += 1
        try:
            await ws.send_json({"type": "ready", "labels": list(EMOTIONS), "window": window,
                                "colours": COLOURS, "max_bytes": limits.max_request_bytes,
                                "max_side": limits.max_image_side})
            await _serve(ws, LiveSession(service(), limits, window), idle_s)
        except WebSocketDisconnect:
            pass
        finally:
            places["views"] -= 1

    return Starlette(routes=[*(Route(path, page) for path in PAGE_FILES),
                             WebSocketRoute(SOCKET_PATH, socket)])


def same_origin(origin: str | None, host: str) -> bool:
    """True for no Origin (not a browser), or an Origin whose host[:port] is the Host the request went to."""
    if origin is None:
        return True
    return bool(host) and urlsplit(origin).netloc.lower() == host.lower()


async def _authorised(ws: WebSocket, token: str, timeout_s: float) -> bool:
    """The first message is {"token": ...} (empty when the page was given none); compared in constant time."""
    try:
        with anyio.fail_after(timeout_s):
            first = await ws.receive_text()
        if len(first) > FIRST_MESSAGE_MAX:
            return False
        given = json.loads(first).get("token", "")
    except (TimeoutError, ValueError, AttributeError, KeyError, RecursionError):
        return False
    if not token:
        return True
    return isinstance(given, str) and hmac.compare_digest(given.encode(), token.encode())


async def _serve(ws: WebSocket, session: LiveSession, idle_s: float) -> None:
    """Answer each message in turn until the page goes away; a bad image gets an error answer, not a close."""
    while True:
        with anyio.move_on_after(idle_s) as waiting:
            message = await ws.receive()
        if waiting.cancelled_caught:
            await ws.close(IDLE, f"no frame for {idle_s:g} s")
            return
        if message["type"] == "websocket.disconnect":
            return
        data = message.get("bytes")
        try:
            if data is None:
                raise RequestError(400, "send images as binary messages (F or P, then the JPEG or PNG bytes)")
            answer = await session.answer(data)
        except RequestError as err:
            answer = {"type": "error", "status": int(err.status), "error": str(err)}
        except Exception:  # one failed frame must not end the view; the page shows it
            log.exception("live frame failed")
            answer = {"type": "error", "status": 500, "error": "the service failed on this image"}
        await ws.send_json(answer)
