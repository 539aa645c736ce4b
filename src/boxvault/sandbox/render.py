# ruff: noqa: S608 - SQL from fixed fragments; values are always bound parameters
"""Box's JSON shapes for the sandbox's rows (users, folders, files, web links, versions, collaborations)."""

from __future__ import annotations

import json
from typing import Any

from .store import Row, Store

ROOT_MINI: dict[str, Any] = {
    "type": "folder",
    "id": "0",
    "sequence_id": None,
    "etag": None,
    "name": "All Files",
}
TYPE_RANK = {"folder": 0, "file": 1, "web_link": 2}
BASE_FIELDS = ("type", "id", "etag")
FILE_STANDARD = (
    "type id etag sequence_id name sha1 file_version description size path_collection created_at modified_at "
    "trashed_at purged_at content_created_at content_modified_at created_by modified_by owned_by shared_link "
    "parent item_status"
).split()
FOLDER_STANDARD = (
    "type id etag sequence_id name created_at modified_at description size path_collection created_by "
    "modified_by trashed_at purged_at content_created_at content_modified_at owned_by shared_link "
    "folder_upload_email parent item_status item_collection"
).split()
WEB_LINK_STANDARD = (
    "type id etag sequence_id name url parent description path_collection created_at modified_at trashed_at "
    "purged_at created_by modified_by owned_by shared_link item_status"
).split()
MINI = {
    "file": ["type", "id", "etag", "sequence_id", "name", "sha1", "file_version"],
    "folder": ["type", "id", "etag", "sequence_id", "name"],
    "web_link": ["type", "id", "etag", "sequence_id", "name", "url"],
}
STANDARD = {"file": FILE_STANDARD, "folder": FOLDER_STANDARD, "web_link": WEB_LINK_STANDARD}
PERMISSIONS = (
    "can_download can_preview can_upload can_comment can_rename can_delete can_share can_set_share_access "
    "can_invite_collaborator can_annotate can_view_annotations_all can_view_annotations_self"
).split()

FILE_PERMISSIONS = dict.fromkeys(PERMISSIONS, True)
FOLDER_PERMISSIONS = dict.fromkeys(
    (
        "can_download can_upload can_rename can_delete can_share can_invite_collaborator can_set_share_access"
    ).split(),
    True,
)


def parse_fields(raw: str | None) -> list[str] | None:
    if raw is None or not raw.strip():
        return None
    return [f.strip() for f in raw.split(",") if f.strip()]


def select(data: dict[str, Any], default: list[str], fields: list[str] | None) -> dict[str, Any]:
    """Box answers the standard fields, or, with `fields=`, the base fields plus exactly those asked for
    (`metadata.<scope>.<templateKey>` fields all land in `metadata`)."""
    keys = (
        default
        if fields is None
        else [*BASE_FIELDS, *("metadata" if f.startswith("metadata.") else f for f in fields)]
    )
    return {k: data[k] for k in dict.fromkeys(keys) if k in data}


def metadata_instance(row: Row, kind: str) -> dict[str, Any]:
    """A metadata instance as Box shows it (its values plus the `$` fields)."""
    data: dict[str, Any] = json.loads(row["data"])
    return {
        **data,
        "$id": row["id"],
        "$parent": f"{kind}_{row['item_id']}",
        "$scope": row["scope"],
        "$template": row["template"],
        "$type": f"{row['template']}-{row['id'][:6]}",
        "$typeVersion": 0,
        "$version": row["version"],
        "$canEdit": True,
    }


def user_mini(row: Row | None) -> dict[str, Any]:
    if row is None:
        return {"type": "user", "id": "2", "name": "Anonymous User", "login": ""}
    return {"type": "user", "id": str(row["id"]), "name": row["name"], "login": row["login"]}


def user_full(row: Row, enterprise_id: str) -> dict[str, Any]:
    return {
        **user_mini(row),
        "created_at": row["created_at"],
        "modified_at": row["modified_at"],
        "language": "en",
        "timezone": "America/Los_Angeles",
        "space_amount": 999999999999999,
        "space_used": 0,
        "max_upload_size": 536870912000,
        "status": row["status"],
        "job_title": "",
        "phone": "",
        "address": "",
        "avatar_url": "",
        "notification_email": None,
        "role": row["role"],
        "tracking_codes": [],
        "can_see_managed_users": row["role"] in ("admin", "coadmin"),
        "is_sync_enabled": True,
        "is_external_collab_restricted": False,
        "is_exempt_from_device_limits": False,
        "is_exempt_from_login_verification": False,
        "enterprise": {"type": "enterprise", "id": enterprise_id, "name": "Sandbox Enterprise"},
        "my_tags": [],
        "hostname": "https://app.box.com/",
        "is_platform_access_only": bool(row["is_service"]),
        "external_app_user_id": "",
    }


def folder_mini(row: Row) -> dict[str, Any]:
    seq = str(row["sequence_id"])
    return {"type": "folder", "id": str(row["id"]), "sequence_id": seq, "etag": seq, "name": row["name"]}


class Renderer:
    """Renders rows as seen by one user (paths and parents depend on the viewer through collaborations)."""

    def __init__(self, store: Store, viewer_id: int, base_url: str) -> None:
        self.store = store
        self.viewer_id = viewer_id
        self.base_url = base_url
        self._users: dict[int, Row | None] = {}
        # caches for one request: listings render up to 1000 siblings sharing parents, owners and lookups
        self._chains: dict[int, list[Row]] = {}
        self._versions: dict[int, Row] = {}
        self._comments: dict[int, int] | None = None
        self._collaborated_items: set[int] | None = None

    def prefetch(self, rows: list[Row]) -> None:
        """Loads the versions, comment counts and collaboration flags of a page of rows in a few queries."""
        ids = [int(r["id"]) for r in rows]
        version_ids = [int(r["version_id"]) for r in rows if r["version_id"] is not None]
        self._comments = {}
        self._collaborated_items = set()
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            marks = ",".join("?" * len(chunk))
            for item_id, n in self.store.all(
                f"SELECT item_id, COUNT(*) FROM comments WHERE item_id IN ({marks}) GROUP BY item_id",  # nosec B608 # identifiers are constants, values bound as parameters
                *chunk,
            ):
                self._comments[int(item_id)] = int(n)
            for (item_id,) in self.store.all(
                f"SELECT DISTINCT item_id FROM collaborations WHERE item_id IN ({marks})",  # nosec B608 # identifiers are constants, values bound as parameters
                *chunk,
            ):
                self._collaborated_items.add(int(item_id))
        for start in range(0, len(version_ids), 500):
            chunk = version_ids[start : start + 500]
            marks = ",".join("?" * len(chunk))
            for v in self.store.all(f"SELECT * FROM versions WHERE id IN ({marks})", *chunk):  # nosec B608 # identifiers are constants, values bound as parameters
                self._versions[int(v["id"])] = v

    def comment_count(self, item_id: int) -> int:
        if self._comments is not None:
            return self._comments.get(item_id, 0)
        return int(self.store.scalar("SELECT COUNT(*) FROM comments WHERE item_id = ?", item_id) or 0)

    def has_collaborations(self, item_id: int) -> bool:
        if self._collaborated_items is not None:
            return item_id in self._collaborated_items
        return self.store.scalar("SELECT 1 FROM collaborations WHERE item_id = ?", item_id) is not None

    def user(self, user_id: int) -> dict[str, Any]:
        if user_id not in self._users:
            self._users[user_id] = self.store.one("SELECT * FROM users WHERE id = ?", user_id)
        return user_mini(self._users[user_id])

    def grantee(self, c: Row) -> dict[str, Any]:
        if c["group_id"] is not None:
            group = self.store.one("SELECT * FROM groups WHERE id = ?", c["group_id"])
            name = group["name"] if group is not None else ""
            return {"type": "group", "id": str(c["group_id"]), "name": name, "group_type": "managed_group"}
        return {**self.user(c["user_id"]), "is_active": True}

    def collaborated(self, item_id: int) -> bool:
        return (
            self.store.scalar(
                "SELECT 1 FROM grants WHERE item_id = ? AND user_id = ? AND status = 'accepted'",
                item_id,
                self.viewer_id,
            )
            is not None
        )

    def ancestors(self, row: Row) -> list[Row]:
        """Folders from the viewer's root down to the parent of `row` (a collaborated folder is a root)."""
        chain: list[Row] = []
        if row["owner_id"] != self.viewer_id and self.collaborated(row["id"]):
            return chain
        pid = row["parent_id"]
        cached = self._chains.get(pid)
        if cached is not None:
            return cached
        seen: set[int] = set()
        while pid != 0 and pid not in seen:
            seen.add(pid)
            parent = self.store.item(pid)
            if parent is None:
                break
            chain.append(parent)
            if parent["owner_id"] != self.viewer_id and self.collaborated(parent["id"]):
                break
            pid = parent["parent_id"]
        chain.reverse()
        self._chains[row["parent_id"]] = chain
        return chain

    def path_collection(self, row: Row) -> dict[str, Any]:
        entries = [ROOT_MINI, *(folder_mini(p) for p in self.ancestors(row))]
        return {"total_count": len(entries), "entries": entries}

    def shared_link(self, row: Row) -> dict[str, Any] | None:
        # a trashed item's link does not work, and Box shows it as null (TrashFile.shared_link)
        if not row["shared_link"] or row["trashed_at"]:
            return None
        link: dict[str, Any] = json.loads(row["shared_link"])
        return {k: v for k, v in link.items() if not k.startswith("_")}  # the password's hash stays here

    def version(self, row: Row) -> Row | None:
        if row["version_id"] is None:
            return None
        cached = self._versions.get(int(row["version_id"]))
        if cached is not None:
            return cached
        return self.store.one("SELECT * FROM versions WHERE id = ?", row["version_id"])

    def item(self, row: Row, fields: list[str] | None = None, mini: bool = False) -> dict[str, Any]:
        kind = str(row["type"])
        default = MINI[kind] if mini else STANDARD[kind]
        wanted = set(default if fields is None else [*BASE_FIELDS, *fields])
        seq = str(row["sequence_id"])
        data: dict[str, Any] = {"type": kind, "id": str(row["id"]), "etag": seq, "sequence_id": seq}
        data["name"] = row["name"]
        cheap_only = wanted <= {"type", "id", "etag", "sequence_id", "name", "sha1", "file_version", "url"}
        if kind == "file":
            version = self.version(row)
            sha1 = version["sha1"] if version else ""
            data["sha1"] = sha1
            data["file_version"] = {"type": "file_version", "id": str(row["version_id"]), "sha1": sha1}
            data["size"] = version["size"] if version else 0
            if version is not None:
                data["version_number"] = str(version["number"])
            data["extension"] = row["name"].rsplit(".", 1)[1] if "." in row["name"] else ""
            data["is_package"] = False
            if "comment_count" in wanted:
                data["comment_count"] = self.comment_count(int(row["id"]))
        elif kind == "web_link":
            data["url"] = row["url"]
        if cheap_only:
            return select(data, default, fields)
        data["description"] = row["description"]
        data["created_at"] = row["created_at"]
        data["modified_at"] = row["modified_at"]
        data["trashed_at"] = row["trashed_at"]
        data["purged_at"] = None
        data["created_by"] = self.user(row["created_by"])
        data["modified_by"] = self.user(row["modified_by"])
        data["owned_by"] = self.user(row["owner_id"])
        data["shared_link"] = self.shared_link(row)
        data["item_status"] = "trashed" if row["trashed_at"] else "active"
        if kind != "web_link":
            data["content_created_at"] = row["content_created_at"]
            data["content_modified_at"] = row["content_modified_at"]
        if wanted & {"path_collection", "parent"}:
            data["path_collection"] = self.path_collection(row)
            entries = data["path_collection"]["entries"]
            data["parent"] = entries[-1]
        if "has_collaborations" in wanted:
            data["has_collaborations"] = self.has_collaborations(int(row["id"]))
        data["is_externally_owned"] = False
        data["allowed_invitee_roles"] = ["editor", "viewer", "previewer", "uploader", "co-owner"]
        data["tags"] = []
        data["is_accessible_via_shared_link"] = data["shared_link"] is not None
        data["permissions"] = FILE_PERMISSIONS
        data["is_associated_with_app_item"] = False
        wanted_metadata = [f.split(".", 2) for f in wanted if f.startswith("metadata.") and f.count(".") == 2]
        if wanted_metadata and kind != "web_link":
            data["metadata"] = self.metadata(row, kind, [(m[1], m[2]) for m in wanted_metadata])
        if kind == "folder":
            if "size" in wanted:
                data["size"] = folder_size(self.store, row["id"])
            data["folder_upload_email"] = None
            data["sync_state"] = "not_synced"
            data["can_non_owners_invite"] = True
            data["can_non_owners_view_collaborators"] = True
            data["is_collaboration_restricted_to_enterprise"] = False
            data["allowed_shared_link_access_levels"] = ["open", "company", "collaborators"]
            data["permissions"] = FOLDER_PERMISSIONS
        return select(data, default, fields)

    def metadata(self, row: Row, kind: str, wanted: list[tuple[str, str]]) -> dict[str, dict[str, Any]]:
        """`fields=metadata.<scope>.<templateKey>`: {scope: {templateKey: instance}} of the instances
        the item has (`enterprise` stands for the enterprise's own scope)."""
        enterprise = f"enterprise_{self.store.setting('enterprise_id', '')}"
        keys = {(enterprise if scope == "enterprise" else scope, template) for scope, template in wanted}
        out: dict[str, dict[str, Any]] = {}
        for inst in self.store.all(
            "SELECT * FROM metadata WHERE item_id = ? ORDER BY scope, template", row["id"]
        ):
            if (inst["scope"], inst["template"]) in keys:
                out.setdefault(inst["scope"], {})[inst["template"]] = metadata_instance(inst, kind)
        return out

    def root(self, owner: Row) -> dict[str, Any]:
        return {
            **ROOT_MINI,
            "created_at": None,
            "modified_at": None,
            "description": "",
            "size": root_size(self.store, owner["id"]),
            "path_collection": {"total_count": 0, "entries": []},
            "created_by": {"type": "user", "id": "", "name": "", "login": ""},
            "modified_by": user_mini(owner),
            "trashed_at": None,
            "purged_at": None,
            "content_created_at": None,
            "content_modified_at": None,
            "owned_by": user_mini(owner),
            "shared_link": None,
            "folder_upload_email": None,
            "parent": None,
            "item_status": "active",
        }

    def file_version(self, v: Row, current: bool = False) -> dict[str, Any]:
        return {
            "type": "file_version",
            "id": str(v["id"]),
            "sha1": v["sha1"],
            "name": v["name"],
            "size": v["size"],
            "created_at": v["created_at"],
            "modified_at": v["created_at"],
            "modified_by": self.user(v["modified_by"]),
            "trashed_at": v["trashed_at"],
            **({"trashed_by": self.user(int(v["trashed_by"]))} if v["trashed_by"] else {}),
            "restored_at": None,
            "purged_at": None,
            "version_number": str(v["number"]),
        }

    def collaboration(self, c: Row) -> dict[str, Any]:
        item = self.store.one("SELECT * FROM items WHERE id = ?", c["item_id"])
        item_json: dict[str, Any] | None = None
        if item is not None:
            seq = str(item["sequence_id"])
            item_json = {"type": item["type"], "id": str(item["id"]), "sequence_id": seq, "etag": seq}
            item_json["name"] = item["name"]
        return {
            "type": "collaboration",
            "id": str(c["id"]),
            "item": item_json,
            "accessible_by": self.grantee(c),
            "invite_email": None,
            "role": c["role"],
            "expires_at": None,
            "is_access_only": False,
            "status": c["status"],
            "acknowledged_at": c["created_at"],
            "created_by": self.user(c["created_by"]),
            "created_at": c["created_at"],
            "modified_at": c["modified_at"],
        }


def folder_size(store: Store, folder_id: int) -> int:
    value = store.scalar(
        """WITH RECURSIVE t(id) AS (
               SELECT ? UNION ALL
               SELECT i.id FROM items i JOIN t ON i.parent_id = t.id
               WHERE i.type = 'folder' AND i.purged = 0 AND i.trashed_at IS NULL)
           SELECT COALESCE(SUM(v.size), 0) FROM items f JOIN versions v ON v.id = f.version_id
           WHERE f.parent_id IN (SELECT id FROM t) AND f.type = 'file' AND f.purged = 0 AND f.trashed_at
               IS NULL""",
        folder_id,
    )
    return int(value or 0)


def root_size(store: Store, owner_id: int) -> int:
    value = store.scalar(
        """SELECT COALESCE(SUM(v.size), 0) FROM items f JOIN versions v ON v.id = f.version_id
           WHERE f.owner_id = ? AND f.type = 'file' AND f.purged = 0 AND f.trashed_at IS NULL""",
        owner_id,
    )
    return int(value or 0)
