"""Request parsing helpers that turn bad input into Box's 400 errors instead of exceptions."""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import JSONResponse

from ..auth import Actor, authenticate
from ..errors import bad_request
from ..render import Renderer, parse_fields
from ..runtime import base_url, sandbox
from ..store import Store


async def json_body(request: Request, required: bool = True) -> dict[str, Any]:
    raw = await request.body()
    if not raw.strip():
        if required:
            raise bad_request("The request body is missing: a JSON object is expected")
        return {}
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise bad_request("The request body is not valid JSON") from None
    if not isinstance(data, dict):
        raise bad_request("The request body must be a JSON object")
    return data


def int_param(request: Request, name: str, default: int, minimum: int = 0, maximum: int | None = None) -> int:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    # Box's codes for these two are invalid_limit and invalid_offset
    code = f"invalid_{name}" if name in ("limit", "offset") else "bad_request"
    try:
        value = int(raw)
    except ValueError:
        raise bad_request(
            f"Invalid value '{raw}' for query parameter '{name}': not a valid number", code
        ) from None
    if value < minimum or (maximum is not None and value > maximum):
        bound = f"between {minimum} and {maximum}" if maximum is not None else f"at least {minimum}"
        raise bad_request(f"Invalid value '{raw}' for query parameter '{name}': it must be {bound}", code)
    return value


def limit_param(request: Request, default: int = 100, maximum: int = 1000) -> int:
    return int_param(request, "limit", default, 1, maximum)


def fields_param(request: Request) -> list[str] | None:
    return parse_fields(request.query_params.get("fields"))


def bool_param(request: Request, name: str) -> bool:
    raw = request.query_params.get(name, "").lower()
    if raw not in ("", "true", "false", "1", "0"):
        raise bad_request(f"Invalid value '{raw}' for query parameter '{name}': true or false is expected")
    return raw in ("true", "1")


def encode_marker(value: int) -> str:
    return base64.urlsafe_b64encode(f"m:{value}".encode()).decode()


def decode_marker(raw: str) -> int:
    try:
        text = base64.urlsafe_b64decode(raw.encode() + b"=" * (-len(raw) % 4)).decode()
        if not text.startswith("m:"):
            raise ValueError(text)
        return int(text[2:])
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise bad_request("Invalid marker", "invalid_parameter") from None


def context(request: Request, upload: bool = False) -> tuple[Store, Actor, Renderer]:
    actor = authenticate(request, upload)
    store = sandbox(request).store
    return store, actor, Renderer(store, actor.id, base_url(request))


class FastJSONResponse(JSONResponse):
    """orjson renders a page of 1000 items ~30x faster than the json module (listings dominate walks)."""

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


def ok(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> JSONResponse:
    return FastJSONResponse(data, status_code=status, headers=headers)


def require_str(body: dict[str, Any], name: str) -> str:
    value = body.get(name)
    if not isinstance(value, str):
        raise bad_request(f"'{name}' is required and must be a string")
    return value


def ref_id(body: dict[str, Any], name: str) -> str:
    """The `id` of an object field such as `parent: {id}`; Box accepts ids as strings or numbers."""
    value = body.get(name)
    if not isinstance(value, dict):
        raise bad_request(f"'{name}' is required and must be an object with an 'id'")
    ident = value.get("id")
    if isinstance(ident, bool) or not isinstance(ident, str | int):
        raise bad_request(f"'{name}.id' is required and must be a string")
    return str(ident)
