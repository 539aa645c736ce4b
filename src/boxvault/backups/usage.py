"""Storage usage of a task and of each of its Box users, without reading file content.

- **stored bytes**: the size of every pack file (a listing of `data/`; nothing is read). This is what the
  storage bills: deduplicated, compressed, encrypted, including bytes a prune has not yet removed.
- **referenced bytes**: the stored size of the blobs some snapshot needs (index entries).
- per user: **latest logical bytes** (the files of the user's newest snapshot, as Box counts them: from the
  snapshot's summary, else the sum of its file sizes), **exclusive bytes** (stored size of the blobs only this
  user's snapshots need: what deleting the user would free), and **share bytes** (each blob's stored size
  divided evenly among the users needing it; the shares add up to the referenced bytes).
- **Box's previous versions** (tasks that capture them): how many the users' newest snapshots hold and their
  size as Box counts it, and the stored size of the blobs only they need (what not capturing versions would
  have saved: a version whose bytes a current file also has costs nothing).

Computing reads the index and the tree blobs (folder listings), never a data blob; each tree is read once per
user however many snapshots share it. It runs after each backup, erasure, retention and purge job (at most
once a minute per task: a batch of users' backups marks the figures stale and the periodic refresh
recomputes them once).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from datetime import timedelta
from typing import Any

from django.db import transaction

from boxvault.backups.models import StorageUsage, Task, TaskUser
from boxvault.core import clock

log = logging.getLogger(__name__)
DEBOUNCE = timedelta(seconds=60)
VERSIONS_DIR = ".box-versions"  # box/versions.py: /<login>/.box-versions/<file id>/<version>
REFRESH_AFTER = ("backup", "erasure", "retention", "purge")


def _user_of(snapshot: Any) -> str:
    return next((t[5:] for t in snapshot.tags if t.startswith("user:")), "")


def _walk(
    repo: Any,
    tree: bytes,
    seen_trees: set[bytes],
    blobs: set[tuple[str, bytes]],
    skip: frozenset[bytes] = frozenset(),
) -> int:
    """Add every tree and data blob below `tree` (but not below the trees of `skip`) to `blobs`; the
    logical size of the files found."""
    size = 0
    stack = [tree]
    while stack:
        tid = stack.pop()
        if tid in seen_trees or tid in skip:
            continue
        seen_trees.add(tid)
        blobs.add(("tree", tid))
        for node in repo.load_tree(tid):
            if node.type == "file":
                size += node.size
                for blob in node.content or []:
                    blobs.add(("data", blob))
            elif node.subtree is not None:
                stack.append(node.subtree)
    return size


def _versions_tree(repo: Any, snapshot: Any) -> bytes | None:
    """The subtree of the user's `.box-versions` folder in `snapshot` (None: no versions captured)."""
    root = snapshot.paths[0] if snapshot.paths else ""
    node = repo.node_at(snapshot.tree, f"{root}/{VERSIONS_DIR}")
    return node.subtree if node is not None else None


def _count(repo: Any, tree: bytes) -> tuple[int, int]:
    """(files, logical bytes) below `tree`."""
    files = size = 0
    stack = [tree]
    while stack:
        for node in repo.load_tree(stack.pop()):
            if node.type == "file":
                files, size = files + 1, size + node.size
            elif node.subtree is not None:
                stack.append(node.subtree)
    return files, size


def _latest_size(repo: Any, snapshot: Any) -> int:
    summary = snapshot.summary or {}
    if isinstance(summary.get("total_bytes_processed"), int):
        return int(summary["total_bytes_processed"])
    return _walk(repo, snapshot.tree, set(), set())


def compute(task: Task) -> dict[str, Any]:
    """The figures (see the module's docstring) straight from the repository."""
    from boxvault.backups.repository import open_repository

    if not task.repository_id:
        return {
            "stored_bytes": 0, "packs": 0, "referenced_bytes": 0, "snapshots": 0, "users": {}, "versions": {}
        }  # fmt: skip
    logins = dict(TaskUser.objects.filter(task=task).values_list("box_user_id", "login"))
    with open_repository(task) as repo:
        listing = list(repo.backend.list("data"))
        snapshots = repo.list_snapshots()
        by_user: dict[str, list[Any]] = defaultdict(list)
        for snap in snapshots:
            by_user[_user_of(snap)].append(snap)
        needed: dict[tuple[str, bytes], set[str]] = defaultdict(set)
        users: dict[str, dict[str, Any]] = {}
        version_blobs: set[tuple[str, bytes]] = set()  # below some .box-versions folder
        other_blobs: set[tuple[str, bytes]] = set()  # anywhere else
        versions_held = versions_bytes = 0
        for user, snaps in by_user.items():
            blobs: set[tuple[str, bytes]] = set()
            seen: set[bytes] = set()
            newest = max(snaps, key=lambda s: s.time_ns)
            vtrees = {snap.id: _versions_tree(repo, snap) for snap in snaps}
            skip = frozenset(t for t in vtrees.values() if t is not None)
            for snap in snaps:
                _walk(repo, snap.tree, seen, blobs, skip)
            other_blobs |= blobs
            own_versions: set[tuple[str, bytes]] = set()
            for vtree in skip:
                _walk(repo, vtree, seen, own_versions)  # each tree read once, as for the rest
            version_blobs |= own_versions
            blobs |= own_versions
            if vtrees.get(newest.id) is not None:
                held, size = _count(repo, vtrees[newest.id])
                versions_held, versions_bytes = versions_held + held, versions_bytes + size
            for key in blobs:
                needed[key].add(user)
            users[user] = {
                "login": logins.get(user, ""),
                "snapshots": len(snaps),
                "latest_snapshot": newest.id,
                "latest_time": newest.datetime.isoformat(),
                "latest_logical_bytes": _latest_size(repo, newest),
                "share_bytes": 0,
                "exclusive_bytes": 0,
            }
        referenced = 0
        shares: dict[str, float] = defaultdict(float)
        for (kind, blob_id), holders in needed.items():
            loc = repo.lookup(blob_id, kind)
            if loc is None:
                continue  # check reports it; usage counts what is stored
            referenced += loc.length
            for user in holders:
                shares[user] += loc.length / len(holders)
            if len(holders) == 1:
                users[next(iter(holders))]["exclusive_bytes"] += loc.length
        only_versions = 0
        for kind, blob_id in version_blobs - other_blobs:
            loc = repo.lookup(blob_id, kind)
            only_versions += loc.length if loc is not None else 0
    for user, share in shares.items():
        users[user]["share_bytes"] = round(share)
    return {
        "versions": {
            "held": versions_held,
            "logical_bytes": versions_bytes,
            "stored_bytes_only_for_them": only_versions,
        }
        if version_blobs
        else {},
        "stored_bytes": sum(size for _name, size in listing),
        "packs": len(listing),
        "referenced_bytes": referenced,
        "snapshots": len(snapshots),
        "users": users,
    }


def refresh(task: Task) -> StorageUsage:
    figures = compute(task)
    with transaction.atomic():
        row, _ = StorageUsage.objects.update_or_create(
            task=task, defaults={**figures, "computed_at": clock.now(), "stale": False}
        )
        # the users table's Size column: the newest snapshot's logical size
        for user, doc in figures["users"].items():
            TaskUser.objects.filter(task=task, box_user_id=user).update(size=doc["latest_logical_bytes"])
    return row


def after_job(task_id: int, *, force: bool = False) -> None:
    """A backup or prune changed the repository: recompute now, or (a backup of a batch, computed moments
    ago) mark stale for the periodic refresh. Prunes (`force`) always recompute: they are rare."""
    task = Task.objects.filter(pk=task_id).first()
    if task is None:
        return
    row = StorageUsage.objects.filter(task=task).first()
    if not force and row is not None and abs(clock.now() - row.computed_at) < DEBOUNCE:
        StorageUsage.objects.filter(pk=row.pk).update(stale=True)
        return
    refresh(task)


def refresh_stale() -> int:
    """The periodic pass: recompute every usage marked stale."""
    done = 0
    for row in StorageUsage.objects.filter(stale=True).select_related("task"):
        try:
            refresh(row.task)
            done += 1
        except Exception:
            log.exception("usage of task %s could not be computed", row.task_id)
    return done


def usage_json(task: Task) -> dict[str, Any]:
    """`GET /api/v1/tasks/{id}/usage/` (computed on first request when there is none yet)."""
    row = StorageUsage.objects.filter(task=task).first()
    if row is None:
        row = refresh(task)
    users = [
        {"box_user_id": user, **doc}
        for user, doc in sorted(row.users.items(), key=lambda item: -int(item[1].get("share_bytes", 0)))
    ]
    return {
        "task": task.pk,
        "computed_at": row.computed_at.isoformat(),
        "stale": row.stale,
        "stored_bytes": row.stored_bytes,
        "packs": row.packs,
        "referenced_bytes": row.referenced_bytes,
        "unreferenced_bytes": max(0, row.stored_bytes - row.referenced_bytes),
        "snapshots": row.snapshots,
        "versions": row.versions,
        "users": users,
    }
