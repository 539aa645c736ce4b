"""A user's tree into the snapshot: a full walk, or an incremental one that relists only the folders the
events name and grafts the rest from the previous tree (incremental.py); folders that raced the walk are
listed again where they are now (recheck.py)."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor

from boxvault.box.errors import describe
from boxvault.box.incremental import OldEntries, Plan
from boxvault.box.model import BoxItem
from boxvault.box.postorder import PostOrder
from boxvault.box.recheck import plan_rewalk, raced_folders
from boxvault.box.storing import Storing
from boxvault.box.trash import TRASH_DIR
from boxvault.box.userstate import RootUnavailable
from boxvault.box.walker import ROOT_ID, WalkError, WalkStats, _list_folder, is_gone, unique_name, walk
from boxvault.engine.builder import SnapshotBuilder
from boxvault.engine.tree import Node


class Walking(Storing):
    def _take_out_gone(self, builder: SnapshotBuilder) -> None:
        rows = self._entries.count
        for path in self._gone:
            builder.remove(f"{self.root}/{path}")
            self.placements.take_out(path, rows)
        self._gone = []

    def _rewalk_raced(self, builder: SnapshotBuilder, position: str | None) -> None:
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
            builder.remove(f"{self.root}/{path}")
            self.placements.take_out(path, rows)
        for folder in rewalk.walk:
            # its new siblings may hold its name (a folder shared with the user, in the user's root): the
            # node gets a name none of them has, as a listing of that folder would give it
            parent_path = folder.path.rpartition("/")[0]
            siblings = builder.names(f"{self.root}/{parent_path}" if parent_path else self.root)
            unique_name(folder, parent_path, {name.casefold() for name in siblings})

            def again(
                stats: WalkStats,
                on_error: Callable[[WalkError], None],
                post: PostOrder,
                folder: BoxItem = folder,
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
                    on_listed=lambda f: post.listed(f.path),
                )

            self._walk_into(builder, again)
        self._take_out_gone(builder)

    def _incremental_items(
        self,
        builder: SnapshotBuilder,
        plan: Plan,
        old: OldEntries,
        old_tree: bytes,
        stats: WalkStats,
        on_error: Callable[[WalkError], None],
        post: PostOrder,
    ) -> Iterator[BoxItem]:
        """The items of the marked folders (to add as a walk's); everything else is taken from the
        previous tree right here: nodes as they are, with their catalog rows (see incremental.py).
        `post` is told of the folders opened and listed here (post-order, as in a walk)."""
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

        old_folder_path = old.folder_paths()

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
                    on_listed=lambda f: post.listed(f.path),  # the folder itself too
                )
                return
            if folder_id in plan.relist:
                folder = BoxItem(type="folder", id=folder_id, name="", parent_id=None, path=path)
                try:
                    children = _list_folder(self.client, folder, stats, lock, self.metadata_fields or ())
                except Exception as exc:  # noqa: BLE001 - reported per folder, as in a walk
                    on_error(WalkError(folder_id, path, f"listing failed: {describe(exc)}", is_gone(exc)))
                    post.listed(path)
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
                        post.listed(child.path)
                post.listed(path)
                return
            # nothing changed in this folder itself: its children are the previous tree's
            for node in self.repo.load_tree(subtree):
                if not path and node.name == TRASH_DIR:
                    continue  # the trash is taken again after the walk (trashing.py)
                path_ = rel(path, node.name)
                fid = box_id(node)
                if node.type == "dir" and fid is not None and fid in plan.descend:
                    below = node.subtree
                    builder.add_dir_node(f"{self.root}/{path_}", node)
                    post.opened(path_)
                    for e in old.exact(path_):
                        self._reused_entry(e)
                    yield from visit(fid, path_, below)
                else:
                    reuse(path_, node)
            post.listed(path)

        yield from visit(ROOT_ID, "", old_tree)

    def _walk_into(
        self,
        builder: SnapshotBuilder,
        items: Callable[[WalkStats, Callable[[WalkError], None], PostOrder], Iterator[BoxItem]] | None = None,
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

        # each folder is finished once everything in it is stored (postorder.py): the builder then holds
        # the open folders, not the user's whole tree
        post = PostOrder(lambda path: builder.finish_dir(f"{self.root}/{path}"), self.progress.set_folder)

        def stored(path: str) -> Callable[[Future[None]], None]:
            def callback(_f: Future[None]) -> None:
                slots.release()
                post.done(path)

            return callback

        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="box-dl") as pool:
            source = (
                walk(
                    self.client,
                    workers=self.options.list_workers,
                    on_error=on_walk_error,
                    stats=walk_stats,
                    extra_fields=self.metadata_fields or (),
                    on_listed=lambda f: post.listed(f.path),
                )
                if items is None
                else items(walk_stats, on_walk_error, post)
            )
            for item in source:
                if self._stopping():
                    break
                self.progress.found(1, item.size if item.type == "file" else 0)
                self.placements.add(item.id, item.type, item.path, item.name)
                if item.type == "folder":
                    post.opened(item.path)
                try:
                    job = self._inline(builder, item)
                except Exception as exc:  # noqa: BLE001 - one item's failure is reported, the run goes on
                    with self._lock:
                        report.fail_item(item.id, item.path, describe(exc))
                    continue
                if job is None:
                    continue
                folder = PostOrder.parent(item.path)
                post.started(folder)
                slots.acquire()
                future = pool.submit(self._process, builder, item, *job)
                future.add_done_callback(stored(folder))
                futures.append(future)
                if len(futures) > 4096:
                    futures = [f for f in futures if not f.done()]
            for future in futures:
                future.result()
        report.listing_pages += walk_stats.pages
        self.progress.set_user(self.user.login, walking=False)
