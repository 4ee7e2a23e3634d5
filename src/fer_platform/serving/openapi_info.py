"""The OpenAPI document a user reads at `/` and `/docs.json`: a real title, the package and model versions, a
description, an example request per route, and what each route really answers (serving.api_schemas). BentoML
titles it with the service's Python name, version
"None" and its own boilerplate, and has no hook for this, so the document is rewritten on its way out."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from fer_platform.serving.api_schemas import ROUTES, SCHEMAS, responses
from fer_platform.serving.guards import rewriting_send

TITLE = "FER service: facial expression recognition"
DESCRIPTION = """Classifies facial expressions (angry, disgust, fear, happy, sad, surprise, neutral) of 48x48
grayscale face crops (`/predict`), or finds faces in a JPEG/PNG photo and classifies each (`/detect`). The model is
the registry's `champion`, exported to ONNX and parity-checked against Keras; `/info` says which version.

Errors are `{"error": "<what is wrong>", "status": <code>}`. With FER_API_TOKEN set on the server, send
`Authorization: Bearer <token>` (the probes and metrics stay open)."""

EXAMPLES: dict[str, dict[str, Any]] = {
    "/predict": {"application/json": {
        "base64": {"summary": "one face as base64 of 2304 raw bytes (48x48, row-major)",
                   "value": {"faces_b64": "gICAgICA" + "A" * 3064}},
        "nested lists": {"summary": "faces as nested lists (N, 48, 48) of 0..255 (one face here)",
                         "value": {"faces": [[[128] * 48] * 48]}}}},
    "/info": {"application/json": {"empty": {"summary": "no arguments", "value": {}}}},
}


class OpenAPIInfo:
    def __init__(self, app, versions: Callable[[], dict[str, str]]):
        self.app, self.versions = app, versions

    async def __call__(self, scope: dict[str, Any], receive, send) -> None:
        if scope["type"] != "http" or scope["path"] != "/docs.json":
            await self.app(scope, receive, send)
            return
        await self.app(scope, receive, rewriting_send(send, hold=lambda start: start["status"] == 200,
                                                      rewrite=self._rewrite))

    def _rewrite(self, start: dict[str, Any], body: bytes) -> tuple[bytes, None]:
        try:
            versions = self.versions()
        except Exception as err:  # noqa: BLE001 - the document must still go out
            versions = {"model": f"unknown ({type(err).__name__})"}
        return json.dumps(describe(json.loads(body), versions)).encode(), None


def describe(spec: dict[str, Any], versions: dict[str, str]) -> dict[str, Any]:
    """The spec with our title, version, description, examples and responses."""
    version = "; ".join(f"{k} {v}" for k, v in versions.items())
    spec["info"] = {**spec.get("info", {}), "title": TITLE, "version": version, "description": DESCRIPTION}
    spec["info"].pop("contact", None)
    for path in ROUTES:
        operation = spec.get("paths", {}).get(path, {}).get("post")
        if operation is not None:
            operation["responses"] = responses(path)
    spec.setdefault("components", {}).setdefault("schemas", {}).update(SCHEMAS)
    for unused in ("InvalidArgument", "NotFound", "InternalServerError"):  # BentoML's, now referenced nowhere
        spec["components"]["schemas"].pop(unused, None)
    for path, by_type in EXAMPLES.items():
        content = spec.get("paths", {}).get(path, {}).get("post", {}).get("requestBody", {}).get("content", {})
        for media, examples in by_type.items():
            if media in content:
                content[media]["examples"] = examples
    return spec
