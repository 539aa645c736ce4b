"""A user's files into the snapshot: web links and stored content inline, the rest captured (collaborations,
comments, metadata) and downloaded on the pool, sha1-checked, each Box version stored once (box/content.py).
Box's previous versions of a file go under /<login>/.box-versions/<file id>/."""

from __future__ import annotations

import stamina

from boxvault.box.blobcache import CachedContent
from boxvault.box.catalog import CatalogEntry
from boxvault.box.content import LazyContent
from boxvault.box.download import ChecksumMismatch, DownloadError, download
from boxvault.box.errors import describe
from boxvault.box.extras import apply_listed_metadata, capture, fingerprint
from boxvault.box.model import BoxItem
from boxvault.box.placement import gone
from boxvault.box.userstate import UserState, _node_meta
from boxvault.box.versions import VERSIONS_DIR, list_old_versions
from boxvault.engine.builder import LaterResult, NodeMeta, SnapshotBuilder


class Storing(UserState):
    def _inline(self, builder: SnapshotBuilder, item: BoxItem) -> tuple[str, bool] | None:
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

    def _try_inline(self, builder: SnapshotBuilder, item: BoxItem) -> bool:
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

    def _add_blobs(self, builder: SnapshotBuilder, item: BoxItem, hit: CachedContent) -> None:
        builder.add_file_blobs(
            self._path(item),
            content=list(hit.blobs),
            size=hit.size,
            meta=_node_meta(item.mtime, item.ctime, item.xattrs()),
        )
        self._done(item, reused=True)

    def _process(self, builder: SnapshotBuilder, item: BoxItem, fp: str, needs_capture: bool) -> None:
        try:
            self._capture(item, fp, needs_capture)
            if item.type == "web_link":
                self._try_inline(builder, item)
                return
            meta = _node_meta(item.mtime, item.ctime, item.xattrs())
            # `_inline` asked the blob cache a moment ago unless the item needed a capture or its history
            asked = not needs_capture and not (self.options.versions and item.version_number > 1)
            reused, downloaded = self._store(
                builder, self._path(item), item.id, item.version_id, item.sha1, item.size, meta, asked=asked
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

    def _old_versions(self, builder: SnapshotBuilder, item: BoxItem) -> None:
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
        builder: SnapshotBuilder,
        path: str,
        file_id: str,
        version_id: str | None,
        sha1: str | None,
        size: int,
        meta: NodeMeta,
        *,
        asked: bool = False,
    ) -> tuple[bool, int]:
        """Add one file version's content: reused when the repository holds it, else downloaded.

        `asked`: the walking thread has just found nothing in the blob cache for it; only this run's own
        downloads are looked at first (the cache's queries were a tenth of the download threads' time).
        Returns (reused, bytes downloaded).
        """
        while True:
            hit = self.content.find(file_id, version_id, sha1, size, cache=not asked)
            asked = False
            if hit is not None:
                builder.add_file_blobs(path, content=list(hit.blobs), size=hit.size, meta=meta)
                return True, 0
            other = self.content.claim(sha1)
            if other is None:
                break
            other.result()  # someone else is fetching these bytes: wait, then look again
        try:
            return False, self._download(builder, path, file_id, version_id, sha1, size, meta)
        except BaseException:
            self.content.released(sha1)
            raise

    def _download(
        self,
        builder: SnapshotBuilder,
        path: str,
        file_id: str,
        version_id: str | None,
        sha1: str | None,
        size: int,
        meta: NodeMeta,
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
                        f,
                        version_id=version_id,
                        expected_sha1=sha1,
                        expected_size=size,
                        should_stop=self.options.should_stop,
                    )
                self.content.stored(self.user.id, file_id, version_id, result.sha1, _saved(f.later()))
                return result.size
        raise DownloadError("no attempt made")  # pragma: no cover - the last attempt re-raises


def _saved(later: LaterResult) -> LazyContent:
    """A closed file's blob ids as the content store keeps them, once the writer has saved its last blobs."""

    def resolve() -> CachedContent:
        stored = later()
        return CachedContent(tuple(stored.content), int(stored.size))

    return LazyContent(resolve, later.done)
