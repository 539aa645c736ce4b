"""A file's previous versions as a backup holds them, and restoring one of them into Box.

A task that captures versions keeps each file's previous versions under `/<login>/.box-versions/<file id>/`
(`box/versions.py`), with the version's id, number, name and sha1 in the node's `box.*` attributes. Listing
them reads two trees of the snapshot; nothing is downloaded."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db import transaction

from boxvault.accounts.access import Access
from boxvault.backups.models import TaskUser
from boxvault.box.restore import VERSIONS_DIR, node_kind, xattr_text
from boxvault.core.operations import Operation
from boxvault.engine.repository import Repository
from boxvault.engine.snapshot import Snapshot
from boxvault.engine.tree import Node
from boxvault.jobs import services as jobs
from boxvault.jobs.models import Job
from boxvault.recovery.erasing import root_of
from boxvault.recovery.services import audit_request, require_operation
from boxvault.recovery.snapshots import BadRequest, clean_path, entry, locate
from boxvault.security.models import AuditEvent

AS_CHOICES = ("current", "copy")


@dataclass(frozen=True)
class Stored:
    path: str  # the version's own path in the snapshot
    node: Node

    @property
    def id(self) -> str:
        return xattr_text(self.node, "box.version_id") or self.node.name.split(" ", 1)[0]

    @property
    def number(self) -> int:
        text = xattr_text(self.node, "box.version_number") or ""
        return int(text) if text.isdigit() else 0

    def row(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "number": self.number or None,
            "name": xattr_text(self.node, "box.name") or self.node.name.split(" ", 1)[-1],
            "size": self.node.size,
            "sha1": xattr_text(self.node, "box.sha1") or "",
            "modified_at": xattr_text(self.node, "box.modified_at") or self.node.mtime_dt.isoformat(),
            "modified_by": xattr_text(self.node, "box.modified_by") or "",
        }


def stored_versions(repo: Repository, snapshot: Snapshot, path: str) -> tuple[Node, list[Stored]]:
    """The file at `path` and its stored previous versions, newest first (none: an empty list)."""
    node = repo.node_at(snapshot.tree, path)
    if node is None:
        raise BadRequest(f"{path} is not in this snapshot")
    if node.type != "file" or node_kind(node) not in ("file", "file_version"):
        raise BadRequest(f"{path} is not a file: only files have versions")
    box_id = xattr_text(node, "box.id") or ""
    folder_path = f"{root_of(snapshot)}/{VERSIONS_DIR}/{box_id}"
    folder = repo.node_at(snapshot.tree, folder_path) if box_id else None
    if folder is None or folder.subtree is None:
        return node, []
    stored = [
        Stored(f"{folder_path}/{n.name}", n) for n in repo.load_tree(folder.subtree) if n.type == "file"
    ]
    stored.sort(key=lambda s: (s.number, s.node.mtime_dt), reverse=True)
    return node, stored


def files_with_versions(repo: Repository, snapshot: Snapshot) -> set[str]:
    """Box ids of the files whose previous versions this snapshot holds (one tree read)."""
    folder = repo.node_at(snapshot.tree, f"{root_of(snapshot)}/{VERSIONS_DIR}")
    if folder is None or folder.subtree is None:
        return set()
    return {n.name for n in repo.load_tree(folder.subtree)}


def list_versions(access: Access, ref: str, path: str | None) -> dict[str, Any]:
    """The file (its current content in this backup) and its stored previous versions, for page and API."""
    located = locate(access, ref)
    with located.repo:
        clean = clean_path(located, path)
        node, stored = stored_versions(located.repo, located.snapshot, clean)
    return {"file": entry(clean, node), "versions": [s.row() for s in stored]}


def start_version_restore(access: Access, ref: str, path: Any, version_id: Any, as_: Any) -> Job:
    """Queue the restore of one stored version of one file into the source user's Box, as its current
    version (`as_="current"`) or as a copy beside it (`"copy"`); the security audit row in the same
    transaction."""
    require_operation(access, Operation.RESTORE, "restoring")
    if as_ not in AS_CHOICES:
        raise BadRequest("as must be current or copy")
    if not isinstance(path, str) or not isinstance(version_id, str) or not version_id.strip():
        raise BadRequest("path and version_id are required")
    located = locate(access, ref)
    with located.repo:
        clean = clean_path(located, path)
        _node, stored = stored_versions(located.repo, located.snapshot, clean)
    chosen = next((s for s in stored if s.id == version_id.strip()), None)
    if chosen is None:
        raise BadRequest(
            f"version {version_id.strip()} of {clean} is not in this backup"
            + ("" if stored else " (it holds no previous versions of this file)")
        )
    source = TaskUser.objects.filter(task=located.task, box_user_id=located.box_user_id).first()
    if source is None or source.status == TaskUser.Status.ARCHIVED:
        raise BadRequest("the file's owner was deleted in Box (Archived): restore the file to another user")
    label = f"version {chosen.number or chosen.id}"
    where = f"Box: {source.login} ({'as the current version' if as_ == 'current' else 'a copy beside it'})"
    with transaction.atomic():
        job = jobs.enqueue(
            account=access.account,
            kind="restore",
            initiator=access.user,
            task=located.task,
            box_user_id=located.box_user_id,
            box_user_login=source.login,
            destination=where[:500],
            params={
                "snapshot": located.ref,
                "paths": [clean],
                "mode": "replace",
                "destination": {"box_user_id": located.box_user_id, "folder_id": "0"},
                "version": {"id": chosen.id, "path": chosen.path, "as": as_},
            },
        )
        audit_request(
            access,
            job,
            AuditEvent.Activity.RESTORE,
            f"Restore of {label} of {clean} from {located.ref} into {where}",
        )
    return job
