"""Compare a recovery catalog with its repository, and repair the catalog from the repository.

The catalog (box/catalog.py; the portal's on its models) is what listings read; the repository is the
truth. Differences come from a database restored from an older backup (snapshots it never recorded), or
snapshots removed from the repository without the catalog being told (a prune run by hand). Repair records
the missing snapshots from their trees (oldest first, after the ones the catalog knows: ranges assume a
user's snapshots are recorded in time order) and marks the gone ones forgotten (their rows stay: other
snapshots' ranges point at them).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

from boxvault.box.catalog import CatalogDiff, CatalogEntry, SnapshotRef
from boxvault.box.restore import node_kind, xattr_text
from boxvault.box.trash import TRASH_DIR, TRASHED
from boxvault.engine.repository import Repository
from boxvault.engine.snapshot import Snapshot


class SnapshotLedger(Protocol):
    """What both catalog implementations offer besides `Catalog`: the snapshots they know."""

    def record_snapshot(self, snapshot: SnapshotRef, entries: Any) -> CatalogDiff: ...
    def snapshot_states(self, scope: str) -> dict[str, bool]:
        """snapshot id -> forgotten?"""
        ...

    def set_forgotten(self, snapshot_ids: list[str], forgotten: bool) -> None: ...


@dataclass
class VerifyReport:
    repository: int = 0  # snapshots in the repository
    catalog: int = 0  # snapshots the catalog lists (not forgotten)
    missing_in_catalog: list[str] = field(default_factory=list)
    missing_in_repository: list[str] = field(default_factory=list)
    wrongly_forgotten: list[str] = field(default_factory=list)
    repaired: bool = False

    @property
    def consistent(self) -> bool:
        return not (self.missing_in_catalog or self.missing_in_repository or self.wrongly_forgotten)

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "consistent": self.consistent}


def user_of(snapshot: Snapshot) -> str:
    return next((t[5:] for t in snapshot.tags or [] if t.startswith("user:")), "")


def entries_from_tree(repo: Repository, snapshot: Snapshot) -> Iterator[CatalogEntry]:
    """The catalog entries of a snapshot, read back from its nodes' `box.*` attributes."""
    root = (snapshot.paths[0] if snapshot.paths else "/").rstrip("/")
    trash = f"{root}/{TRASH_DIR}/"
    for path, node in repo.walk(snapshot):
        item_id = xattr_text(node, "box.id")
        if not item_id or not path.startswith(root + "/"):
            continue  # the user's own top folder, or a node boxvault did not write
        kind = node_kind(node)
        if path.startswith(trash):
            kind = TRASHED + kind  # kept from the user's Box trash (box/trash.py)
        yield CatalogEntry(
            item_id=item_id,
            item_type=kind,
            path=path[len(root) + 1 :],
            name=xattr_text(node, "box.name") or node.name,
            version_id=xattr_text(node, "box.version_id"),
            sha1=xattr_text(node, "box.sha1"),
            etag=xattr_text(node, "box.etag"),
            size=int(node.size or 0) if node.type == "file" and kind != "web_link" else 0,
            created_by=xattr_text(node, "box.created_by"),
            modified_by=xattr_text(node, "box.modified_by"),
            owned_by=xattr_text(node, "box.owner"),
            created_at=xattr_text(node, "box.created_at"),
            modified_at=xattr_text(node, "box.modified_at"),
            content_modified_at=xattr_text(node, "box.content_modified_at"),
        )


def verify_catalog(
    repo: Repository, ledger: SnapshotLedger, scope: str, *, repair: bool = False
) -> VerifyReport:
    """List the repository's snapshots once, compare with the catalog, and repair it when asked."""
    snaps = {s.id: s for s in repo.list_snapshots() if user_of(s)}
    states = ledger.snapshot_states(scope)
    report = VerifyReport(repository=len(snaps), catalog=sum(1 for f in states.values() if not f))
    missing = sorted((s for sid, s in snaps.items() if sid not in states), key=lambda s: (s.time_ns, s.id))
    report.missing_in_catalog = [s.id for s in missing]
    report.missing_in_repository = sorted(
        sid for sid, gone in states.items() if not gone and sid not in snaps
    )
    report.wrongly_forgotten = sorted(sid for sid, gone in states.items() if gone and sid in snaps)
    if repair and not report.consistent:
        for snap in missing:
            ref = SnapshotRef(scope, user_of(snap), snap.id, snap.datetime)
            ledger.record_snapshot(ref, entries_from_tree(repo, snap))
        ledger.set_forgotten(report.missing_in_repository, True)
        ledger.set_forgotten(report.wrongly_forgotten, False)
        report.repaired = True
    return report
