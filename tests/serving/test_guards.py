"""The ASGI guards in front of the service: a quick 503 with Retry-After beyond the in-flight limit; only the
body kind a route takes, and no more than the byte limit."""

import asyncio

import httpx

from fer_platform.serving.guards import BodyGuard, OverloadGuard


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


def test_each_route_takes_only_its_body_kind_and_size():
    seen = []

    async def app(scope, receive, send):
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        seen.append((scope["path"], len(body)))
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    guard = BodyGuard(app, routes={"/predict": "application/json", "/detect": "multipart/form-data"}, max_bytes=1000,
                      file_fields={"/detect": "image"})

    async def chunks(n: int, size: int):
        for _ in range(n):
            yield b"x" * size

    async def scenario():
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=guard), base_url="http://test") as client:
            return [
                await client.post("/predict", json={"faces": []}),
                await client.post("/predict", files={"image": ("x.jpg", b"\xff\xd8", "image/jpeg")}),
                await client.post("/detect", json={"image": "http://example.invalid/x.jpg"}),
                await client.post("/detect", files={"image": ("x.jpg", b"\xff\xd8", "image/jpeg")}),
                await client.post("/predict", content=b"x" * 2000, headers={"content-type": "application/json"}),
                await client.post("/predict", content=chunks(5, 300), headers={"content-type": "application/json"}),
                await client.get("/livez"),
                await client.post("/detect", files={"x": ("a.txt", b"x", "text/plain")},
                                  data={"image": "http://example.invalid/x.jpg"}),
            ]

    ok, multipart_to_json, json_to_upload, upload, declared_big, streamed_big, other, url_field = \
        asyncio.run(scenario())
    assert ok.status_code == 200 and upload.status_code == 200 and other.status_code == 200
    assert multipart_to_json.status_code == 415 and "takes application/json" in multipart_to_json.json()["error"]
    assert json_to_upload.status_code == 415 and "multipart/form-data" in json_to_upload.json()["error"]
    assert declared_big.status_code == 413 and "limit is 1000" in declared_big.json()["error"]
    assert streamed_big.status_code == 413  # no Content-Length: counted as it streams
    assert url_field.status_code == 400 and "not a text field" in url_field.json()["error"]
    assert [path for path, _ in seen] == ["/predict", "/detect", "/livez"]  # nothing refused reached the app


def test_a_stalled_body_gets_a_408_and_errors_get_one_shape():
    from fer_platform.serving.error_shape import ErrorShape, error_body

    async def app(scope, receive, send):
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    guard = ErrorShape(BodyGuard(app, routes={"/predict": "application/json"}, max_bytes=1000, timeout_s=0.3))
    messages = iter([{"type": "http.request", "body": b"{", "more_body": True}])

    async def stalled_receive():
        try:
            return next(messages)
        except StopIteration:
            await asyncio.sleep(60)  # the client never sends the rest

    sent = []

    async def send(message):
        sent.append(message)

    scope = {"type": "http", "method": "POST", "path": "/predict", "headers": [(b"content-type", b"application/json")]}
    asyncio.run(asyncio.wait_for(guard(scope, stalled_receive, send), 5))
    assert sent[0]["status"] == 408 and b"did not arrive within 0.3 s" in sent[1]["body"]
    assert error_body(400, b'[{"error": "faces is empty"}]') == {"error": "faces is empty", "status": 400}
    assert error_body(404, b"Not Found") == {"error": "Not Found", "status": 404}
    assert error_body(400, b'{"error": "1 validation error for Input", "detail": [{"loc": ["faces"], '
                           b'"msg": "Input should be a valid array"}]}')["error"] == "faces: Input should be a valid array"


def test_with_a_token_every_route_but_the_probes_needs_it():
    from fer_platform.serving.guards import TokenGuard

    async def app(scope, receive, send):
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    async def scenario(guard):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=guard), base_url="http://test") as client:
            return {
                "none": (await client.post("/predict")).status_code,
                "wrong": (await client.post("/predict", headers={"authorization": "Bearer nope"})).status_code,
                "basic": (await client.post("/info", headers={"authorization": "Basic s3cret"})).status_code,
                "right": (await client.post("/predict", headers={"authorization": "Bearer s3cret"})).status_code,
                "probe": (await client.get("/readyz")).status_code,
                "body": (await client.post("/detect")).text,
            }

    locked = asyncio.run(scenario(TokenGuard(app, token="s3cret")))
    assert locked["none"] == locked["wrong"] == locked["basic"] == 401
    assert locked["right"] == 200 and locked["probe"] == 200
    assert "s3cret" not in locked["body"] and "bearer token" in locked["body"]
    assert set(asyncio.run(scenario(TokenGuard(app, token=""))).values()) <= {200, "ok"}  # no token: open


def _recording_app():
    """An ASGI app that answers 200 "ok" and records each path that reached it (past the guards)."""
    seen = []

    async def app(scope, receive, send):
        seen.append(scope["path"])
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    return seen, app


def test_a_typed_route_answers_a_request_without_content_type_with_415():
    """No Content-Type is not a pass: the body kind is unknown, so it never reaches BentoML (nor skips the form
    checks of a multipart route). The answer has the shape of every other guard error."""
    from fer_platform.serving.error_shape import ErrorShape

    seen, app = _recording_app()

    guard = ErrorShape(BodyGuard(app, routes={"/predict": "application/json", "/detect": "multipart/form-data"},
                                 max_bytes=1000, file_fields={"/detect": "image"}))
    form = b'--b\r\nContent-Disposition: form-data; name="image"\r\n\r\nfile:///etc/hostname\r\n--b--\r\n'

    async def scenario():
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=guard), base_url="http://test") as client:
            return [await client.post("/predict", content=b'{"faces": []}'),
                    await client.post("/detect", content=form),
                    await client.post("/predict", content=b""),
                    await client.post("/livez", content=b"")]  # an untyped route is not judged

    answers = asyncio.run(scenario())
    assert all("content-type" not in a.request.headers for a in answers)  # really absent
    predict, detect, empty, untyped = answers
    assert predict.status_code == detect.status_code == empty.status_code == 415
    assert predict.json() == {"error": "/predict takes application/json; the request has no Content-Type",
                              "status": 415}
    assert "takes multipart/form-data" in detect.json()["error"]
    assert untyped.status_code == 200 and seen == ["/livez"]


def test_a_json_field_the_route_does_not_take_is_named_not_dropped():
    """BentoML drops unknown fields without a word, so a misspelt `face_b64` got "send exactly one of ..." back:
    the guard names the field and the nearest one the route takes (422), and passes everything else on."""
    from fer_platform.serving.error_shape import ErrorShape

    seen, app = _recording_app()

    guard = ErrorShape(BodyGuard(app, routes={"/predict": "application/json", "/info": "application/json"},
                                 max_bytes=1000, json_fields={"/predict": ("faces", "faces_b64"), "/info": ()}))

    async def scenario():
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=guard), base_url="http://test") as client:
            return [await client.post(path, json=body) for path, body in [
                ("/predict", {"face_b64": "AAAA"}), ("/predict", {"faces_b64": "AAAA", "top_k": 2}),
                ("/info", {"verbose": True}), ("/predict", {"faces_b64": "AAAA"}), ("/info", {}),
                ("/predict", [1, 2])]]  # not an object: BentoML's own validation answers it

    misspelt, extra, info, good, empty, not_object = asyncio.run(scenario())
    assert misspelt.status_code == extra.status_code == info.status_code == 422
    assert misspelt.json()["error"] == ("/predict does not take `face_b64` (did you mean `faces_b64`?); "
                                        "it takes `faces` or `faces_b64`")
    assert "does not take `top_k`;" in extra.json()["error"]
    assert info.json()["error"] == "/info does not take `verbose`; it takes no fields (send {})"
    assert good.status_code == empty.status_code == not_object.status_code == 200
    assert seen == ["/predict", "/info", "/predict"]


def test_json_the_parser_cannot_take_is_a_400_and_many_unknown_fields_a_short_422():
    """A 200 KB `[[[...]]]` made json.loads raise RecursionError (a 500); 100,000 unknown keys made a 1 MB
    message, and now a short one."""
    import json

    from fer_platform.serving.error_shape import ErrorShape

    seen, app = _recording_app()
    guard = ErrorShape(BodyGuard(app, routes={"/predict": "application/json"}, max_bytes=8_000_000,
                                 json_fields={"/predict": ("faces", "faces_b64")}))
    many = json.dumps({f"key{i}": i for i in range(100_000)}).encode()

    async def scenario():
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=guard), base_url="http://test") as client:
            headers = {"content-type": "application/json"}
            return (await client.post("/predict", content=b"[" * 100_000 + b"]" * 100_000, headers=headers),
                    await client.post("/predict", content=many, headers=headers))

    nested, keys = asyncio.run(scenario())
    assert nested.status_code == 400 and nested.json()["error"] == "the JSON body of /predict is nested too deeply"
    assert keys.status_code == 422 and len(keys.text) < 300
    assert keys.json()["error"].startswith("/predict does not take `key0`, `key1`, `key2` and 99997 more;")
    assert seen == []
