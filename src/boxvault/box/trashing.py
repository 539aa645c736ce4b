"""The trash step of a user's run (trash.py): after the walk, before the commit."""

from __future__ import annotations

from boxvault.box.errors import describe
from boxvault.box.incremental import OldEntries
from boxvault.box.model import EPOCH
from boxvault.box.trash import TRASH_DIR, list_trash, moved_rows, node_name, trashed_node
from boxvault.box.userstate import _node_meta
from boxvault.box.walking import Walking
from boxvault.engine.builder import SnapshotBuilder


class Trashing(Walking):
    def _capture_trash(self, builder: SnapshotBuilder, old: OldEntries | None = None) -> None:
        """`.box-trash`: each item of the user's Box trash as the previous snapshot held it. `old`: the
        parent's catalog rows when the caller has them already (an incremental run); else read here."""
        if not self.options.trash:
            return
        try:
            trashed, pages = list_trash(self.client)
        except Exception as exc:  # noqa: BLE001 - the live tree is backed up; the trash is reported missing
            with self._lock:
                self.report.fail_item("trash", TRASH_DIR, f"the trash could not be listed: {describe(exc)}")
            return
        with self._lock:
            self.report.listing_pages += pages
        if not trashed:
            return
        if self.parent is None:
            self.report.trash_missed += len(trashed)  # trashed before any backup saw them
            return
        tree = self.repo.load_snapshot(self.parent).tree
        mine = old is None
        if old is None:
            old = OldEntries(self.catalog.entries_at(self.scope, self.user.id, self.parent))
        try:
            taken: set[str] = set()
            added = False
            for item in trashed:
                was = old.place_of(item.id, item.type)
                node = self.repo.node_at(tree, f"{self.root}/{was}") if was else None
                if node is None or node.xattr("box.id") != item.id.encode():
                    self.report.trash_missed += 1
                    continue
                if not added:
                    # no box.* attributes (as .box-versions): not a Box item; a fixed time keeps it stable
                    builder.add_dir(f"{self.root}/{TRASH_DIR}", meta=_node_meta(EPOCH, EPOCH, {}))
                    added = True
                assert was is not None
                name = node_name(item, taken)
                rel = f"{TRASH_DIR}/{name}"
                builder.add_node(f"{self.root}/{rel}", trashed_node(node, item, name, was))
                for e in moved_rows(old.subtree(was), was, rel):
                    with self._lock:
                        self._entries.append(e.values())
                        self._count_reused(e)
            if added:
                builder.finish_dir(f"{self.root}/{TRASH_DIR}")  # written now, as every walked folder is
        finally:
            if mine:
                old.close()
