"""Managed users of an enterprise, and what changed since the previous list (auto-discovery)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from box_sdk_gen.client import BoxClient

from boxvault.box.api import get_json, iter_marker_pages

USER_FIELDS = "id,type,name,login,status,role,created_at,modified_at,space_used"


@dataclass(frozen=True)
class BoxUser:
    id: str
    login: str
    name: str
    status: str  # active | inactive | cannot_delete_edit | cannot_delete_edit_upload

    @property
    def active(self) -> bool:
        return self.status != "inactive"


def list_users(
    client: BoxClient, user_type: str = "managed", pages: list[int] | None = None
) -> list[BoxUser]:
    """Every user of that type; `pages`, when given, gets the number of pages it took appended."""
    users: list[BoxUser] = []
    count = 0
    for page in iter_marker_pages(client, "/2.0/users", {"user_type": user_type, "fields": USER_FIELDS}):
        count += 1
        for raw in page:
            if raw.get("type", "user") != "user":
                continue
            users.append(
                BoxUser(
                    id=str(raw.get("id")),
                    login=str(raw.get("login") or raw.get("id")),
                    name=str(raw.get("name") or ""),
                    status=str(raw.get("status") or "active"),
                )
            )
    if pages is not None:
        pages.append(count)
    return users


def me(client: BoxClient) -> BoxUser:
    """The user the connection authenticates as (an OAuth grant backs up only its own user)."""
    raw = get_json(client, "/2.0/users/me", {"fields": USER_FIELDS})
    return BoxUser(
        id=str(raw.get("id")),
        login=str(raw.get("login") or raw.get("id")),
        name=str(raw.get("name") or ""),
        status=str(raw.get("status") or "active"),
    )


@dataclass
class UserChanges:
    new: list[BoxUser] = field(default_factory=list)  # not in the previous list
    deactivated: list[BoxUser] = field(default_factory=list)  # active before, inactive now
    reactivated: list[BoxUser] = field(default_factory=list)
    deleted: list[BoxUser] = field(default_factory=list)  # in the previous list, gone now (as known before)

    def to_json(self) -> dict[str, list[dict[str, str]]]:
        return {
            k: [{"id": u.id, "login": u.login, "status": u.status} for u in v]
            for k, v in (
                ("new", self.new),
                ("deactivated", self.deactivated),
                ("reactivated", self.reactivated),
                ("deleted", self.deleted),
            )
        }


def diff_users(previous: Iterable[BoxUser], current: Iterable[BoxUser]) -> UserChanges:
    before = {u.id: u for u in previous}
    now = {u.id: u for u in current}
    changes = UserChanges()
    for uid, user in now.items():
        old = before.get(uid)
        if old is None:
            changes.new.append(user)
        elif old.active and not user.active:
            changes.deactivated.append(user)
        elif not old.active and user.active:
            changes.reactivated.append(user)
    changes.deleted = [u for uid, u in before.items() if uid not in now]
    return changes
