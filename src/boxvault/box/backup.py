"""Back up Box users into a restic-format repository: one snapshot per user per run.

For each user: list the tree as that user (parallel listing), add folders as directories, reuse the
blob list of every file version the repository already holds, download the rest (bounded pool,
sha1-checked, streamed into the engine), commit the snapshot, then record the catalog ranges.
Mapping and dedup rules: docs/box.md.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

from boxvault.box.blobcache import BlobCache
from boxvault.box.catalog import Catalog
from boxvault.box.connect import BoxConnection
from boxvault.box.content import ContentStore
from boxvault.box.progress import Progress, ProgressCallback
from boxvault.box.report import FAILED, PARTIAL, RunReport, UserReport, overall
from boxvault.box.state import StateStore
from boxvault.box.userrun import UserBackup
from boxvault.box.users import BoxUser, UserChanges, diff_users, list_users, me
from boxvault.box.userstate import BackupOptions, RootUnavailable, TemplateFields, user_tags
from boxvault.engine.lock import remove_stale_locks
from boxvault.engine.repository import Repository
from boxvault.engine.writer import Writer

__all__ = ["BackupOptions", "RootUnavailable", "UserBackup", "run_backup", "user_tags"]


class _Checkpointer:
    """Makes everything stored so far durable every `interval` seconds or every `max_bytes` of new packed
    data, whichever comes first, then lets the blob cache know: a killed run loses at most that much."""

    def __init__(self, writer: Writer, content: ContentStore, interval: float, max_bytes: int) -> None:
        self.writer = writer
        self.content = content
        self.interval = interval
        self.max_bytes = max_bytes
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="box-checkpoint", daemon=True)

    def start(self) -> None:
        if self.interval > 0:
            self._thread.start()

    def _stored(self) -> int:
        return self.writer.stats.data_added_packed

    def _run(self) -> None:
        last_time, last_bytes = time.monotonic(), self._stored()
        while not self._stop.wait(min(self.interval, 1.0)):
            if time.monotonic() - last_time >= self.interval or self._stored() - last_bytes >= self.max_bytes:
                last_bytes = self._stored()
                self.checkpoint()
                last_time = time.monotonic()

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


def _parents(repo: Repository, options: BackupOptions) -> dict[str, str | None]:
    """Each user's newest snapshot, read from the repository (the CLI has no database to ask)."""
    found: dict[str, tuple[int, str]] = {}
    for snap in repo.list_snapshots(host=options.hostname):
        for tag in snap.tags or []:
            if tag.startswith("user:") and (tag[5:] not in found or found[tag[5:]][0] <= snap.time_ns):
                found[tag[5:]] = (snap.time_ns, snap.id)
    return {uid: snap_id for uid, (_, snap_id) in found.items()}


def run_backup(
    conn: BoxConnection,
    repo: Repository,
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
    fields = TemplateFields(conn.client) if options.metadata else None
    tracker = Progress(progress)
    latest: dict[str, str | None] = dict(parents) if parents is not None else _parents(repo, options)
    # a run killed on this host (kill -9, OOM, restart) left its lock: the rerun clears it, as `restic
    # unlock` would, so nobody has to (only locks restic itself calls stale: issue 18). The portal's
    # reconciler does this for its workers (backups/locks.py) and spares every job the listing.
    if options.clear_stale_locks:
        remove_stale_locks(repo)
    with repo.writer() as writer:
        content = ContentStore(cache, lambda blob: bool(repo.has_blob(blob)))
        checkpointer = _Checkpointer(writer, content, options.checkpoint_seconds, options.checkpoint_bytes)
        checkpointer.start()
        try:

            def one(user: BoxUser) -> UserReport:
                tracker.set_user(user.login)
                job = UserBackup(conn, repo, writer, user, options, content, catalog, state, tracker)
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
