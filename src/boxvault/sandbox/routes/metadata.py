"""Metadata instances on files and folders: create, list, get, update (JSON Patch), delete; and the
enterprise's metadata templates: `POST /metadata_templates/schema`, `GET/DELETE
/metadata_templates/{scope}/{key}/schema`, the lists. An instance of an enterprise template needs the
template (404 `instance_tuple_not_found` otherwise, as on Box); Box's global `properties` always exists."""

from __future__ import annotations

import json
import uuid
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from .. import items
from ..auth import require_admin
from ..errors import BoxError, bad_request, not_found
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
    if scope != "global" and _template(store, scope, template) is None:
        raise BoxError(404, "instance_tuple_not_found", f"The metadata template {template} was not found")
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


FIELD_TYPES = ("string", "float", "date", "enum", "multiSelect", "taxonomy")


def _template(store: Store, scope: str, key: str) -> Row | None:
    return store.one("SELECT * FROM metadata_templates WHERE scope = ? AND template_key = ?", scope, key)


def _template_json(row: Row) -> dict[str, Any]:
    return {
        "id": row["id"],
        "type": "metadata_template",
        "scope": row["scope"],
        "templateKey": row["template_key"],
        "displayName": row["display_name"],
        "hidden": bool(row["hidden"]),
        "copyInstanceOnItemCopy": bool(row["copy_on_copy"]),
        "fields": json.loads(row["fields"]),
    }


def _properties() -> dict[str, Any]:
    return {
        "id": str(uuid.uuid5(uuid.NAMESPACE_URL, "box-sandbox:global/properties")),
        "type": "metadata_template",
        "scope": "global",
        "templateKey": "properties",
        "displayName": "Properties",
        "hidden": False,
        "copyInstanceOnItemCopy": False,
        "fields": [],
    }


def _clean_fields(raw: Any) -> list[dict[str, Any]]:
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise bad_request("'fields' must be a list of fields")
    fields: list[dict[str, Any]] = []
    for f in raw:
        if not isinstance(f, dict) or f.get("type") not in FIELD_TYPES:
            raise bad_request(f"each field needs a 'type' of {', '.join(FIELD_TYPES)}")
        if not isinstance(f.get("key"), str) or not f["key"] or not isinstance(f.get("displayName"), str):
            raise bad_request("each field needs a 'key' and a 'displayName'")
        options = f.get("options") or []
        if f["type"] in ("enum", "multiSelect") and not all(
            isinstance(o, dict) and o.get("key") for o in options
        ):
            raise bad_request(f"the options of field {f['key']} must be objects with a 'key'")
        fields.append(
            {
                "id": str(uuid.uuid4()),
                "type": f["type"],
                "key": f["key"],
                "displayName": f["displayName"],
                "hidden": bool(f.get("hidden", False)),
                **({"description": f["description"]} if isinstance(f.get("description"), str) else {}),
                **(
                    {"options": [{"id": str(uuid.uuid4()), "key": str(o["key"])} for o in options]}
                    if f["type"] in ("enum", "multiSelect")
                    else {}
                ),
            }
        )
    return fields


async def create_template(request: Request) -> Response:
    store, actor, _ = context(request)
    require_admin(actor)
    body = await json_body(request)
    if body.get("scope") != "enterprise":
        raise bad_request("'scope' must be enterprise: only enterprise templates can be created")
    display = body.get("displayName")
    if not isinstance(display, str) or not display.strip():
        raise bad_request("'displayName' is required")
    key = body.get("templateKey") or "".join(ch for ch in display.title() if ch.isalnum())
    if (
        not isinstance(key, str)
        or not key[:1].isalpha()
        or not key.replace("_", "").isalnum()
        or len(key) > 64
    ):
        raise bad_request("'templateKey' must start with a letter and hold letters, digits and _ only")
    scope = _scope(store, "enterprise")
    fields = _clean_fields(body.get("fields"))
    with store.tx():
        if _template(store, scope, key) is not None:
            raise BoxError(409, "conflict", f"A metadata template with the key {key} already exists")
        store.db.execute(
            "INSERT INTO metadata_templates (scope, template_key, id, display_name, hidden, copy_on_copy, "
            "fields) VALUES (?,?,?,?,?,?,?)",
            (
                scope, key, str(uuid.uuid4()), display, int(bool(body.get("hidden"))),
                int(bool(body.get("copyInstanceOnItemCopy"))), json.dumps(fields),
            ),
        )  # fmt: skip
    row = _template(store, scope, key)
    if row is None:
        raise not_found("metadata_template")
    return ok(_template_json(row), 201)


async def get_template(request: Request) -> Response:
    store, _, _ = context(request)
    scope = _scope(store, request.path_params["scope"])
    key = request.path_params["template"]
    if scope == "global" and key == "properties":
        return ok(_properties())
    row = _template(store, scope, key)
    if row is None:
        raise not_found("metadata_template")
    return ok(_template_json(row))


async def delete_template(request: Request) -> Response:
    """Deleting a template deletes its instances on every item, as on Box."""
    store, actor, _ = context(request)
    require_admin(actor)
    scope = _scope(store, request.path_params["scope"])
    key = request.path_params["template"]
    row = _template(store, scope, key)
    if row is None:
        raise not_found("metadata_template")
    with store.tx():
        store.db.execute("DELETE FROM metadata WHERE scope = ? AND template = ?", (scope, key))
        store.db.execute("DELETE FROM metadata_templates WHERE scope = ? AND template_key = ?", (scope, key))
    return Response(status_code=204)


async def list_templates(request: Request) -> Response:
    """`GET /metadata_templates/enterprise|global`: the enterprise's templates, or Box's global
    `properties`. One page."""
    store, _, _ = context(request)
    if not request.url.path.rstrip("/").endswith("/enterprise"):
        return ok({"entries": [_properties()], "limit": 100, "next_marker": None, "prev_marker": None})
    scope = _scope(store, "enterprise")
    rows = store.all("SELECT * FROM metadata_templates WHERE scope = ? ORDER BY template_key", scope)
    entries = [_template_json(r) for r in rows]
    return ok({"entries": entries, "limit": 100, "next_marker": None, "prev_marker": None})


routes = [
    Route("/2.0/metadata_templates/schema", create_template, methods=["POST"]),
    Route("/2.0/metadata_templates/{scope}/{template}/schema", get_template, methods=["GET"]),
    Route("/2.0/metadata_templates/{scope}/{template}/schema", delete_template, methods=["DELETE"]),
    Route("/2.0/metadata_templates/enterprise", list_templates, methods=["GET"]),
    Route("/2.0/metadata_templates/global", list_templates, methods=["GET"]),
    Route("/2.0/{kind}/{item_id}/metadata", list_instances, methods=["GET"]),
    Route("/2.0/{kind}/{item_id}/metadata/{scope}/{template}", get_instance, methods=["GET"]),
    Route("/2.0/{kind}/{item_id}/metadata/{scope}/{template}", create_instance, methods=["POST"]),
    Route("/2.0/{kind}/{item_id}/metadata/{scope}/{template}", update_instance, methods=["PUT"]),
    Route("/2.0/{kind}/{item_id}/metadata/{scope}/{template}", delete_instance, methods=["DELETE"]),
]
