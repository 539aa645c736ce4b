"""A task's snapshots as the recovery pages and the API see them.

A snapshot is named `<task id>:<restic snapshot id>` outside this module: the task part is looked up through
the caller's access (another tenant's task answers 404), the snapshot part must be in that task's own
repository and belong to the Box user the caller browses. Listings (snapshots, dates, sizes, counts) come
from the catalog in the database (CatalogSnapshot, indexed by task, user and time): the repository is opened
only to read a tree or a file. A snapshot written while the database was lost is brought back into the
catalog by `boxvault task verify-catalog TASK --repair` (backups/verify.py).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, overload

from django.db.models import QuerySet
from django.http import Http404

from boxvault.accounts.access import Access, get_for
from boxvault.backups import repository
from boxvault.backups.models import CatalogSnapshot, Task, TaskUser
from boxvault.box.restore import node_kind, xattr_text
from boxvault.core import clock
from boxvault.engine.repository import Repository
from boxvault.engine.snapshot import Snapshot
from boxvault.engine.tree import Node

_REF = re.compile(r"^(\d{1,12}):([0-9a-f]{8,64})$")


class BadRequest(ValueError):
    """Input the caller can fix (a 400 with this message)."""


@dataclass
class Located:
    task: Task
    repo: Repository
    snapshot: Snapshot

    @property
    def ref(self) -> str:
        return make_ref(self.task, self.snapshot)

    @property
    def root(self) -> str:
        return self.snapshot.paths[0] if self.snapshot.paths else "/"

    @property
    def box_user_id(self) -> str:
        return user_of(self.snapshot)


def make_ref(task: Task, snapshot: Snapshot) -> str:
    return f"{task.pk}:{snapshot.id}"


def user_of(snapshot: Snapshot) -> str:
    return next((t[5:] for t in snapshot.tags if t.startswith("user:")), "")


def open_repo(task: Task) -> Repository:
    """The task's repository, read-only use; 404 when the task has no backup yet."""
    from boxvault.engine.storage import open_backend

    backend = open_backend(task.repository)
    if not backend.exists("config"):
        backend.close()
        raise Http404("this task has no backup yet")
    return Repository.open(backend, repository.password(task))


def lock_days(task: Task) -> int | None:
    """Days of S3 object lock the operator requires for this task's location (None: no object lock)."""
    policy = repository.object_lock(task)
    return int(policy.days) if policy else None


def protected_until(time: datetime, days: int | None) -> str | None:
    """When a snapshot's lock ends at the earliest: its file was written at (or after) its time, with the
    retention then in force. None without object lock or once that date has passed. A lower bound that
    needs no storage request; the snapshot page reads the exact date from the object."""
    if not days:
        return None
    until = time + timedelta(days=days)
    return until.isoformat() if until > clock.now() else None


def stored_protected_until(located: Located) -> str | None:
    """The retain-until date S3 holds for this snapshot's file (None when unlocked or expired)."""
    from boxvault.engine.storage.cached import locked_until

    if lock_days(located.task) is None:
        return None
    found = locked_until(located.repo.backend, [f"snapshots/{located.snapshot.id}"])
    return max(found.values()).isoformat() if found else None


def snapshot_rows(
    task: Task, box_user_id: str, start: datetime | None = None, end: datetime | None = None
) -> SnapshotRows:
    """The user's snapshots, newest first, within [start, end] when given (from the catalog), as a lazy
    sequence: a page of it is one indexed LIMIT/OFFSET query and its length one COUNT, so a user backed up
    daily for decades costs a page, not every row (issue 10: p95 < 100 ms at 20,000 snapshots)."""
    rows = CatalogSnapshot.objects.filter(task=task, box_user_id=box_user_id, forgotten_at__isnull=True)
    if start:
        rows = rows.filter(time__gte=start)
    if end:
        rows = rows.filter(time__lte=end)
    login = (
        TaskUser.objects.filter(task=task, box_user_id=box_user_id).values_list("login", flat=True).first()
    )
    root = f"/{login}" if login else "/"
    return SnapshotRows(task.pk, box_user_id, root, rows.order_by("-time", "-id"), lock_days(task))


class SnapshotRows(Sequence[dict[str, Any]]):
    """A catalog query that Django's Paginator can page (len → COUNT, a slice → LIMIT/OFFSET)."""

    COLUMNS = ("snapshot_id", "time", "files", "bytes")  # tuples, not model instances: lists run long

    def __init__(
        self,
        task_id: int,
        box_user_id: str,
        root: str,
        rows: QuerySet[CatalogSnapshot],
        lock_days: int | None,
    ) -> None:
        self.task_id, self.box_user_id, self.root, self.rows = task_id, box_user_id, root, rows
        self.lock_days = lock_days
        self._count: int | None = None

    def __len__(self) -> int:
        if self._count is None:
            self._count = self.rows.count()
        return self._count

    @overload
    def __getitem__(self, index: int) -> dict[str, Any]: ...
    @overload
    def __getitem__(self, index: slice) -> list[dict[str, Any]]: ...
    def __getitem__(self, index: int | slice) -> dict[str, Any] | list[dict[str, Any]]:
        if isinstance(index, slice):
            return [self._row(*values) for values in self.rows.values_list(*self.COLUMNS)[index]]
        return self._row(*self.rows.values_list(*self.COLUMNS)[index])

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return (
            self._row(*values) for values in self.rows.values_list(*self.COLUMNS).iterator(chunk_size=2000)
        )

    def _row(self, snapshot_id: str, time: datetime, files: int | None, size: int | None) -> dict[str, Any]:
        return {
            "id": f"{self.task_id}:{snapshot_id}",
            "snapshot_id": snapshot_id,
            "short_id": snapshot_id[:8],
            "time": time.isoformat(),
            "box_user_id": self.box_user_id,
            "root": self.root,
            "files": files,
            "bytes": size,
            "protected_until": protected_until(time, self.lock_days),
        }


def list_snapshots(
    task: Task, box_user_id: str, start: datetime | None = None, end: datetime | None = None
) -> list[dict[str, Any]]:
    """Every snapshot of the user in the range, newest first (the CLI lists them all; pages use the rows)."""
    return list(snapshot_rows(task, box_user_id, start, end))


def describe(task: Task, snap: Snapshot) -> dict[str, Any]:
    summary = snap.summary or {}
    return {
        "id": make_ref(task, snap),
        "snapshot_id": snap.id,
        "short_id": snap.short_id,
        "time": snap.datetime.isoformat(),
        "box_user_id": user_of(snap),
        "root": snap.paths[0] if snap.paths else "/",
        "files": summary.get("total_files_processed"),
        "bytes": summary.get("total_bytes_processed"),
        "protected_until": protected_until(snap.datetime, lock_days(task)),
    }


def locate(access: Access, ref: str) -> Located:
    """The snapshot behind `ref`, through the caller's tenant; 404 for anything not theirs."""
    match = _REF.match(str(ref or "").strip())
    if not match:
        raise BadRequest("a snapshot is named '<task id>:<snapshot id>'")
    task = get_for(access, Task.objects.all(), pk=int(match.group(1)))
    # a prefix is resolved in the catalog (no listing of the repository's snapshots); one the catalog
    # does not know is still looked up in the repository
    known = list(
        CatalogSnapshot.objects.filter(task=task, snapshot_id__startswith=match.group(2)).values_list(
            "snapshot_id", flat=True
        )[:2]
    )
    repo = open_repo(task)
    try:
        if len(known) == 1:
            snap = repo.load_snapshot(known[0])
        else:
            snap = repo.find_snapshot(match.group(2))
    except Exception as exc:  # unknown or ambiguous prefix: not found, whatever the engine says
        repo.close()
        raise Http404("no such snapshot") from exc
    return Located(task, repo, snap)


def clean_path(located: Located, path: str | None) -> str:
    """An absolute path inside the snapshot (the user's root when empty); BadRequest when outside it."""
    root = located.root.rstrip("/") or "/"
    text = (path or "").strip()
    if not text:
        return root
    if not text.startswith("/"):
        text = f"{root}/{text}"
    parts = [p for p in text.split("/") if p]
    if any(p in (".", "..") for p in parts):
        raise BadRequest("a path may not contain '.' or '..'")
    text = "/" + "/".join(parts)
    if text != root and not text.startswith(root.rstrip("/") + "/"):
        raise BadRequest(f"the path must be inside {root}")
    return text


def find_node(located: Located, path: str) -> Node | None:
    """The node at `path` (None for the snapshot's own top, which has no node)."""
    if not [p for p in path.split("/") if p]:
        return None
    node = located.repo.node_at(located.snapshot.tree, path)
    if node is None:
        raise Http404(f"{path} is not in this snapshot")
    return node


def children(located: Located, path: str) -> list[dict[str, Any]]:
    node = find_node(located, path)
    if node is not None and node.subtree is None:
        raise BadRequest(f"{path} is a file, not a folder")
    tree = node.subtree if node is not None and node.subtree is not None else located.snapshot.tree
    base = path.rstrip("/")
    entries = [entry(f"{base}/{n.name}", n) for n in located.repo.load_tree(tree)]
    entries.sort(key=lambda e: (e["type"] != "folder", e["name"].lower()))
    return entries


def entry(path: str, node: Node) -> dict[str, Any]:
    return {
        "name": node.name,
        "path": path,
        "type": node_kind(node),
        "size": node.size if node.type == "file" else None,
        "modified": node.mtime_dt.isoformat(),
        "box_id": xattr_text(node, "box.id") or "",
        "sha1": xattr_text(node, "box.sha1") or "",
        # an item of the user's Box trash (box/trash.py): when it went there, as Box said
        "trashed_at": _minute(xattr_text(node, "box.trashed_at")),
    }


def _minute(text: str | None) -> str:
    """'2026-12-04T08:50:12-08:00' -> '2026-12-04 08:50' (Box's own clock, as the Box web app shows it)."""
    return f"{text[:10]} {text[11:16]}" if text and len(text) >= 16 else ""
