"""Operations on folders, files and web links shared by the API routes and by seed/mutate.

Each operation keeps Box's invariants (unique names per folder, sequence ids, versions) and records the
event Box would put in the event streams of the users who see the item (before and after the change).
"""

from __future__ import annotations

from typing import Any

from .errors import BoxError, bad_request, forbidden, not_found, trashed
from .render import Renderer
from .store import Row, Store, is_id, now_iso

ADMIN_EVENT = {
    "ITEM_UPLOAD": "UPLOAD",
    "ITEM_CREATE": "UPLOAD",
    "ITEM_RENAME": "RENAME",
    "ITEM_MOVE": "MOVE",
    "ITEM_TRASH": "DELETE",
    "ITEM_UNDELETE_VIA_TRASH": "UNDELETE",
    "DELETE": "DELETE",
    "ITEM_MODIFY": "EDIT",
    "COLLAB_ADD_COLLABORATOR": "COLLABORATION_INVITE",
    "COLLAB_REMOVE_COLLABORATOR": "COLLABORATION_REMOVE",
    "COLLABORATION_ROLE_CHANGE": "COLLABORATION_ROLE_CHANGE",
    "COMMENT_CREATE": "COMMENT_CREATE",
    "ITEM_SHARED_CREATE": "SHARE",
    "ITEM_SHARED_UPDATE": "ITEM_SHARED_UPDATE",
    "ITEM_SHARED_UNSHARE": "UNSHARE",
}


def name_key(name: str) -> str:
    return name.casefold()


def check_name(name: Any) -> str:
    """Box's name rules: a non-empty string, at most 255 characters, no slashes, no trailing space."""
    if not isinstance(name, str):
        raise bad_request("The name must be a string", "item_name_invalid")
    if not name or name in (".", ".."):
        raise bad_request(f"Item name invalid: {name!r}", "item_name_invalid")
    if len(name) > 255:
        raise bad_request("Item name too long: at most 255 characters", "item_name_too_long")
    if "/" in name or "\\" in name or name != name.rstrip() or any(ord(c) < 32 for c in name):
        raise bad_request(
            "Item name invalid: no '/' or '\\', no trailing spaces, no control characters",
            "item_name_invalid",
        )
    return name


def parse_id(raw: Any, kind: str = "item") -> int:
    text = str(raw)
    if not is_id(text) or len(text) > 18:
        raise not_found(kind)
    return int(text)


def ancestors_trashed(store: Store, row: Row) -> bool:
    pid = int(row["parent_id"])
    seen: set[int] = set()
    while pid and pid not in seen:
        seen.add(pid)
        parent = store.item(pid)
        if parent is None:
            return True
        if parent["trashed_at"]:
            return True
        pid = int(parent["parent_id"])
    return False


def is_live(store: Store, row: Row) -> bool:
    return not row["purged"] and not row["trashed_at"] and not ancestors_trashed(store, row)


def role(store: Store, user_id: int, row: Row) -> str | None:
    """'owner', the role of the nearest collaboration on the item or a folder above it, or None."""
    if int(row["owner_id"]) == user_id:
        return "owner"
    current: Row | None = row
    seen: set[int] = set()
    while current is not None and int(current["id"]) not in seen:
        seen.add(int(current["id"]))
        found = store.scalar(
            "SELECT role FROM grants WHERE item_id = ? AND user_id = ? AND status = 'accepted'",
            current["id"],
            user_id,
        )
        if found:
            return str(found)
        pid = int(current["parent_id"])
        current = store.item(pid) if pid else None
    return None


def can_access(store: Store, user_id: int, row: Row) -> bool:
    """Owners see their items; collaborators see everything under a folder shared with them."""
    return role(store, user_id, row) is not None


# what each collaborator role may do (Box's collaboration roles, simplified to the sandbox's operations)
ROLE_ACTIONS = {
    "owner": {"download", "upload", "edit"},
    "co-owner": {"download", "upload", "edit"},
    "editor": {"download", "upload", "edit"},
    "viewer uploader": {"download", "upload"},
    "previewer uploader": {"upload"},
    "viewer": {"download"},
    "uploader": {"upload"},
    "previewer": set(),
}


# what an admin's user status takes away (Box's `status` of a user)
STATUS_DENIES = {
    "cannot_delete_edit": {"edit"},
    "cannot_delete_edit_upload": {"edit", "upload"},
}


def require_status(store: Store, user_id: int, action: str) -> None:
    user = store.user(user_id)
    status = str(user["status"]) if user is not None else "active"
    if action in STATUS_DENIES.get(status, set()):
        raise forbidden(f"Access denied: this user's status ({status}) does not allow this operation")


def require(store: Store, user_id: int, row: Row, action: str) -> None:
    """403 when the user's role on the item (or their status) does not allow `action` (download, upload
    or edit)."""
    require_status(store, user_id, action)
    current = role(store, user_id, row)
    if current is None:
        raise not_found(str(row["type"]))
    if action not in ROLE_ACTIONS.get(current, set()):
        raise forbidden(f"Access denied: the {current} role does not allow this operation")


def get_item(store: Store, user_id: int, raw_id: Any, kind: str, allow_trashed: bool = False) -> Row:
    item_id = parse_id(raw_id, kind)
    row = store.item(item_id)
    if row is None or row["type"] != kind or not can_access(store, user_id, row):
        raise not_found(kind)
    if not allow_trashed and (row["trashed_at"] or ancestors_trashed(store, row)):
        raise trashed(kind)
    return row


def get_trashed(store: Store, user_id: int, raw_id: Any, kind: str) -> Row:
    row = get_item(store, user_id, raw_id, kind, allow_trashed=True)
    if not row["trashed_at"]:
        raise BoxError(404, "not_trashed", "Item is not trashed")
    return row


def conflict(
    store: Store, parent_id: int, owner_id: int, name: str, exclude: int | None = None
) -> Row | None:
    if parent_id == 0:
        sql = "SELECT * FROM items WHERE parent_id = 0 AND owner_id = ? AND name_key = ? AND purged = 0"
        rows = store.all(sql + " AND trashed_at IS NULL", owner_id, name_key(name))
    else:
        sql = "SELECT * FROM items WHERE parent_id = ? AND name_key = ? AND purged = 0 AND trashed_at IS NULL"
        rows = store.all(sql, parent_id, name_key(name))
    for row in rows:
        if exclude is None or row["id"] != exclude:
            return row
    return None


def conflict_error(store: Store, row: Row, as_list: bool) -> BoxError:
    mini = Renderer(store, int(row["owner_id"]), "").item(row, mini=True)
    return BoxError(
        409,
        "item_name_in_use",
        "Item with the same name already exists",
        {"conflicts": [mini] if as_list else mini},
    )


def target_folder(store: Store, user_id: int, raw_id: Any) -> tuple[int, int]:
    """(folder id, owner of new items) for a parent given by id; `0` is the user's own root."""
    if str(raw_id) == "0":
        require_status(store, user_id, "upload")
        return 0, user_id
    folder = get_item(store, user_id, raw_id, "folder")
    require(store, user_id, folder, "upload")
    return int(folder["id"]), int(folder["owner_id"])


def audience(store: Store, row_id: int) -> set[int]:
    """Whose `changes` stream an event on the item goes to: its owner and every collaborator on the item
    or on a folder above it (the users who see it where it is now)."""
    row = store.one("SELECT owner_id FROM items WHERE id = ?", row_id)
    if row is None:
        return set()
    users = {int(row["owner_id"])}
    for (uid,) in store.db.execute(
        """WITH RECURSIVE up(id, parent_id) AS (
               SELECT id, parent_id FROM items WHERE id = ?
               UNION SELECT i.id, i.parent_id FROM items i JOIN up ON i.id = up.parent_id)
           SELECT DISTINCT user_id FROM grants WHERE item_id IN (SELECT id FROM up)""",
        (row_id,),
    ).fetchall():
        users.add(int(uid))
    return users


def record(
    store: Store, event_type: str, row_id: int, actor_id: int, before: set[int] | frozenset[int] = frozenset()
) -> None:
    """One event in the stream of every user who sees the item now and of every user in `before` (the
    audience of the item's previous place, for moves, renames and trash).

    Box's user stream is the one Box Drive keeps itself up to date with: a collaborator whose Box Drive
    shows the item at its old place must learn that it left, so a move out of a folder shared with them
    is in their stream too (docs/sandbox.md, "Events").
    """
    row = store.one("SELECT * FROM items WHERE id = ?", row_id)
    if row is None:
        return
    owner = int(row["owner_id"])
    source = Renderer(store, owner, "").item(row)
    users = audience(store, row_id) | set(before)
    store.add_event(event_type, owner, actor_id, source)
    for uid in sorted(users - {owner}):
        store.add_event(event_type, uid, actor_id, source)


def create_folder(
    store: Store, parent_id: int, owner_id: int, actor_id: int, name: str, when: str | None = None
) -> int:
    check_name(name)
    with store.tx():
        existing = conflict(store, parent_id, owner_id, name)
        if existing is not None:
            raise conflict_error(store, existing, as_list=True)
        ts = when or now_iso()
        cur = store.db.execute(
            """INSERT INTO items (type, name, name_key, parent_id, owner_id, created_by, modified_by,
               created_at,
               modified_at, content_created_at, content_modified_at) VALUES ('folder',?,?,?,?,?,?,?,?,?,?)""",
            (name, name_key(name), parent_id, owner_id, actor_id, actor_id, ts, ts, ts, ts),
        )
        folder_id = int(cur.lastrowid or 0)
        record(store, "ITEM_CREATE", folder_id, actor_id)
    return folder_id


def add_version(
    store: Store,
    file_id: int,
    name: str,
    size: int,
    sha1: str,
    source: str,
    ref: str,
    actor_id: int,
    when: str,
) -> int:
    number = int(store.scalar("SELECT COUNT(*) FROM versions WHERE file_id = ?", file_id) or 0) + 1
    cur = store.db.execute(
        """INSERT INTO versions (file_id, number, name, size, sha1, source, ref, created_at, modified_by)
           VALUES (?,?,?,?,?,?,?,?,?)""",
        (file_id, number, name, size, sha1, source, ref, when, actor_id),
    )
    return int(cur.lastrowid or 0)


def create_file(
    store: Store,
    parent_id: int,
    owner_id: int,
    actor_id: int,
    name: str,
    content: tuple[int, str, str, str],
    content_created_at: str | None = None,
    content_modified_at: str | None = None,
    when: str | None = None,
    description: str = "",
) -> int:
    """`content` is (size, sha1, source 'gen'|'disk', ref)."""
    check_name(name)
    size, sha1, source, ref = content
    with store.tx():
        existing = conflict(store, parent_id, owner_id, name)
        if existing is not None:
            raise conflict_error(store, existing, as_list=False)
        ts = when or now_iso()
        cur = store.db.execute(
            """INSERT INTO items (type, name, name_key, parent_id, owner_id, created_by, modified_by,
               created_at,
               modified_at, content_created_at, content_modified_at, description)
               VALUES ('file',?,?,?,?,?,?,?,?,?,?,?)""",
            (
                name,
                name_key(name),
                parent_id,
                owner_id,
                actor_id,
                actor_id,
                ts,
                ts,
                content_created_at or ts,
                content_modified_at or ts,
                description,
            ),
        )
        file_id = int(cur.lastrowid or 0)
        version_id = add_version(store, file_id, name, size, sha1, source, ref, actor_id, ts)
        store.db.execute("UPDATE items SET version_id = ? WHERE id = ?", (version_id, file_id))
        record(store, "ITEM_UPLOAD", file_id, actor_id)
    return file_id


def new_version(
    store: Store,
    row: Row,
    actor_id: int,
    content: tuple[int, str, str, str],
    name: str | None = None,
    content_modified_at: str | None = None,
    when: str | None = None,
) -> None:
    size, sha1, source, ref = content
    with store.tx():
        new_name = row["name"]
        if name is not None and name != row["name"]:
            new_name = check_name(name)
            existing = conflict(
                store, int(row["parent_id"]), int(row["owner_id"]), new_name, exclude=row["id"]
            )
            if existing is not None:
                raise conflict_error(store, existing, as_list=False)
        ts = when or now_iso()
        version_id = add_version(store, int(row["id"]), new_name, size, sha1, source, ref, actor_id, ts)
        store.db.execute(
            """UPDATE items SET version_id = ?, name = ?, name_key = ?, modified_at = ?, modified_by = ?,
               content_modified_at = ?, sequence_id = sequence_id + 1 WHERE id = ?""",
            (version_id, new_name, name_key(new_name), ts, actor_id, content_modified_at or ts, row["id"]),
        )
        record(store, "ITEM_UPLOAD", int(row["id"]), actor_id)


def is_descendant(store: Store, candidate: int, ancestor: int) -> bool:
    pid = candidate
    seen: set[int] = set()
    while pid and pid not in seen:
        if pid == ancestor:
            return True
        seen.add(pid)
        parent = store.item(pid)
        pid = int(parent["parent_id"]) if parent is not None else 0
    return False


def update(
    store: Store,
    row: Row,
    actor_id: int,
    name: str | None = None,
    parent: tuple[int, int] | None = None,
    description: str | None = None,
) -> None:
    """Rename and/or move (parent is (folder id, owner of that folder)) and/or describe one item."""
    with store.tx():
        new_name = row["name"] if name is None else check_name(name)
        parent_id, owner_id = (int(row["parent_id"]), int(row["owner_id"])) if parent is None else parent
        if row["type"] == "folder" and parent is not None and is_descendant(store, parent_id, int(row["id"])):
            raise bad_request("Folder move creates cyclical folder structure", "cyclical_folder_structure")
        renamed = new_name != row["name"]
        moved = parent_id != row["parent_id"]
        if renamed or moved or name_key(new_name) != row["name_key"]:
            existing = conflict(store, parent_id, owner_id, new_name, exclude=row["id"])
            if existing is not None:
                raise conflict_error(store, existing, as_list=row["type"] == "folder")
        before = audience(store, int(row["id"])) if renamed or moved else set()
        ts = now_iso()
        store.db.execute(
            """UPDATE items SET name = ?, name_key = ?, parent_id = ?, description = ?, modified_at = ?,
               modified_by = ?, sequence_id = sequence_id + 1 WHERE id = ?""",
            (
                new_name,
                name_key(new_name),
                parent_id,
                row["description"] if description is None else description,
                ts,
                actor_id,
                row["id"],
            ),
        )
        if moved and parent is not None and owner_id != row["owner_id"]:
            _change_owner(store, int(row["id"]), owner_id)
        if renamed:
            record(store, "ITEM_RENAME", int(row["id"]), actor_id, before)
        if moved:
            record(store, "ITEM_MOVE", int(row["id"]), actor_id, before)


def _change_owner(store: Store, item_id: int, owner_id: int) -> None:
    store.db.execute(
        """WITH RECURSIVE t(id) AS (SELECT ? UNION ALL SELECT i.id FROM items i JOIN t ON i.parent_id = t.id)
           UPDATE items SET owner_id = ? WHERE id IN (SELECT id FROM t)""",
        (item_id, owner_id),
    )


def trash(store: Store, row: Row, actor_id: int) -> None:
    with store.tx():
        store.db.execute(
            # trashing removes the item's shared link; a restored item comes back without one
            "UPDATE items SET trashed_at = ?, trashed_by = ?, shared_link = NULL, "
            "sequence_id = sequence_id + 1 WHERE id = ?",
            (now_iso(), actor_id, row["id"]),
        )
        record(store, "ITEM_TRASH", int(row["id"]), actor_id)


def restore(store: Store, row: Row, actor_id: int, name: str | None, parent: tuple[int, int] | None) -> None:
    with store.tx():
        before = audience(store, int(row["id"]))  # Box may restore it elsewhere (its folder is gone)
        new_name = row["name"] if name is None else check_name(name)
        if parent is None:
            parent_row = store.item(int(row["parent_id"])) if row["parent_id"] else None
            if row["parent_id"] and (parent_row is None or not is_live(store, parent_row)):
                # Box restores into the root when the original folder is gone
                parent = (0, int(row["owner_id"]))
            else:
                parent = (int(row["parent_id"]), int(row["owner_id"]))
        existing = conflict(store, parent[0], parent[1], new_name, exclude=row["id"])
        if existing is not None:
            raise conflict_error(store, existing, as_list=False)
        store.db.execute(
            """UPDATE items SET trashed_at = NULL, trashed_by = NULL, name = ?, name_key = ?, parent_id = ?,
               sequence_id = sequence_id + 1 WHERE id = ?""",
            (new_name, name_key(new_name), parent[0], row["id"]),
        )
        record(store, "ITEM_UNDELETE_VIA_TRASH", int(row["id"]), actor_id, before)


def purge(store: Store, row: Row, actor_id: int) -> None:
    with store.tx():
        record(store, "DELETE", int(row["id"]), actor_id)
        store.db.execute(
            """WITH RECURSIVE t(id) AS (SELECT ? UNION ALL SELECT i.id FROM items i JOIN t ON
               i.parent_id = t.id)
               UPDATE items SET purged = 1 WHERE id IN (SELECT id FROM t)""",
            (row["id"],),
        )
