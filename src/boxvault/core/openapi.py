"""OpenAPI post-processing: the error answers every endpoint can give, documented once for all.

Any request may be refused for its input (400), its credentials (401), its permissions (403), an id that is
not the caller's (404) or its rate (429), and every such answer is a JSON object with a `detail` sentence (or,
for a form's fields, one list of messages per field). Declared on each view by hand it would drift.
"""

from __future__ import annotations

from typing import Any

ERROR = {
    "type": "object",
    "description": "Why the request was refused: `detail`, or one list of messages per field.",
    "properties": {"detail": {"oneOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}]}},
    "additionalProperties": True,
}
REFUSALS = {
    "400": "The input is not valid: `detail` (or the field's messages) says why.",
    "401": "No valid API token (`Authorization: Token <key>`) or session.",
    "403": "The token's member may not do this (operation or service missing).",
    "404": "Not found, or not this account's.",
    "429": "Too many requests: wait and retry.",
}


def add_error_responses(result: dict[str, Any], generator: Any, request: Any, public: bool) -> dict[str, Any]:
    components = result.setdefault("components", {}).setdefault("schemas", {})
    components.setdefault("Error", ERROR)
    for path, operations in result.get("paths", {}).items():
        if not path.startswith("/api/"):
            continue
        for method, operation in operations.items():
            if method not in ("get", "post", "put", "patch", "delete"):
                continue
            responses = operation.setdefault("responses", {})
            content: dict[str, Any] = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
            ok = next((r for code, r in responses.items() if code.startswith("2")), {})
            for media in ok.get("content", {}):  # ?format=csv|pdf: a refusal comes back in that type too
                if media != "application/json":
                    content[media] = {"schema": {"type": "string"}}
            for status, description in REFUSALS.items():
                responses.setdefault(status, {"description": description, "content": content})
    return result
