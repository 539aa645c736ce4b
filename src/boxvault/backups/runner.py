"""One user's backup run, as the "backup" job executes it (handler.py adapts the jobs app's context)."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, Protocol

from django.db import close_old_connections

from boxvault.backups import fullwalk, repository, services
from boxvault.backups.catalog import DjangoCatalog
from boxvault.backups.conf import run_limits
from boxvault.backups.connection import describe, is_auth_failure, open_connection
from boxvault.backups.models import CatalogSnapshot, Task, TaskUser
from boxvault.box.report import FAILED, PARTIAL, SUCCEEDED
from boxvault.core import clock

log = logging.getLogger(__name__)


class Reporter(Protocol):
    """What a run needs from its job (the jobs app's JobContext has these)."""

    def progress(
        self, *, items_done: int, items_total: int, bytes_done: int, bytes_total: int, message: str
    ) -> None: ...
    def log(self, message: str, level: str = "info") -> None: ...
    def cancelled(self) -> bool: ...
    def partial(self, reason: str = "") -> None: ...


class BackupFailed(Exception):
    """The run stored no snapshot; the message says why in words for the jobs page."""


@dataclass
class Outcome:
    status: str
    snapshot_id: str | None = None
    files: int = 0
    bytes: int = 0
    downloaded: int = 0
    downloaded_bytes: int = 0
    reused: int = 0
    failed: int = 0
    duration: float = 0.0
    canceled: bool = False
    box_requests: int = 0  # Box API requests this job made
    storage_requests: int = 0  # repository storage requests (after the local index/snapshot cache)
    failures: list[dict[str, str]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items()}


def _settle(user_id: int, previous: str, outcome: Outcome | None) -> None:
    """Leave In Process, back to what the user was (activated users stay Active), with the figures."""
    now = clock.now()
    user = TaskUser.objects.select_related("task").get(pk=user_id)
    after = (
        TaskUser.Status.ACTIVE
        if previous in (TaskUser.Status.ACTIVE, TaskUser.Status.SCHEDULED)
        else previous
    )
    updates: dict[str, Any] = {"status": after, "running_since": None}
    if outcome is not None:
        updates["last_result"] = outcome.status
        if outcome.snapshot_id:
            updates.update(
                last_backup_at=now,
                last_snapshot_id=outcome.snapshot_id,
                size=outcome.bytes,
                items=outcome.files,
            )
            if user.first_backup_at is None:
                updates["first_backup_at"] = now
    if after == TaskUser.Status.ACTIVE and user.next_run_at is None:
        updates["next_run_at"] = services._first_slot(user.task, now)
    # Only a user still In Process is settled: a Pause or Delete meanwhile wins.
    TaskUser.objects.filter(pk=user_id, status=TaskUser.Status.IN_PROCESS).update(**updates)
    if outcome is not None and outcome.snapshot_id:
        # the listings' figures (recovery reads them from the catalog, not from the repository)
        CatalogSnapshot.objects.filter(snapshot_id=outcome.snapshot_id).update(
            files=outcome.files, bytes=outcome.bytes
        )
        TaskUser.objects.filter(pk=user_id).exclude(status=TaskUser.Status.IN_PROCESS).update(
            **{k: v for k, v in updates.items() if k not in ("status", "running_since", "next_run_at")}
        )


def parent_snapshot(task: Task, box_user_id: str, repo: Any) -> str | None:
    """The user's newest snapshot the catalog knows and retention kept, if the repository still has it.

    One indexed query and one existence check, instead of reading every snapshot of the repository."""
    latest = (
        CatalogSnapshot.objects.filter(task=task, box_user_id=box_user_id, forgotten_at__isnull=True)
        .order_by("-time", "-id")
        .values_list("snapshot_id", flat=True)
        .first()
    )
    if latest and repo.backend.exists(f"snapshots/{latest}"):
        return str(latest)
    return None


def run_user_backup(user_id: int, reporter: Reporter, *, previous: str = TaskUser.Status.ACTIVE) -> Outcome:
    """Back up one task user into the task's repository; raises BackupFailed when no snapshot was made."""
    from boxvault.box.backup import BackupOptions, run_backup
    from boxvault.box.blobcache import BlobCache
    from boxvault.box.progress import ProgressInfo
    from boxvault.box.state import StateStore
    from boxvault.box.users import BoxUser

    user = TaskUser.objects.select_related("task", "task__account").get(pk=user_id)
    task: Task = user.task
    outcome: Outcome | None = None
    try:
        reporter.log(f"Backing up {user.login} (Box user {user.box_user_id}) of task {task.name!r}")
        try:
            # No discovery here: the scheduler lists the enterprise's users once per run
            # (services.discover_due), and the job knows its user and its parent snapshot from the
            # database, so a user's job costs the same whatever the size of the task (issue 10).
            conn = open_connection(task, run_limits())
            held = repository.take(task)
            repo = held.repo
            parent = parent_snapshot(task, user.box_user_id, repo)
        except Exception as exc:
            if is_auth_failure(exc):
                services.mark_disconnected(task, describe(exc))
                raise BackupFailed(f"The task is disconnected from Box: {describe(exc)}") from exc
            raise BackupFailed(describe(exc)) from exc
        directory = services.state_dir(task)
        state = StateStore(directory / "state.sqlite")
        cache = BlobCache(directory / "blobcache.sqlite", repo.id)

        def on_progress(info: ProgressInfo) -> None:
            reporter.progress(
                items_done=info.items_done,
                items_total=info.items_total,
                bytes_done=info.bytes_done,
                bytes_total=info.bytes_total,
                message=info.describe(),
            )

        options = BackupOptions(
            enterprise_id=task.enterprise_id,
            task_id=str(task.uuid),
            user_workers=1,
            checkpoint_seconds=10.0,
            clear_stale_locks=False,  # the reconciler removes a lost worker's locks (backups/locks.py)
            full_walk_days=float(task.full_walk_days),
            versions=task.capture_versions,
            should_stop=reporter.cancelled,
        )
        try:
            report = run_backup(
                conn,
                repo,
                options=options,
                catalog=DjangoCatalog(task),
                state=state,
                cache=cache,
                user_ids=[user.box_user_id],
                progress=on_progress,
                users=[BoxUser(user.box_user_id, user.login, user.name, user.box_status or "active")],
                parents={user.box_user_id: parent},
            )
        except Exception as exc:
            repository.discard(held)
            if is_auth_failure(exc):
                services.mark_disconnected(task, describe(exc))
            raise BackupFailed(describe(exc)) from exc
        finally:
            cache.close()
            state.close()
            close_old_connections()
        ur = report.users[0]
        storage_requests = held.requests()
        if ur.status in (SUCCEEDED, PARTIAL) and not reporter.cancelled():
            repository.give_back(held)  # the next job of this task starts from this index
        else:
            repository.discard(held)
        outcome = Outcome(
            status=ur.status,
            snapshot_id=ur.snapshot_id,
            files=ur.files,
            bytes=ur.bytes,
            downloaded=ur.downloaded,
            downloaded_bytes=ur.downloaded_bytes,
            reused=ur.reused,
            failed=ur.failed,
            duration=ur.duration,
            canceled=reporter.cancelled(),
            failures=[{"item_id": f.item_id, "path": f.path, "error": f.error} for f in ur.failures[:200]],
            box_requests=int(report.requests.get("requests", 0) or 0),
            storage_requests=storage_requests,
        )
        for failure in ur.failures[:200]:
            reporter.log(f"{failure.path or failure.item_id}: {failure.error}", level="warning")
        if ur.vanished:
            reporter.log(
                f"{ur.vanished} item(s) were deleted or trashed in Box between their listing and their "
                "download: not in this backup (the next run's listing no longer shows them).",
                level="warning",
            )
        if parent is None and ur.reused:
            # a first backup that found content an interrupted run had already stored (issue 18)
            reporter.log(
                f"First backup picked up where the repository was: {ur.reused} files were already stored "
                f"(by an interrupted earlier run, or the same content elsewhere) and were not downloaded "
                f"again; {ur.downloaded} were downloaded."
            )
        if outcome.canceled:
            reporter.log("Canceled: nothing was committed for this run; the repository is unchanged.")
            return outcome
        if ur.status == FAILED:
            raise BackupFailed(ur.error or "the backup failed")
        fullwalk.report_run(task, user.login, ur, reporter)
        if ur.status == PARTIAL:
            reporter.partial()
        reporter.log(
            f"Snapshot {str(ur.snapshot_id)[:8]}: {ur.files} files, {ur.bytes} bytes, "
            f"{ur.downloaded} downloaded, {ur.reused} reused, {ur.failed} failed"
        )
        assert outcome.status in (SUCCEEDED, PARTIAL)
        return outcome
    finally:
        _settle(user_id, previous, outcome)
