"""OverloadGuard, the ASGI middleware in front of the service: beyond the limit a quick 503 with Retry-After."""

import asyncio

import httpx

from fer_platform.serving.overload import OverloadGuard


def test_requests_beyond_the_limit_get_503_with_retry_after_at_once():
    release = asyncio.Event()

    async def slow_app(scope, receive, send):
        if scope["path"] == "/predict":
            await release.wait()
        status = 503 if scope["path"] == "/busy" else 200
        await send({"type": "http.response.start", "status": status, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    app = OverloadGuard(slow_app, limit=2, paths=("/predict", "/busy"))

    async def scenario():
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            held = [asyncio.create_task(client.post("/predict")) for _ in range(2)]
            while app.in_flight < 2:
                await asyncio.sleep(0.001)
            refused = await asyncio.wait_for(client.post("/predict"), timeout=1)  # not queued behind the two
            health = await client.get("/livez")  # other routes are never refused
            release.set()
            answered = await asyncio.gather(*held)
            busy = await client.post("/busy")  # a 503 from the service itself also says when to retry
            return refused, health, answered, busy

    refused, health, answered, busy = asyncio.run(scenario())
    assert refused.status_code == 503 and refused.headers["retry-after"] == "1"
    assert "overloaded" in refused.json()["error"]
    assert health.status_code == 200
    assert [r.status_code for r in answered] == [200, 200] and app.in_flight == 0
    assert busy.status_code == 503 and busy.headers["retry-after"] == "1"
