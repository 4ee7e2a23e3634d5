"""What each route answers, for the OpenAPI document: the real response schemas (labels, faces, boxes) and the
error statuses the service and its guards send, all in the one error shape. BentoML declares every route as
200 `additionalProperties: true` plus 400/404/500, which is neither what comes back nor all that can."""

from __future__ import annotations

from typing import Any

from fer_platform.labels import EMOTIONS

ERROR = "Error"
SCHEMAS: dict[str, dict[str, Any]] = {
    ERROR: {"type": "object", "required": ["error", "status"], "additionalProperties": False,
            "properties": {"error": {"type": "string", "description": "what is wrong, and what to send instead"},
                           "status": {"type": "integer", "description": "the HTTP status again"}}},
    "Probabilities": {"type": "object", "required": list(EMOTIONS), "additionalProperties": False,
                      "properties": {e: {"type": "number", "minimum": 0, "maximum": 1} for e in EMOTIONS}},
    "Face": {"type": "object", "required": ["id", "label", "confidence", "probabilities"],
             "additionalProperties": False,
             "properties": {"id": {"$ref": "#/components/schemas/FaceId"},
                            "label": {"type": "string", "enum": list(EMOTIONS)},
                            "confidence": {"type": "number", "description": "the top label's probability"},
                            "probabilities": {"$ref": "#/components/schemas/Probabilities"}}},
    "FaceId": {"type": "string", "pattern": "^[0-9a-f]{16}$",
               "description": "this answer's face, for POST /feedback (its crop is kept only with "
                              "serve.feedback.keep_faces on)"},
    "Box": {"type": "object", "required": ["x", "y", "w", "h"], "additionalProperties": False,
            "description": "pixels in the uploaded photo, upright (EXIF orientation applied)",
            "properties": {k: {"type": "integer", "minimum": 0} for k in ("x", "y", "w", "h")}},
    "DetectedFace": {"type": "object", "required": ["id", "box", "label", "confidence", "probabilities"],
                     "additionalProperties": False,
                     "properties": {"id": {"$ref": "#/components/schemas/FaceId"},
                                    "box": {"$ref": "#/components/schemas/Box"},
                                    "label": {"type": "string", "enum": list(EMOTIONS)},
                                    "confidence": {"type": "number"},
                                    "probabilities": {"$ref": "#/components/schemas/Probabilities"}}},
    "Labels": {"type": "array", "items": {"type": "string", "enum": list(EMOTIONS)},
               "description": "every label, in the model's output order"},
    "PredictResponse": {"type": "object", "required": ["labels", "faces"], "additionalProperties": False,
                        "properties": {"labels": {"$ref": "#/components/schemas/Labels"},
                                       "faces": {"type": "array", "items": {"$ref": "#/components/schemas/Face"},
                                                 "description": "one per face sent, in order"}}},
    "DetectResponse": {"type": "object", "required": ["labels", "image", "faces"], "additionalProperties": False,
                       "properties": {
                           "labels": {"$ref": "#/components/schemas/Labels"},
                           "image": {"type": "object", "required": ["width", "height"], "additionalProperties": False,
                                     "properties": {"width": {"type": "integer"}, "height": {"type": "integer"}}},
                           "faces": {"type": "array", "items": {"$ref": "#/components/schemas/DetectedFace"}}}},
    "FeedbackResponse": {"type": "object", "required": ["face_id", "label", "stored"], "additionalProperties": False,
                         "properties": {"face_id": {"$ref": "#/components/schemas/FaceId"},
                                        "label": {"type": "string", "enum": list(EMOTIONS)},
                                        "stored": {"type": "string", "description": "the crop's file in the field "
                                                                                    "dataset (serve.feedback.dir)"}}},
    "InfoResponse": {"type": "object", "additionalProperties": True,  # plus the model's training metadata
                     "required": ["bento_model", "labels", "registered_model", "version", "alias", "metrics",
                                  "runtime", "limits"],
                     "properties": {"bento_model": {"type": "string"}, "labels": {"$ref": "#/components/schemas/Labels"},
                                    "registered_model": {"type": "string"}, "version": {"type": "string"},
                                    "alias": {"type": "string"}, "metrics": {"type": "object"},
                                    "runtime": {"type": "string"}, "limits": {"type": "object"}}},
}

_WHY = {400: "malformed request: bad JSON or base64, missing or both fields, a broken form or image",
        401: "FER_API_TOKEN is set on the server and the bearer token is missing or wrong",
        408: "the request body did not arrive in time",
        413: "too many faces, too many bytes, or too large an image",
        415: "the wrong Content-Type for this route (or none), or an image that is not a JPEG or PNG",
        404: "no kept face of that id (never kept, or past serve.feedback's retention or count)",
        409: "this service keeps no face crops (serve.feedback.keep_faces is off)",
        422: "well-formed but not valid: a field the route does not take, faces not 48x48 uint8, an unknown label",
        500: "a fault in the service (a bug: please report it)",
        503: "overloaded: retry after the Retry-After header's seconds"}
ROUTES: dict[str, tuple[str, tuple[int, ...]]] = {
    "/predict": ("PredictResponse", (400, 401, 408, 413, 415, 422, 500, 503)),
    "/detect": ("DetectResponse", (400, 401, 408, 413, 415, 500, 503)),
    "/info": ("InfoResponse", (400, 401, 408, 413, 415, 422, 500)),
    "/feedback": ("FeedbackResponse", (400, 401, 404, 408, 409, 413, 415, 422, 500)),
}


def responses(route: str) -> dict[str, Any]:
    """The `responses` object of a route's POST operation."""
    success, errors = ROUTES[route]
    out: dict[str, Any] = {"200": {"description": "OK", "content": {"application/json": {
        "schema": {"$ref": f"#/components/schemas/{success}"}}}}}
    for status in errors:
        out[str(status)] = {"description": _WHY[status], "content": {"application/json": {
            "schema": {"$ref": f"#/components/schemas/{ERROR}"}}}}
    return out
