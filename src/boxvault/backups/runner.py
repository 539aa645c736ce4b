"""One user's backup run, as the "backup" job executes it (handler.py adapts the jobs app's context)."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Protocol

from django.db import close_old_connections

from boxvault.backups import fullwalk, services
from boxvault.backups.catalog import DjangoCatalog
from boxvault.backups.conf import run_limits
from boxvault.backups.connection import describe, is_auth_failure, open_connection
from boxvault.backups.models import Task, TaskUser
from boxvault.backups.repository import open_repository
from boxvault.box.report import FAILED, PARTIAL, SUCCEEDED
from boxvault.core import clock

log = logging.getLogger(__name__)
DISCOVERY_INTERVAL = timedelta(minutes=10)


class Reporter(Protocol):
    """What a run needs from its job (the jobs app's JobContext has these)."""

    def progress(self, *, items_done: int, items_total: int, bytes_done: int, bytes_total: int) -> None: ...
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
        TaskUser.objects.filter(pk=user_id).exclude(status=TaskUser.Status.IN_PROCESS).update(
            **{k: v for k, v in updates.items() if k not in ("status", "running_since", "next_run_at")}
        )


def run_user_backup(user_id: int, reporter: Reporter, *, previous: str = TaskUser.Status.ACTIVE) -> Outcome:
    """Back up one task user into the task's repository; raises BackupFailed when no snapshot was made."""
    from boxvault.box.backup import BackupOptions, run_backup
    from boxvault.box.blobcache import BlobCache
    from boxvault.box.progress import ProgressInfo
    from boxvault.box.state import StateStore

    user = TaskUser.objects.select_related("task", "task__account").get(pk=user_id)
    task: Task = user.task
    outcome: Outcome | None = None
    try:
        reporter.log(f"Backing up {user.login} (Box user {user.box_user_id}) of task {task.name!r}")
        try:
            # Discovery once per scheduled batch, not once per user's job: a slot starts every active user
            # of the task at the same minute.
            fresh = task.users_refreshed_at and clock.now() - task.users_refreshed_at < DISCOVERY_INTERVAL
            if not fresh:
                counts = services.discover_users(task, limits=None)
                if counts["new"] or counts["archived"]:
                    reporter.log(f"Users: {counts['new']} new, {counts['archived']} archived")
            conn = open_connection(task, run_limits())
            repo = open_repository(task)
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
            )

        options = BackupOptions(
            enterprise_id=task.enterprise_id,
            task_id=str(task.uuid),
            user_workers=1,
            checkpoint_seconds=10.0,
            full_walk_days=float(task.full_walk_days),
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
            )
        except Exception as exc:
            if is_auth_failure(exc):
                services.mark_disconnected(task, describe(exc))
            raise BackupFailed(describe(exc)) from exc
        finally:
            cache.close()
            state.close()
            close_old_connections()
        ur = report.users[0]
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
        )
        for failure in ur.failures[:200]:
            reporter.log(f"{failure.path or failure.item_id}: {failure.error}", level="warning")
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
