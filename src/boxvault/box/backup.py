"""Back up Box users into a restic-format repository: one snapshot per user per run.

For each user: list the tree as that user (parallel listing), add folders as directories, reuse the
blob list of every file version the repository already holds, download the rest (bounded pool,
sha1-checked, streamed into the engine), commit the snapshot, then record the catalog ranges.
Mapping and dedup rules: docs/box.md.
"""

from __future__ import annotations

import dataclasses
import functools
import importlib
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import stamina

from boxvault.box.blobcache import BlobCache, CachedContent
from boxvault.box.catalog import Catalog, CatalogEntry, SnapshotRef
from boxvault.box.connect import BoxConnection
from boxvault.box.content import ContentStore
from boxvault.box.converge import Proof, make_proof
from boxvault.box.download import ChecksumMismatch, DownloadError, download
from boxvault.box.errors import describe
from boxvault.box.events import position_now
from boxvault.box.extras import apply_listed_metadata, capture, fingerprint, metadata_fields
from boxvault.box.incremental import NeedFullWalk, OldEntries, Plan, make_plan, read_changes
from boxvault.box.model import EPOCH, BoxItem
from boxvault.box.placement import Placements, gone, lookup_item
from boxvault.box.progress import Progress, ProgressCallback
from boxvault.box.recheck import plan_rewalk, raced_folders
from boxvault.box.report import FAILED, PARTIAL, RunReport, UserReport, overall
from boxvault.box.spool import Spool
from boxvault.box.state import StateStore
from boxvault.box.users import BoxUser, UserChanges, diff_users, list_users, me
from boxvault.box.versions import VERSIONS_DIR, OldVersion, list_old_versions
from boxvault.box.walker import ROOT_ID, WalkError, WalkStats, _list_folder, is_gone, walk
from boxvault.engine.gojson import format_datetime
from boxvault.engine.tree import Node


class RootUnavailable(Exception):
    """The user's folder 0 could not be listed."""


@dataclass
class BackupOptions:
    enterprise_id: str
    task_id: str = "cli"
    list_workers: int = 4
    download_workers: int = 4
    user_workers: int = 2
    metadata: bool = True  # capture metadata instances (one request per new/changed item)
    versions: bool = False  # also keep Box's previous versions of each file
    use_events: bool = True  # skip users whose events stream shows no change since their last snapshot
    full_walk_days: float = 7.0  # but list everything at least this often (what events do not report)
    refresh_extras: bool = False  # ask for every item's collaborations/comments/metadata again
    checkpoint_seconds: float = 30.0
    verify_attempts: int = 3  # downloads whose sha1 does not match are tried this many times in all
    should_stop: Callable[[], bool] | None = None

    @property
    def hostname(self) -> str:
        return f"box-{self.enterprise_id}"


def user_tags(box_user_id: str, task_id: str) -> list[str]:
    return ["box", f"user:{box_user_id}", f"task:{task_id}"]


def _node_meta(mtime: datetime, ctime: datetime | None, xattrs: dict[str, bytes]) -> Any:
    # looked up at run time until the engine's writer module lands (engine contract: NodeMeta)
    node_meta = importlib.import_module("boxvault.engine").NodeMeta
    return node_meta(mtime=mtime, ctime=ctime, extended_attributes=xattrs)


def _catalog_entry(item: BoxItem) -> CatalogEntry:
    return CatalogEntry(
        item_id=item.id,
        item_type=item.type,
        path=item.path,
        name=item.name,
        version_id=item.version_id,
        sha1=item.sha1,
        etag=item.etag,
        size=item.size,
        created_by=item.created_by,
        modified_by=item.modified_by,
        owned_by=item.owned_by,
        created_at=item.created_at,
        modified_at=item.modified_at,
        content_modified_at=item.content_modified_at,
    )


class _Checkpointer:
    """Makes everything stored so far durable every few seconds, then lets the blob cache know."""

    def __init__(self, writer: Any, content: ContentStore, interval: float) -> None:
        self.writer = writer
        self.content = content
        self.interval = interval
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="box-checkpoint", daemon=True)

    def start(self) -> None:
        if self.interval > 0:
            self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.checkpoint()

    def checkpoint(self) -> None:
        with self._lock:
            # taken *before* the checkpoint: these entries' blobs were added earlier, so they are
            # durable once it returns; entries added meanwhile wait for the next one
            entries = self.content.take_pending()
            self.writer.checkpoint()
            self.content.flush(entries)

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()


class _TemplateFields:
    """The `metadata.<scope>.<templateKey>` listing fields, asked for once per run when first needed."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self._lock = threading.Lock()
        self._asked = False
        self._fields: list[str] | None = None

    def get(self) -> tuple[list[str] | None, int]:
        """(fields or None to ask per item, requests made by this call)."""
        with self._lock:
            if self._asked:
                return self._fields, 0
            self._asked = True
            try:
                self._fields, pages = metadata_fields(self.client)
            except Exception:  # noqa: BLE001 - no templates API (or no right to it): metadata per item
                return None, 1
            return self._fields, pages


class _UserBackup:
    def __init__(
        self,
        conn: BoxConnection,
        repo: Any,
        writer: Any,
        user: BoxUser,
        options: BackupOptions,
        content: ContentStore,
        catalog: Catalog,
        state: StateStore,
        progress: Progress,
    ) -> None:
        self.conn = conn
        self.repo = repo
        self.writer = writer
        self.user = user
        self.options = options
        self.content = content
        self.catalog = catalog
        self.state = state
        self.progress = progress
        self.client = conn.as_user(user.id)
        self.scope = options.enterprise_id
        self.report = UserReport(box_user_id=user.id, login=user.login)
        self.root = "/" + user.login
        self._lock = threading.Lock()
        self._entries = Spool()  # CatalogEntry values, written to the catalog after the commit
        self._extras_rows: list[tuple[str, str, dict[str, bytes]]] = []
        self._versions_rows: list[tuple[str, str, list[OldVersion]]] = []
        self.parent: str | None = None  # the user's previous snapshot
        # `metadata.<scope>.<template>` fields asked for in listings (None: metadata asked per item)
        self.metadata_fields: list[str] | None = None
        self.template_fields: _TemplateFields | None = None
        self.placements = Placements()  # one Box item, one place (placement.py)
        self._due_events: list[dict[str, Any]] | None = None  # a scheduled full walk's events (converge.py)
        self._proof: Proof | None = None
        self._gone: list[str] = []  # folders Box answered 404 for while the run listed them

    def _stopping(self) -> bool:
        return self.options.should_stop is not None and self.options.should_stop()

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
        old = list(self.catalog.entries_at(self.scope, self.user.id, self.parent))
        if not old:
            return None
        try:
            plan = make_plan(events, old)
        except NeedFullWalk:
            return None
        top = self.repo.load_tree(self.repo.load_snapshot(self.parent).tree)
        login = self.root.lstrip("/")
        mine = [n for n in top if n.name == login and n.type == "dir" and n.subtree is not None]
        if len(mine) != 1:
            return None
        subtree = mine[0].subtree
        assert subtree is not None
        return plan, OldEntries(old), subtree

    def _reuse_parent(self, now: datetime, position: str | None, full_walk_at: float) -> UserReport | None:
        """Nothing changed in the user's Box: a new snapshot of the parent's tree, no listing at all.

        None when the catalog does not know the parent's items (a new catalog): then walk.
        """
        assert self.parent is not None
        entries = list(self.catalog.entries_at(self.scope, self.user.id, self.parent))
        if not entries:
            return None
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
        self.catalog.record_snapshot(SnapshotRef(self.scope, self.user.id, snapshot_id, now), entries)
        for e in entries:
            if e.item_type == "folder":
                self.report.folders += 1
            elif e.item_type == "file_version":
                self.report.versions += 1
            else:
                self.report.files += 1
                self.report.bytes += e.size
                self.report.reused += e.item_type == "file"
                self.report.web_links += e.item_type == "web_link"
        self.progress.found(len(entries), self.report.bytes)
        self.progress.done(len(entries), self.report.bytes)
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
                builder.remove(f"{self.root}/{path}", self.repo.load_tree)
                report.relocated += 1
            if self._stopping():
                raise InterruptedError("stopped")
            snapshot_id = str(builder.commit())
        except BaseException as exc:
            builder.abort()
            self._entries.close()
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

    def _take_out_gone(self, builder: Any) -> None:
        rows = self._entries.count
        for path in self._gone:
            builder.remove(f"{self.root}/{path}", self.repo.load_tree)
            self.placements.take_out(path, rows)
        self._gone = []

    def _rewalk_raced(self, builder: Any, position: str | None) -> None:
        """Folders renamed or moved while the walk ran: listed again where they are now (recheck.py)."""
        if position is None:
            return
        try:
            raced, pages = raced_folders(self.client, position)
            with self._lock:
                self.report.listing_pages += pages
            rewalk = plan_rewalk(
                self.client,
                self.user.id,
                self.placements,
                raced,
                self.metadata_fields or (),
            )
        except Exception:  # noqa: BLE001 - no events now: the next run's events replay the changes
            return
        rows = self._entries.count
        for path in rewalk.take_out:
            builder.remove(f"{self.root}/{path}", self.repo.load_tree)
            self.placements.take_out(path, rows)
        for folder in rewalk.walk:

            def again(
                stats: WalkStats, on_error: Callable[[WalkError], None], folder: BoxItem = folder
            ) -> Iterator[BoxItem]:
                yield folder
                yield from walk(
                    self.client,
                    workers=self.options.list_workers,
                    on_error=on_error,
                    stats=stats,
                    root_id=folder.id,
                    root_path=folder.path,
                    extra_fields=self.metadata_fields or (),
                )

            self._walk_into(builder, again)
        self._take_out_gone(builder)

    def _dropped(self, e: CatalogEntry) -> None:
        """A row of a place taken back (placement.py): it no longer counts."""
        with self._lock:
            if e.item_type == "folder":
                self.report.folders -= 1
            elif e.item_type != "file_version":
                self.report.files -= 1
                self.report.bytes -= e.size
                self.report.web_links -= e.item_type == "web_link"

    def _reused_entry(self, e: CatalogEntry) -> None:
        self.placements.add(e.item_id, e.item_type, e.path, e.name)
        with self._lock:
            self._entries.append(e.values())
            if e.item_type == "folder":
                self.report.folders += 1
            elif e.item_type == "file_version":
                self.report.versions += 1
            else:
                self.report.files += 1
                self.report.bytes += e.size
                self.report.reused += e.item_type == "file"
                self.report.web_links += e.item_type == "web_link"
        size = e.size if e.item_type == "file" else 0
        self.progress.found(1, size)
        self.progress.done(1, size)

    def _incremental_items(
        self,
        builder: Any,
        plan: Plan,
        old: OldEntries,
        old_tree: bytes,
        stats: WalkStats,
        on_error: Callable[[WalkError], None],
    ) -> Iterator[BoxItem]:
        """The items of the marked folders (to add as a walk's); everything else is taken from the
        previous tree right here: nodes as they are, with their catalog rows (see incremental.py)."""
        lock = threading.Lock()

        def rel(parent: str, name: str) -> str:
            return f"{parent}/{name}" if parent else name

        def box_id(node: Node) -> str | None:
            for key, value in node.extended_attributes:
                if key == "box.id":
                    return value.decode()
            return None

        def reuse(path: str, node: Node) -> None:
            builder.add_node(f"{self.root}/{path}", node)
            for e in old.subtree(path):
                self._reused_entry(e)

        old_folder_path = {e.item_id: e.path for e in old.rows if e.item_type == "folder"}

        def graft(path: str, subtree: bytes, folder_id: str) -> None:
            # the previous subtree under the folder's place now; its catalog rows are found at the
            # folder's previous path (a folder listed under another name or parent than last time)
            was = old_folder_path.get(folder_id, path)
            for node in self.repo.load_tree(subtree):
                builder.add_node(f"{self.root}/{rel(path, node.name)}", node)
            for e in old.subtree(was):
                if e.path != was:
                    self._reused_entry(dataclasses.replace(e, path=path + e.path[len(was) :]))

        def visit(folder_id: str, path: str, subtree: bytes | None) -> Iterator[BoxItem]:
            if folder_id in plan.subtrees or subtree is None:
                yield from walk(
                    self.client,
                    workers=self.options.list_workers,
                    on_error=on_error,
                    stats=stats,
                    root_id=folder_id,
                    root_path=path,
                    extra_fields=self.metadata_fields or (),
                )
                return
            if folder_id in plan.relist:
                folder = BoxItem(type="folder", id=folder_id, name="", parent_id=None, path=path)
                try:
                    children = _list_folder(self.client, folder, stats, lock, self.metadata_fields or ())
                except Exception as exc:  # noqa: BLE001 - reported per folder, as in a walk
                    on_error(WalkError(folder_id, path, f"listing failed: {describe(exc)}", is_gone(exc)))
                    return
                previous = {box_id(n): n for n in self.repo.load_tree(subtree) if n.type == "dir"}
                for child in children:
                    yield child
                    if child.type != "folder":
                        continue
                    prev = previous.get(child.id)
                    if prev is None or prev.subtree is None or child.id in plan.descend:
                        yield from visit(child.id, child.path, prev.subtree if prev is not None else None)
                    else:
                        graft(child.path, prev.subtree, child.id)
                return
            # nothing changed in this folder itself: its children are the previous tree's
            for node in self.repo.load_tree(subtree):
                path_ = rel(path, node.name)
                fid = box_id(node)
                if node.type == "dir" and fid is not None and fid in plan.descend:
                    below = node.subtree
                    builder.add_dir_node(f"{self.root}/{path_}", node)
                    for e in old.exact(path_):
                        self._reused_entry(e)
                    yield from visit(fid, path_, below)
                else:
                    reuse(path_, node)

        yield from visit(ROOT_ID, "", old_tree)

    def _walk_into(
        self,
        builder: Any,
        items: Callable[[WalkStats, Callable[[WalkError], None]], Iterator[BoxItem]] | None = None,
    ) -> None:
        report = self.report
        walk_stats = WalkStats()
        workers = max(1, self.options.download_workers)
        slots = threading.BoundedSemaphore(workers * 4)  # bounds queued work (and memory) on huge trees
        futures: list[Future[None]] = []

        def on_walk_error(err: WalkError) -> None:
            if err.gone and err.item_id != ROOT_ID:
                # trashed or deleted since its parent was listed (or reused): it leaves this snapshot,
                # and the next run's events say so
                with self._lock:
                    report.vanished += 1
                    self._gone.append(err.path)
                return
            with self._lock:
                report.fail_item(err.item_id, err.path, err.error)
            if err.item_id == ROOT_ID:
                # not even All Files could be listed (As-User refused, user gone, Box down): an empty
                # snapshot would read as "the user deleted everything"; the user fails instead
                raise RootUnavailable(err.error)

        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="box-dl") as pool:
            source = (
                walk(
                    self.client,
                    workers=self.options.list_workers,
                    on_error=on_walk_error,
                    stats=walk_stats,
                    extra_fields=self.metadata_fields or (),
                )
                if items is None
                else items(walk_stats, on_walk_error)
            )
            for item in source:
                if self._stopping():
                    break
                self.progress.found(1, item.size if item.type == "file" else 0)
                self.placements.add(item.id, item.type, item.path, item.name)
                try:
                    job = self._inline(builder, item)
                except Exception as exc:  # noqa: BLE001 - one item's failure is reported, the run goes on
                    with self._lock:
                        report.fail_item(item.id, item.path, describe(exc))
                    continue
                if job is None:
                    continue
                slots.acquire()
                future = pool.submit(self._process, builder, item, *job)
                future.add_done_callback(lambda _f: slots.release())
                futures.append(future)
                if len(futures) > 4096:
                    futures = [f for f in futures if not f.done()]
            for future in futures:
                future.result()
        report.listing_pages += walk_stats.pages
        self.progress.set_user(self.user.login, walking=False)

    def _inline(self, builder: Any, item: BoxItem) -> tuple[str, bool] | None:
        """Add what needs no request right away; otherwise return the (fingerprint, capture) of a job."""
        fp = fingerprint(item, self.options.metadata)
        needs_capture = self._needs_capture(item)
        if needs_capture and not self.options.refresh_extras:
            cached = self.state.extras(self.scope, self.user.id, item.id, fp)
            if cached is not None:
                item.extras = cached
                needs_capture = False
        item.extras = apply_listed_metadata(item, item.extras)
        if item.type == "folder":
            # folders inline: their metadata is set before any child can be added below them
            self._capture(item, fp, needs_capture)
            builder.add_dir(self._path(item), meta=_node_meta(item.mtime, item.ctime, item.xattrs()))
            self._done(item)
            with self._lock:
                self.report.folders += 1
            return None
        with_history = self.options.versions and item.version_number > 1
        if not needs_capture and not with_history and self._try_inline(builder, item):
            return None
        return fp, needs_capture

    def _needs_capture(self, item: BoxItem) -> bool:
        if item.type == "web_link":
            return False
        metadata = self.options.metadata and item.listed_metadata is None
        return item.has_collaborations or item.comment_count > 0 or metadata

    def _capture(self, item: BoxItem, fp: str, needed: bool) -> None:
        if not needed:
            return
        try:
            metadata = self.options.metadata and item.listed_metadata is None
            item.extras = apply_listed_metadata(item, capture(self.client, item, metadata=metadata))
        except Exception as exc:  # noqa: BLE001 - the item is still backed up, without its extras
            with self._lock:
                self.report.fail_item(
                    item.id, item.path, f"collaborations/comments/metadata: {describe(exc)}"
                )
            return
        with self._lock:
            self._extras_rows.append((item.id, fp, item.extras))
            if len(self._extras_rows) >= 1000:
                # a cache of what Box said, right whether or not this snapshot commits: no need to hold it
                rows, self._extras_rows = self._extras_rows, []
                self.state.save_extras(self.scope, self.user.id, rows)

    def _path(self, item: BoxItem) -> str:
        return f"{self.root}/{item.path}"

    def _done(self, item: BoxItem, reused: bool = False, downloaded: int = 0) -> None:
        with self._lock:
            self._entries.append(_catalog_entry(item).values())
            if item.type != "folder":
                self.report.files += 1
                self.report.bytes += item.size
                if item.type == "web_link":
                    self.report.web_links += 1
                if reused:
                    self.report.reused += 1
                if downloaded:
                    self.report.downloaded += 1
                    self.report.downloaded_bytes += downloaded
        self.progress.done(1, item.size if item.type == "file" else 0, downloaded)

    def _try_inline(self, builder: Any, item: BoxItem) -> bool:
        """Web links and already stored content need no request: add them from the walking thread."""
        if item.type == "web_link":
            with builder.add_file(
                self._path(item), meta=_node_meta(item.mtime, item.ctime, item.xattrs())
            ) as f:
                f.write(item.web_link_content())
            self._done(item)
            return True
        hit = self.content.find(item.id, item.version_id, item.sha1, item.size)
        if hit is None:
            return False
        self._add_blobs(builder, item, hit)
        return True

    def _add_blobs(self, builder: Any, item: BoxItem, hit: CachedContent) -> None:
        builder.add_file_blobs(
            self._path(item),
            content=list(hit.blobs),
            size=hit.size,
            meta=_node_meta(item.mtime, item.ctime, item.xattrs()),
        )
        self._done(item, reused=True)

    def _process(self, builder: Any, item: BoxItem, fp: str, needs_capture: bool) -> None:
        try:
            self._capture(item, fp, needs_capture)
            if item.type == "web_link":
                self._try_inline(builder, item)
                return
            meta = _node_meta(item.mtime, item.ctime, item.xattrs())
            reused, downloaded = self._store(
                builder, self._path(item), item.id, item.version_id, item.sha1, item.size, meta
            )
            self._done(item, reused=reused, downloaded=downloaded)
        except Exception as exc:  # noqa: BLE001 - one item's failure is reported, the run goes on
            with self._lock:
                if gone(exc):
                    self.report.vanished += 1  # trashed or deleted since it was listed: not stored
                else:
                    self.report.fail_item(item.id, item.path, describe(exc))
            return
        if self.options.versions and item.version_number > 1:
            self._old_versions(builder, item)

    def _old_versions(self, builder: Any, item: BoxItem) -> None:
        """Box's previous versions of the file, as files under /<login>/.box-versions/<file id>/."""
        try:
            olds = self.state.versions(self.scope, item.id, item.version_id or "")
            if olds is None:
                olds = list_old_versions(self.client, item.id)
                with self._lock:
                    self._versions_rows.append((item.id, item.version_id or "", olds))
        except Exception as exc:  # noqa: BLE001 - the current version is stored; its history is not
            with self._lock:
                self.report.fail_item(item.id, item.path, f"version history: {describe(exc)}")
            return
        for old in olds:
            path = f"{self.root}/{VERSIONS_DIR}/{item.id}/{old.node_name()}"
            try:
                reused, downloaded = self._store(
                    builder,
                    path,
                    item.id,
                    old.id,
                    old.sha1,
                    old.size,
                    _node_meta(old.mtime, old.mtime, old.xattrs(item)),
                )
            except Exception as exc:  # noqa: BLE001 - reported per version
                with self._lock:
                    self.report.fail_item(item.id, path, f"version {old.id}: {describe(exc)}")
                continue
            with self._lock:
                self.report.versions += 1
                self.report.downloaded_bytes += downloaded
                self._entries.append(
                    CatalogEntry(
                        item_id=item.id,
                        item_type="file_version",
                        path=path[len(self.root) + 1 :],
                        name=old.name,
                        version_id=old.id,
                        sha1=old.sha1,
                        size=old.size,
                        modified_by=old.modified_by,
                        created_at=old.created_at,
                        modified_at=old.modified_at,
                        content_modified_at=old.modified_at,
                    ).values()
                )
            self.progress.done(0, 0, downloaded)
            del reused

    def _store(
        self,
        builder: Any,
        path: str,
        file_id: str,
        version_id: str | None,
        sha1: str | None,
        size: int,
        meta: Any,
    ) -> tuple[bool, int]:
        """Add one file version's content: reused when the repository holds it, else downloaded.

        Returns (reused, bytes downloaded).
        """
        while True:
            hit = self.content.find(file_id, version_id, sha1, size)
            if hit is not None:
                builder.add_file_blobs(path, content=list(hit.blobs), size=hit.size, meta=meta)
                return True, 0
            other = self.content.claim(sha1)
            if other is None:
                break
            other.result()  # someone else is fetching these bytes: wait, then look again
        try:
            return False, self._download(builder, path, file_id, version_id, sha1, size, meta)
        finally:
            self.content.released(sha1)  # no-op after `stored`

    def _download(
        self,
        builder: Any,
        path: str,
        file_id: str,
        version_id: str | None,
        sha1: str | None,
        size: int,
        meta: Any,
    ) -> int:
        # A sha1 mismatch means Box served other bytes than it listed (the file changed mid-download, or
        # the transfer was damaged): the engine dropped the half-added node, so fetch the whole file again,
        # at once (no backoff: nothing is overloaded).
        for attempt in stamina.retry_context(
            on=ChecksumMismatch,
            attempts=max(1, self.options.verify_attempts),
            timeout=None,
            wait_initial=0.0,
            wait_max=0.0,
            wait_jitter=0.0,
        ):
            with attempt:
                if attempt.num > 1:
                    self.conn.stats.count_retry("sha1")
                if self._stopping():
                    raise DownloadError("stopped")
                with builder.add_file(path, meta=meta, size_hint=max(size, 1)) as f:
                    result = download(
                        self.client,
                        self.conn.stats,
                        file_id,
                        f.write,
                        version_id=version_id,
                        expected_sha1=sha1,
                        expected_size=size,
                        should_stop=self.options.should_stop,
                    )
                stored = f.result
                content = CachedContent(tuple(stored.content), int(stored.size))
                self.content.stored(self.user.id, file_id, version_id, result.sha1, content)
                return result.size
        raise DownloadError("no attempt made")  # pragma: no cover - the last attempt re-raises


def _parents(repo: Any, options: BackupOptions) -> dict[str, str | None]:
    """Each user's newest snapshot, read from the repository (the CLI has no database to ask)."""
    found: dict[str, tuple[int, str]] = {}
    for snap in repo.list_snapshots(host=options.hostname):
        for tag in snap.tags or []:
            if tag.startswith("user:") and (tag[5:] not in found or found[tag[5:]][0] <= snap.time_ns):
                found[tag[5:]] = (snap.time_ns, snap.id)
    return {uid: snap_id for uid, (_, snap_id) in found.items()}


def run_backup(
    conn: BoxConnection,
    repo: Any,
    *,
    options: BackupOptions,
    catalog: Catalog,
    state: StateStore,
    cache: BlobCache,
    user_ids: list[str] | None = None,
    progress: ProgressCallback | None = None,
    users: list[BoxUser] | None = None,
    parents: dict[str, str | None] | None = None,
) -> RunReport:
    """Back up the users; `users` and `parents` (box user id -> previous snapshot id), when the caller
    knows them (the portal's database does), spare the run listing the enterprise's users and every
    snapshot of the repository: then a user's run costs the same whatever the size of the task."""
    started = time.monotonic()
    scope = options.enterprise_id
    user_pages: list[int] = []
    if users is None:
        everyone = list_users(conn.client, pages=user_pages) if conn.impersonate else [me(conn.client)]
        changes = diff_users(state.users(scope), everyone)
        state.save_users(scope, everyone)
    else:
        everyone = list(users)
        changes = UserChanges()  # users are discovered by the caller, not by this run
    by_id = {u.id: u for u in everyone}
    reports: list[UserReport] = []
    chosen: list[BoxUser] = []
    if user_ids:
        for uid in dict.fromkeys(user_ids):
            user = by_id.get(uid)
            if user is None:
                reports.append(
                    UserReport(
                        box_user_id=uid,
                        login="",
                        status=FAILED,
                        error=f"no managed user {uid} in enterprise {scope}",
                    )
                )
            else:
                chosen.append(user)
    else:
        chosen = [u for u in everyone if u.active]
    fields = _TemplateFields(conn.client) if options.metadata else None
    tracker = Progress(progress)
    latest: dict[str, str | None] = dict(parents) if parents is not None else _parents(repo, options)
    with repo.writer() as writer:
        content = ContentStore(cache, lambda blob: bool(repo.has_blob(blob)))
        checkpointer = _Checkpointer(writer, content, options.checkpoint_seconds)
        checkpointer.start()
        try:

            def one(user: BoxUser) -> UserReport:
                tracker.set_user(user.login)
                job = _UserBackup(conn, repo, writer, user, options, content, catalog, state, tracker)
                job.parent = latest.get(user.id)
                job.template_fields = fields
                return job.run()

            with ThreadPoolExecutor(
                max_workers=max(1, options.user_workers), thread_name_prefix="box-user"
            ) as pool:
                reports.extend(pool.map(one, chosen))
        finally:
            checkpointer.stop()
        checkpointer.checkpoint()
    tracker.set_user("", walking=False)
    status = overall(reports)
    if status == FAILED and any(r.status != FAILED for r in reports):
        status = PARTIAL
    return RunReport(
        status=status,
        users=reports,
        requests=conn.stats.snapshot(),
        user_changes=changes.to_json(),
        listing_pages=sum(user_pages) + sum(r.listing_pages for r in reports),
        duration=time.monotonic() - started,
    )
