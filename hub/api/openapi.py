"""What the API's description says of the signed envelopes its POST routes take.

Those routes read their bodies themselves (bounded in size before anything is parsed), so
FastAPI cannot describe them from a model: the request body and the refusals are declared."""

from __future__ import annotations

from typing import Any

ENVELOPE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["payloadType", "payload", "signatures"],
    "properties": {
        "payloadType": {"type": "string"},
        "payload": {"type": "string", "description": "base64 of the signed JSON"},
        "signatures": {"type": "array", "minItems": 1, "items": {
            "type": "object", "required": ["keyid", "sig"],
            "properties": {"keyid": {"type": "string"}, "sig": {"type": "string"}}}},
    },
}
ENVELOPE_BODY = {"requestBody": {"required": True, "content": {
    "application/json": {"schema": ENVELOPE_SCHEMA}}}}
REFUSALS: dict[int | str, dict[str, Any]] = {
    400: {"description": "malformed JSON or envelope"},
    403: {"description": "unknown, revoked or retired key, or a signature that does not verify"},
    413: {"description": "body over 16 MiB"},
    422: {"description": "not a document of the expected schema"},
}
