"""The recovery catalog on the portal's models: `boxvault.box.catalog.Catalog` for one task."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import fields

from django.db import connection, transaction
from django.db.models import Q, QuerySet

from boxvault.backups.models import CatalogSnapshot, CatalogVersion, Task
from boxvault.box.catalog import CatalogDiff, CatalogEntry, CatalogRange, SnapshotRef
from boxvault.core import clock

_COLUMNS = [f.name for f in fields(CatalogEntry)]
_BATCH = 1000


def _entry(row: CatalogVersion) -> CatalogEntry:
    return CatalogEntry(*(getattr(row, c) for c in _COLUMNS))


class DjangoCatalog:
    def __init__(self, task: Task) -> None:
        self.task = task

    def record_snapshot(self, snapshot: SnapshotRef, entries: Iterable[CatalogEntry]) -> CatalogDiff:
        try:
            return self._record(snapshot, entries)
        finally:
            # Called from the backup's per-user threads, which end with the run: their connections would
            # linger until garbage collection.
            if not connection.in_atomic_block:
                connection.close()

    def _record(self, snapshot: SnapshotRef, entries: Iterable[CatalogEntry]) -> CatalogDiff:
        diff = CatalogDiff()
        with transaction.atomic():
            if CatalogSnapshot.objects.filter(snapshot_id=snapshot.snapshot_id).exists():
                return diff  # a retried call: idempotent
            snap = CatalogSnapshot.objects.create(
                task=self.task,
                scope=snapshot.scope,
                box_user_id=snapshot.box_user_id,
                snapshot_id=snapshot.snapshot_id,
                time=snapshot.time,
            )
            open_rows = dict(
                CatalogVersion.objects.filter(
                    task=self.task, box_user_id=snapshot.box_user_id, until_snapshot__isnull=True
                ).values_list("key", "id")
            )
            batch: list[CatalogVersion] = []
            for entry in entries:
                key = entry.key()
                if open_rows.pop(key, None) is not None:
                    diff.unchanged += 1
                    continue
                batch.append(
                    CatalogVersion(
                        task=self.task,
                        scope=snapshot.scope,
                        box_user_id=snapshot.box_user_id,
                        key=key,
                        from_snapshot=snap,
                        **{c: getattr(entry, c) for c in _COLUMNS},
                    )
                )
                if len(batch) >= _BATCH:
                    CatalogVersion.objects.bulk_create(batch)
                    diff.added += len(batch)
                    batch.clear()
            CatalogVersion.objects.bulk_create(batch)
            diff.added += len(batch)
            closing = list(open_rows.values())
            for start in range(0, len(closing), _BATCH):
                CatalogVersion.objects.filter(id__in=closing[start : start + _BATCH]).update(
                    until_snapshot=snap
                )
            diff.closed = len(closing)
        return diff

    def snapshot_states(self, scope: str) -> dict[str, bool]:
        """Every snapshot recorded for the task -> whether it is gone from the repository (box/verify.py)."""
        rows = CatalogSnapshot.objects.filter(task=self.task, scope=scope).values_list(
            "snapshot_id", "forgotten_at"
        )
        return {sid: gone is not None for sid, gone in rows.iterator()}

    def set_forgotten(self, snapshot_ids: list[str], forgotten: bool) -> None:
        when = clock.now() if forgotten else None
        for start in range(0, len(snapshot_ids), _BATCH):
            CatalogSnapshot.objects.filter(
                task=self.task, snapshot_id__in=snapshot_ids[start : start + _BATCH]
            ).update(forgotten_at=when)

    def entries_at(self, scope: str, box_user_id: str, snapshot_id: str) -> Iterator[CatalogEntry]:
        snap = CatalogSnapshot.objects.filter(
            task=self.task, scope=scope, box_user_id=box_user_id, snapshot_id=snapshot_id
        ).first()
        if snap is None:
            return iter(())
        rows = (
            CatalogVersion.objects.filter(
                task=self.task, box_user_id=box_user_id, from_snapshot__id__lte=snap.id
            )
            .filter(Q(until_snapshot__isnull=True) | Q(until_snapshot__id__gt=snap.id))
            .order_by("path")
        )
        return (_entry(r) for r in rows.iterator())

    def _ranges(self, rows: QuerySet[CatalogVersion], limit: int) -> list[CatalogRange]:
        rows = rows.select_related("from_snapshot", "until_snapshot").order_by("from_snapshot_id", "path")[
            :limit
        ]
        return [
            CatalogRange(
                _entry(r),
                r.box_user_id,
                r.from_snapshot.snapshot_id,
                r.until_snapshot.snapshot_id if r.until_snapshot else None,
            )
            for r in rows
        ]

    def history(self, scope: str, item_id: str) -> list[CatalogRange]:
        return self._ranges(
            CatalogVersion.objects.filter(task=self.task, scope=scope, item_id=item_id), 100000
        )

    def search(
        self,
        scope: str,
        *,
        name: str | None = None,
        author: str | None = None,
        box_user_id: str | None = None,
        limit: int = 100,
    ) -> list[CatalogRange]:
        rows = CatalogVersion.objects.filter(task=self.task, scope=scope)
        if name:
            rows = rows.filter(name__icontains=name)
        if author:
            rows = rows.filter(Q(created_by__icontains=author) | Q(modified_by__icontains=author))
        if box_user_id:
            rows = rows.filter(box_user_id=box_user_id)
        return self._ranges(rows, limit)
