"""Creating an enterprise metadata template again from a copy of its schema (a restore whose metadata
instances need a template that was deleted in Box)."""

from __future__ import annotations

from typing import Any

from box_sdk_gen import BoxClient
from box_sdk_gen.box.errors import BoxAPIError
from box_sdk_gen.managers.metadata_templates import (
    CreateMetadataTemplateFields,
    CreateMetadataTemplateFieldsOptionsField,
    CreateMetadataTemplateFieldsTypeField,
)


def create_template(client: BoxClient, key: str, schema: dict[str, Any]) -> None:
    """POST /metadata_templates/schema with the copied schema (`client` must be an admin's or the service
    account's). A template of that key made meanwhile by someone else counts as done."""

    def options(f: dict[str, Any]) -> list[CreateMetadataTemplateFieldsOptionsField] | None:
        found = [CreateMetadataTemplateFieldsOptionsField(key=str(o["key"])) for o in f.get("options") or []]
        return found or None

    fields = [
        CreateMetadataTemplateFields(
            type=CreateMetadataTemplateFieldsTypeField(str(f["type"])),
            key=str(f["key"]),
            display_name=str(f.get("displayName") or f["key"]),
            description=f.get("description") if isinstance(f.get("description"), str) else None,
            hidden=bool(f.get("hidden", False)),
            options=[
                CreateMetadataTemplateFieldsOptionsField(key=str(o["key"])) for o in f.get("options") or []
            ]
            or None,
        )
        for f in schema.get("fields") or []
        if isinstance(f, dict) and f.get("type") and f.get("key")
    ]
    try:
        client.metadata_templates.create_metadata_template(
            "enterprise",
            str(schema.get("displayName") or key),
            template_key=key,
            hidden=bool(schema.get("hidden", False)),
            fields=fields,
            copy_instance_on_item_copy=bool(schema.get("copyInstanceOnItemCopy", False)),
        )
    except BoxAPIError as exc:
        if exc.response_info.status_code != 409:
            raise
