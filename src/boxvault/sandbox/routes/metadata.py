"""Metadata instances on files and folders: create, list, get, update (JSON Patch), delete."""

from __future__ import annotations

import json
import uuid
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from .. import items
from ..errors import BoxError, bad_request
from ..render import metadata_instance
from ..store import Row, Store
from .common import context, json_body, ok

KINDS = {"files": "file", "folders": "folder"}


def _scope(store: Store, scope: str) -> str:
    enterprise = f"enterprise_{store.setting('enterprise_id', '')}"
    if scope == "enterprise":
        return enterprise
    if scope != "global" and scope != enterprise:
        raise bad_request("The metadata scope must be global or enterprise", "invalid_scope")
    return scope


def _instance(row: Row, kind: str) -> dict[str, Any]:
    return metadata_instance(row, kind)


def _target(request: Request) -> tuple[Store, int, Row, str]:
    store, actor, _ = context(request)
    kind = KINDS.get(request.path_params["kind"])
    if kind is None:
        raise BoxError(404, "not_found", "Not Found")
    item = items.get_item(store, actor.id, request.path_params["item_id"], kind)
    return store, actor.id, item, kind


def _valid_data(body: dict[str, Any]) -> dict[str, Any]:
    data = {k: v for k, v in body.items() if not k.startswith("$")}
    for key, value in data.items():
        if not isinstance(value, str | int | float | list) or isinstance(value, bool):
            raise bad_request(
                f"Metadata value of '{key}' must be a string, number or list of strings",
                "schema_validation_failed",
            )
    return data


async def list_instances(request: Request) -> Response:
    store, _, item, kind = _target(request)
    rows = store.all("SELECT * FROM metadata WHERE item_id = ? ORDER BY scope, template", item["id"])
    return ok({"entries": [_instance(r, kind) for r in rows], "limit": 100})


def _get(store: Store, item: Row, scope: str, template: str) -> Row:
    row = store.one(
        "SELECT * FROM metadata WHERE item_id = ? AND scope = ? AND template = ?", item["id"], scope, template
    )
    if row is None:
        raise BoxError(404, "instance_not_found", "Instance not found")
    return row


async def get_instance(request: Request) -> Response:
    store, _, item, kind = _target(request)
    scope = _scope(store, request.path_params["scope"])
    return ok(_instance(_get(store, item, scope, request.path_params["template"]), kind))


async def create_instance(request: Request) -> Response:
    store, user_id, item, kind = _target(request)
    items.require(store, user_id, item, "edit")
    scope = _scope(store, request.path_params["scope"])
    template = request.path_params["template"]
    data = _valid_data(await json_body(request, required=False))
    with store.tx():
        if store.scalar(
            "SELECT 1 FROM metadata WHERE item_id = ? AND scope = ? AND template = ?",
            item["id"],
            scope,
            template,
        ):
            raise BoxError(409, "tuple_already_exists", "A metadata instance of this template already exists")
        store.db.execute(
            "INSERT INTO metadata (item_id, scope, template, id, data) VALUES (?,?,?,?,?)",
            (item["id"], scope, template, str(uuid.uuid4()), json.dumps(data)),
        )
    return ok(_instance(_get(store, item, scope, template), kind), 201)


def _apply_patch(data: dict[str, Any], ops: Any) -> dict[str, Any]:
    if not isinstance(ops, list):
        raise bad_request("The body must be a JSON Patch array of operations")
    result = dict(data)
    for op in ops:
        if not isinstance(op, dict) or not isinstance(op.get("path"), str) or not op["path"].startswith("/"):
            raise bad_request("Each operation needs an 'op' and a 'path' starting with '/'")
        key = op["path"][1:]
        kind = op.get("op")
        if kind in ("add", "replace"):
            if "value" not in op:
                raise bad_request(f"'{kind}' needs a 'value'")
            if kind == "replace" and key not in result:
                raise bad_request(f"Cannot replace missing key '{key}'", "invalid_update")
            result[key] = op["value"]
        elif kind == "remove":
            if key not in result:
                raise bad_request(f"Cannot remove missing key '{key}'", "invalid_update")
            del result[key]
        elif kind == "test":
            if result.get(key) != op.get("value"):
                raise BoxError(409, "conflict", f"The test of '{key}' failed")
        else:
            raise bad_request(f"Unsupported operation {kind!r}", "invalid_update")
    return _valid_data(result)


async def update_instance(request: Request) -> Response:
    store, user_id, item, kind = _target(request)
    items.require(store, user_id, item, "edit")
    scope = _scope(store, request.path_params["scope"])
    template = request.path_params["template"]
    raw = await request.body()
    try:
        ops = json.loads(raw)
    except ValueError:
        raise bad_request("The request body is not valid JSON") from None
    with store.tx():
        row = _get(store, item, scope, template)
        data = _apply_patch(json.loads(row["data"]), ops)
        store.db.execute(
            "UPDATE metadata SET data = ?, version = version + 1 WHERE item_id = ? AND scope = "
            "? AND template = ?",
            (json.dumps(data), item["id"], scope, template),
        )
    return ok(_instance(_get(store, item, scope, template), kind))


async def delete_instance(request: Request) -> Response:
    store, user_id, item, _ = _target(request)
    items.require(store, user_id, item, "edit")
    scope = _scope(store, request.path_params["scope"])
    row = _get(store, item, scope, request.path_params["template"])
    with store.tx():
        store.db.execute(
            "DELETE FROM metadata WHERE item_id = ? AND scope = ? AND template = ?",
            (row["item_id"], row["scope"], row["template"]),
        )
    return Response(status_code=204)


async def list_templates(request: Request) -> Response:
    """`GET /metadata_templates/enterprise|global`: the templates of that scope that items use (the
    sandbox has no template definitions: a template exists once an instance of it does; `global`
    always has Box's `properties`). One page."""
    store, _, _ = context(request)
    enterprise = request.url.path.rstrip("/").endswith("/enterprise")
    scope = f"enterprise_{store.setting('enterprise_id', '')}" if enterprise else "global"
    keys = [
        str(r["template"])
        for r in store.all("SELECT DISTINCT template FROM metadata WHERE scope = ? ORDER BY template", scope)
    ]
    if not enterprise and "properties" not in keys:
        keys.insert(0, "properties")
    entries = [
        {
            "id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"box-sandbox:{scope}/{key}")),
            "type": "metadata_template",
            "scope": scope,
            "templateKey": key,
            "displayName": key,
            "hidden": False,
            "copyInstanceOnItemCopy": False,
            "fields": [],
        }
        for key in keys
    ]
    return ok({"entries": entries, "limit": 100, "next_marker": None, "prev_marker": None})


routes = [
    Route("/2.0/metadata_templates/enterprise", list_templates, methods=["GET"]),
    Route("/2.0/metadata_templates/global", list_templates, methods=["GET"]),
    Route("/2.0/{kind}/{item_id}/metadata", list_instances, methods=["GET"]),
    Route("/2.0/{kind}/{item_id}/metadata/{scope}/{template}", get_instance, methods=["GET"]),
    Route("/2.0/{kind}/{item_id}/metadata/{scope}/{template}", create_instance, methods=["POST"]),
    Route("/2.0/{kind}/{item_id}/metadata/{scope}/{template}", update_instance, methods=["PUT"]),
    Route("/2.0/{kind}/{item_id}/metadata/{scope}/{template}", delete_instance, methods=["DELETE"]),
]
