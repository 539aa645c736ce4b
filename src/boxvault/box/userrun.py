"""One user's backup run: nothing changed (a new snapshot of the parent's tree, no listing), an incremental
walk of what the events name, or a full walk; then the commit and the catalog rows."""

from __future__ import annotations

import dataclasses
import functools
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from boxvault.box.catalog import CatalogEntry, SnapshotRef
from boxvault.box.converge import Proof, make_proof
from boxvault.box.errors import describe
from boxvault.box.events import position_now
from boxvault.box.incremental import NeedFullWalk, OldEntries, Plan, make_plan, read_changes
from boxvault.box.model import EPOCH
from boxvault.box.placement import lookup_item
from boxvault.box.report import FAILED, UserReport
from boxvault.box.spool import Spool
from boxvault.box.trashing import Trashing
from boxvault.box.userstate import _node_meta, user_tags
from boxvault.engine.gojson import format_datetime


class UserBackup(Trashing):
    def _events_check(self) -> tuple[bool, str | None, float, list[dict[str, Any]] | None]:
        """(unchanged since the parent snapshot?, position to save with this run's snapshot, time of
        the last full walk, the events since the parent snapshot when only the folders they name
        need listing). Any doubt means a full walk."""
        if not self.options.use_events:
            return False, None, time.time(), None
        saved = self.state.event_position(self.scope, self.user.id)
        try:
            if saved is None or saved[1] != self.parent:
                with self._lock:
                    self.report.listing_pages += 1
                return False, position_now(self.client), time.time(), None
            changes = read_changes(self.client, saved[0])
        except Exception:  # noqa: BLE001 - a lost stream window (or no events API): walk everything
            return False, None, time.time(), None
        with self._lock:
            self.report.listing_pages += changes.pages
        due = time.time() - saved[2] >= self.options.full_walk_days * 86400
        if due or self.options.refresh_extras:
            if due and not self.options.refresh_extras:
                self._due_events = changes.events  # what the incremental path would have used
            return False, changes.position, time.time(), None
        if changes.events:
            return False, changes.position, saved[2], changes.events
        return True, changes.position, saved[2], None

    def _plan(self, events: list[dict[str, Any]]) -> tuple[Plan, OldEntries, bytes] | None:
        """What to relist, or None for a full walk (a new catalog, version history on, unknown events)."""
        if self.options.versions or self.parent is None:
            return None
        old = OldEntries(self.catalog.entries_at(self.scope, self.user.id, self.parent))
        try:
            if not old.count:
                raise NeedFullWalk("no catalog rows")
            plan = make_plan(events, old)
            top = self.repo.load_tree(self.repo.load_snapshot(self.parent).tree)
            login = self.root.lstrip("/")
            mine = [n for n in top if n.name == login and n.type == "dir" and n.subtree is not None]
            if len(mine) != 1:
                raise NeedFullWalk("the user's tree is not in the parent snapshot")
        except NeedFullWalk:
            old.close()
            return None
        except BaseException:
            old.close()
            raise
        subtree = mine[0].subtree
        assert subtree is not None
        return plan, old, subtree

    def _reuse_parent(self, now: datetime, position: str | None, full_walk_at: float) -> UserReport | None:
        """Nothing changed in the user's Box: a new snapshot of the parent's tree, no listing at all.

        None when the catalog does not know the parent's items (a new catalog): then walk.
        """
        assert self.parent is not None
        # spooled to a temporary file, not held: a million-row user reuses its parent in bounded memory
        entries = Spool()
        try:
            for e in self.catalog.entries_at(self.scope, self.user.id, self.parent):
                entries.append(e.values())
            if not entries.count:
                return None
            return self._reuse_spooled(entries, now, position, full_walk_at)
        finally:
            entries.close()

    def _reuse_spooled(
        self, entries: Spool, now: datetime, position: str | None, full_walk_at: float
    ) -> UserReport:
        assert self.parent is not None
        parent = self.repo.load_snapshot(self.parent)
        snap = dataclasses.replace(
            parent,
            time=format_datetime(now),
            parent=bytes.fromhex(self.parent),
            tags=user_tags(self.user.id, self.options.task_id),
            summary=None,
            id="",
        )
        snapshot_id = str(self.repo.save_snapshot(snap))

        def counted() -> Iterator[CatalogEntry]:
            for row in entries:
                e = CatalogEntry(*row)
                self._count_reused(e)
                yield e

        self.catalog.record_snapshot(SnapshotRef(self.scope, self.user.id, snapshot_id, now), counted())
        self.progress.found(entries.count, self.report.bytes)
        self.progress.done(entries.count, self.report.bytes)
        self.report.snapshot_id = snapshot_id
        self.report.unchanged = True
        if position is not None:
            self.state.save_event_position(self.scope, self.user.id, position, snapshot_id, full_walk_at)
        return self.report

    def run(self) -> UserReport:
        started = time.monotonic()
        report = self.report
        now = datetime.now(UTC)
        unchanged, position, full_walk_at, events = self._events_check()
        if unchanged:
            reused = self._reuse_parent(now, position, full_walk_at)
            if reused is not None:
                reused.duration = time.monotonic() - started
                return reused
            full_walk_at = time.time()
        builder = self.writer.snapshot(
            hostname=self.options.hostname,
            paths=[self.root],
            tags=user_tags(self.user.id, self.options.task_id),
            time=now,
            parent=self.parent,
        )
        # folders finished during the walk may still take a late item (listed again after a move)
        builder.reopen_finished(self._load_tree)
        try:
            root_attrs = {
                "box.type": b"folder",
                "box.id": b"0",
                "box.user_id": self.user.id.encode(),
                "box.login": self.user.login.encode(),
            }
            # Box's folder 0 has no dates; a fixed one keeps an unchanged tree byte-identical
            builder.add_dir(self.root, meta=_node_meta(EPOCH, EPOCH, root_attrs))
            if self.template_fields is not None:
                # only a run that lists anything asks for the templates (once for all users)
                self.metadata_fields, pages = self.template_fields.get()
                with self._lock:
                    report.listing_pages += pages
            planned = self._plan(events) if events is not None else None
            # an incremental run's copy of the parent's catalog rows serves the trash step too
            old = planned[1] if planned is not None else None
            try:
                if planned is None:
                    full_walk_at = time.time()
                    report.full_walk = True
                    if self._due_events is not None and self.parent is not None and not self.options.versions:
                        rows = list(self.catalog.entries_at(self.scope, self.user.id, self.parent))
                        self._proof = make_proof(self._due_events, rows)
                    self._walk_into(builder)
                else:
                    plan, old, old_tree = planned
                    self._walk_into(
                        builder, functools.partial(self._incremental_items, builder, plan, old, old_tree)
                    )
                self._take_out_gone(builder)
                if not self._stopping():
                    self._rewalk_raced(builder, position)
                for path in self.placements.settle(lookup_item(self.client), self._entries.count):
                    builder.remove(f"{self.root}/{path}")
                    report.relocated += 1
                if not self._stopping():
                    self._capture_trash(builder, old)
            finally:
                if old is not None:
                    old.close()
            if self._stopping():
                raise InterruptedError("stopped")
            snapshot_id = str(builder.commit())
        except BaseException as exc:
            builder.abort()
            self._entries.close()
            self.placements.close()
            self.content.take_pending(self.user.id)  # not durable: never cached
            report.status = FAILED
            report.error = describe(exc)
            report.duration = time.monotonic() - started
            if not isinstance(exc, Exception):
                raise
            return report
        # the commit flushed this snapshot's packs and index: its new content is durable now
        self.content.flush(self.content.take_pending(self.user.id))
        report.snapshot_id = snapshot_id
        # the tree is written: free the builder's nodes before the catalog pass
        del builder
        try:
            entries = self.placements.keep((CatalogEntry(*row) for row in self._entries), self._dropped)
            if self._proof is not None:
                entries = self._proof.collect(entries)
            self.catalog.record_snapshot(SnapshotRef(self.scope, self.user.id, snapshot_id, now), entries)
        finally:
            self._entries.close()
            self.placements.close()
        self.state.save_extras(self.scope, self.user.id, self._extras_rows)
        self.state.save_versions(self.scope, self._versions_rows)
        if position is not None and not report.failed:
            # only a complete snapshot may stand for "the tree as of this position"
            self.state.save_event_position(self.scope, self.user.id, position, snapshot_id, full_walk_at)
        if self._proof is not None and position is not None and not report.failed:
            self._prove(self._proof, position)
        report.duration = time.monotonic() - started
        return report

    def _prove(self, proof: Proof, position: str) -> None:
        """Count what the incremental path would have stored differently (converge.py)."""
        try:
            during = read_changes(self.client, position)  # changes made while this run went on
            with self._lock:
                self.report.listing_pages += during.pages
            events = during.events
        except Exception:  # noqa: BLE001 - without them, a change during the run may count as divergent
            events = []
        items = proof.divergent(events)
        self.report.divergent = len(items)
        self.report.divergent_items = items[:50]
