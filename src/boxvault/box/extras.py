"""Structured data beyond an item's own fields, captured so a restore can recreate it later:
collaborations, comments and metadata instances, each as JSON in a `box.<kind>` extended attribute.

Asked only where Box says there is something (`has_collaborations`, `comment_count` from the
listing) and, for metadata, once per item etag: an unchanged item reuses what was captured before
(see :class:`boxvault.box.state.StateStore`), so an incremental run pays only for what changed.
"""

from __future__ import annotations

import json
from typing import Any

from box_sdk_gen.box.errors import BoxAPIError
from box_sdk_gen.client import BoxClient

from boxvault.box.api import get_json, iter_marker_pages, iter_offset_pages
from boxvault.box.model import BoxItem

COLLAB_FIELDS = (
    "id,type,role,status,accessible_by,invite_email,expires_at,is_access_only,created_at,created_by"
)
COMMENT_FIELDS = "id,type,message,tagged_message,created_by,created_at,modified_at,is_reply_comment"


def fingerprint(item: BoxItem, metadata: bool) -> str:
    """When this changes, the extras are asked for again; otherwise the last capture is reused.

    Neither the etag nor the version is part of it: metadata instances, comments and collaborations
    belong to the item, not to a version, and a rename, move or new upload changes none of them, so
    an incremental run costs one request per *new* item, not per changed one. What Box lets us see
    changing is in it (`has_collaborations`, `comment_count`); other edits are picked up with
    `--refresh-extras` (docs/box.md).
    """
    return f"{item.type}|{int(item.has_collaborations)}|{item.comment_count}|{int(metadata)}"


def _dump(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode()


def _kind(item: BoxItem) -> str:
    return {"file": "files", "folder": "folders", "web_link": "web_links"}[item.type]


def metadata_fields(client: BoxClient) -> tuple[list[str], int]:
    """`metadata.<scope>.<templateKey>` for every template of the enterprise and Box's global ones
    (asked once per run), so listings carry each item's metadata instances: no request per item.
    Returns (fields, pages requested)."""
    out: list[str] = []
    pages = 0
    for which in ("enterprise", "global"):
        for page in iter_marker_pages(client, f"/2.0/metadata_templates/{which}", {}, 100):
            pages += 1
            for t in page:
                if t.get("scope") and t.get("templateKey"):
                    out.append(f"metadata.{t['scope']}.{t['templateKey']}")
    return out, pages


def list_enterprise_templates(client: BoxClient) -> list[dict[str, Any]]:
    """The enterprise's metadata templates with their fields (what re-creating one needs)."""
    out: list[dict[str, Any]] = []
    for page in iter_marker_pages(client, "/2.0/metadata_templates/enterprise", {}, 100):
        out.extend(t for t in page if isinstance(t, dict))
    return out


def apply_listed_metadata(item: BoxItem, extras: dict[str, bytes]) -> dict[str, bytes]:
    """The extras with `box.metadata` as the listing showed it."""
    if item.listed_metadata is None:
        return extras
    out = {k: v for k, v in extras.items() if k != "box.metadata"}
    if item.listed_metadata:
        out["box.metadata"] = _dump(item.listed_metadata)
    return out


def capture(client: BoxClient, item: BoxItem, *, metadata: bool) -> dict[str, bytes]:
    out: dict[str, bytes] = {}
    if item.type == "web_link":
        return out
    kind = _kind(item)
    if item.has_collaborations:
        collabs: list[dict[str, Any]] = []
        pages = iter_marker_pages if item.type == "folder" else iter_offset_pages
        for page in pages(client, f"/2.0/{kind}/{item.id}/collaborations", {"fields": COLLAB_FIELDS}, 100):
            collabs.extend(page)
        out["box.collaborations"] = _dump(collabs)
    if item.type == "file" and item.comment_count > 0:
        comments: list[dict[str, Any]] = []
        for page in iter_offset_pages(
            client, f"/2.0/files/{item.id}/comments", {"fields": COMMENT_FIELDS}, 100
        ):
            comments.extend(page)
        out["box.comments"] = _dump(comments)
    if metadata and item.id != "0":
        try:
            data = get_json(client, f"/2.0/{kind}/{item.id}/metadata")
        except BoxAPIError as exc:
            # 403/404 here means "no metadata visible to this user", not a failed backup
            if exc.response_info.status_code not in (403, 404):
                raise
            data = {}
        entries = data.get("entries") or []
        if entries:
            out["box.metadata"] = _dump(entries)
    return out
