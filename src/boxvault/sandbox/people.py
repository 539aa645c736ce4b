"""Enterprise users as an admin changes them: create, update, delete (with or without their content) and
transfer a user's content to another user. Shared by the Box API (`/2.0/users`) and the control plane
(`/_sandbox/users`), so both change a user the same way and record the same admin events."""

from __future__ import annotations

from typing import Any

from . import items
from .errors import BoxError, bad_request, not_found
from .render import user_mini
from .store import Row, Store, is_id, now_iso

ROLES = ("user", "admin", "coadmin")
STATUSES = ("active", "inactive", "cannot_delete_edit", "cannot_delete_edit_upload")


def _admin_event(store: Store, event_type: str, user: Row, actor_id: int) -> None:
    # admin_logs shows one entry per event: the one whose source names its owner (see routes/events.py)
    source = {**user_mini(user), "owned_by": {"type": "user", "id": str(actor_id)}}
    store.add_event(event_type, actor_id, actor_id, source)


def _reload(store: Store, user_id: int) -> Row:
    row = store.user(user_id)
    if row is None:
        raise not_found("user")
    return row


def _login_taken(store: Store, login: str) -> bool:
    return bool(store.scalar("SELECT 1 FROM users WHERE login = ? AND deleted = 0", login))


def create(
    store: Store, actor_id: int, login: Any, name: Any, role: Any = "user", kind: Any = "managed"
) -> Row:
    if not isinstance(name, str) or not name.strip() or len(name) > 50:
        raise bad_request("'name' is required: a string of 1 to 50 characters")
    if not isinstance(login, str) or "@" not in login or len(login) > 254:
        raise bad_request("'login' must be an e-mail address")
    if role not in ROLES:
        raise bad_request(f"'role' must be one of {', '.join(ROLES)}")
    if kind not in ("managed", "external"):
        raise bad_request("'kind' must be managed or external")
    now = now_iso()
    with store.tx():
        if _login_taken(store, login):
            raise BoxError(409, "user_login_already_used", "User with the specified login already exists")
        user_id = int(store.scalar("SELECT COALESCE(MAX(id), 2000000) FROM users") or 0) + 1111
        store.db.execute(
            "INSERT INTO users (id, login, name, role, kind, created_at, modified_at) VALUES (?,?,?,?,?,?,?)",
            (user_id, login, name, role, kind, now, now),
        )
        row = _reload(store, user_id)
        _admin_event(store, "NEW_USER", row, actor_id)
    return row


def get(store: Store, raw_id: Any) -> Row:
    row = store.user(int(raw_id)) if isinstance(raw_id, str) and is_id(raw_id) else None
    if row is None or row["is_service"]:
        raise not_found("user")
    return row


def update(store: Store, actor_id: int, user: Row, body: dict[str, Any]) -> Row:
    changes: dict[str, Any] = {}
    if "name" in body:
        name = body["name"]
        if not isinstance(name, str) or not name.strip() or len(name) > 50:
            raise bad_request("'name' must be a string of 1 to 50 characters")
        changes["name"] = name
    if "login" in body:
        login = body["login"]
        if not isinstance(login, str) or "@" not in login or len(login) > 254:
            raise bad_request("'login' must be an e-mail address")
        if login != user["login"] and _login_taken(store, login):
            raise BoxError(409, "user_login_already_used", "User with the specified login already exists")
        changes["login"] = login
    if "role" in body:
        if body["role"] not in ROLES:
            raise bad_request(f"'role' must be one of {', '.join(ROLES)}")
        changes["role"] = body["role"]
    if "status" in body:
        if body["status"] not in STATUSES:
            raise bad_request(f"'status' must be one of {', '.join(STATUSES)}")
        changes["status"] = body["status"]
    if changes:
        with store.tx():
            sets = ", ".join(f"{column} = ?" for column in changes)  # column names from the fixed set above
            store.db.execute(
                f"UPDATE users SET {sets}, modified_at = ? WHERE id = ?",  # noqa: S608 # nosec B608 # fixed columns
                (*changes.values(), now_iso(), user["id"]),
            )
            row = _reload(store, int(user["id"]))
            _admin_event(store, "EDIT_USER", row, actor_id)
        return row
    return user


def owns_content(store: Store, user_id: int) -> bool:
    return bool(store.scalar("SELECT 1 FROM items WHERE owner_id = ? AND purged = 0 LIMIT 1", user_id))


def delete(store: Store, actor_id: int, user: Row, *, force: bool) -> None:
    """Box refuses to delete a user who still owns content unless forced; forced, the content goes too."""
    with store.tx():
        if not force and owns_content(store, int(user["id"])):
            raise bad_request("User has managed content")
        store.db.execute("UPDATE users SET deleted = 1, status = 'inactive' WHERE id = ?", (user["id"],))
        store.db.execute("UPDATE items SET purged = 1 WHERE owner_id = ?", (user["id"],))
        store.db.execute("DELETE FROM collaborations WHERE user_id = ?", (user["id"],))
        store.db.execute("UPDATE tokens SET revoked = 1 WHERE user_id = ?", (user["id"],))
        _admin_event(store, "DELETE_USER", user, actor_id)


def transfer(store: Store, actor_id: int, source: Row, target: Row) -> int:
    """Move everything `source` owns into a new folder in `target`'s root, as Box's
    `PUT /users/{id}/folders/0` does ("<login> - <name>'s Files and Folders"); returns that folder's id."""
    if int(source["id"]) == int(target["id"]):
        raise bad_request("The source and the destination user are the same")
    with store.tx():
        folder_id = items.create_folder(
            store, 0, int(target["id"]), actor_id, f"{source['login']} - {source['name']}'s Files and Folders"
        )
        store.db.execute(
            "UPDATE items SET parent_id = ? WHERE owner_id = ? AND parent_id = 0 AND id != ?",
            (folder_id, source["id"], folder_id),
        )
        store.db.execute("UPDATE items SET owner_id = ? WHERE owner_id = ?", (target["id"], source["id"]))
    return folder_id
