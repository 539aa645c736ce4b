"""A trashed file or folder: get it, restore it, purge it. Box answers these alike for both kinds."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from .. import items
from ..errors import bad_request, not_found
from .common import context, fields_param, json_body, ok, ref_id

Handler = Callable[[Request], Awaitable[Response]]


def _handlers(kind: str) -> tuple[Handler, Handler, Handler]:
    param = f"{kind}_id"

    async def restore(request: Request) -> Response:
        store, actor, renderer = context(request)
        row = items.get_trashed(store, actor.id, request.path_params[param], kind)
        items.require(store, actor.id, row, "edit")
        body = await json_body(request, required=False)
        name = body.get("name")
        if name is not None and not isinstance(name, str):
            raise bad_request("'name' must be a string")
        parent = items.target_folder(store, actor.id, ref_id(body, "parent")) if "parent" in body else None
        items.restore(store, row, actor.id, name, parent)
        restored = store.item(int(row["id"]))
        if restored is None:
            raise not_found(kind)
        return ok(renderer.item(restored, fields_param(request)), 201)

    async def get(request: Request) -> Response:
        store, actor, renderer = context(request)
        row = items.get_trashed(store, actor.id, request.path_params[param], kind)
        return ok(renderer.item(row, fields_param(request)))

    async def purge(request: Request) -> Response:
        store, actor, _ = context(request)
        row = items.get_trashed(store, actor.id, request.path_params[param], kind)
        items.require(store, actor.id, row, "edit")
        items.purge(store, row, actor.id)
        return Response(status_code=204)

    return restore, get, purge


def trashed_routes(kind: str) -> list[Route]:
    """`POST /2.0/{kind}s/{id}` (restore) and `GET|DELETE /2.0/{kind}s/{id}/trash` for "file" or "folder"."""
    restore, get, purge = _handlers(kind)
    base = f"/2.0/{kind}s/{{{kind}_id}}"
    return [
        Route(base, restore, methods=["POST"]),
        Route(f"{base}/trash", get, methods=["GET"]),
        Route(f"{base}/trash", purge, methods=["DELETE"]),
    ]
