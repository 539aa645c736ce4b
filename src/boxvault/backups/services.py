"""Every change to backup tasks and their users: each function is one transaction; jobs queue on commit."""

from __future__ import annotations

import logging
import secrets
import shutil
import time
from collections.abc import Iterable
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.dispatch import Signal

from boxvault.accounts.access import Access
from boxvault.backups import schedule, vault
from boxvault.backups.conf import box_app, checked_api_url
from boxvault.backups.connection import api_url as task_api_url
from boxvault.backups.connection import describe, is_auth_failure, open_connection
from boxvault.backups.models import CatalogSnapshot, CatalogVersion, Task, TaskUser
from boxvault.backups.repository import LocationError, location_for
from boxvault.billing import services as billing
from boxvault.box.connect import BOX_API_URL, Limits, base_urls, verify
from boxvault.box.extras import list_enterprise_templates
from boxvault.core import clock
from boxvault.core.errors import ServiceError
from boxvault.core.operations import Operation
from boxvault.security.models import AuditEvent
from boxvault.security.services import record

Activity = AuditEvent.Activity

log = logging.getLogger(__name__)
# Sent after the commit (for notifications): task_disconnected(task, reason) when a connected task loses
# its Box connection; users_discovered(task, new, deactivated, deleted) when a discovery found any of those
# (lists of {"login", "name", "outcome"}).
task_disconnected = Signal()
users_discovered = Signal()
GRACE_DAYS = 7
# A person is waiting (a page, an API call): fail within seconds rather than back off for minutes.
# A Box that does not answer fails the request in about half a minute, not after minutes of retries.
INTERACTIVE = Limits(
    max_attempts=2, exception_retries=1, retry_base_interval=0.2, connect_timeout_s=5.0, read_timeout_s=15.0
)
SETTINGS_FIELDS = (
    "name",
    "frequency",
    "hour_utc",
    "index_for_search",
    "auto_activate",
    "archived_retention_days",
    "full_walk_days",
    "capture_versions",
    "recreate_metadata_templates",
)
ACTION_WORDS = {
    "activate": "Activated",
    "pause": "Paused",
    "delete": "Deletion requested for",
    "undo_delete": "Deletion canceled for",
}
ACTIONS: dict[str, Operation] = {
    "activate": Operation.ACTIVATE_TASKS,
    "backup_now": Operation.EXECUTE_TASKS,
    "pause": Operation.PAUSE_TASKS,
    "delete": Operation.DELETE_TASKS,
    "undo_delete": Operation.DELETE_TASKS,  # within the grace period, the same right takes it back
}


def _require(access: Access, operation: Operation) -> None:
    from django.core.exceptions import PermissionDenied

    if not access.can(operation) or not access.member.may_use("box"):
        raise PermissionDenied("your role does not allow this")


def _audit(access: Access | None, task: Task, activity: str, description: str) -> None:
    """The security-audit row of a change, written by the caller inside the change's own transaction."""
    record(
        task.account,
        activity,
        description,
        actor=access.user if access is not None else None,
        service="Box",
        task=task.name,
    )


def _clean_name(name: str) -> str:
    name = (name or "").strip()
    if not name:
        raise ServiceError("Give the backup task a name.")
    if len(name) > 120:
        raise ServiceError("The name is at most 120 characters.")
    return name


def _clean_api_url(url: str | None) -> str:
    """The operator decides where Box is (`BOXVAULT_BOX_API_URL`, and `BOXVAULT_BOX_API_URLS` for others):
    a tenant may only pick one of those. "" means Box's own API."""
    try:
        url = checked_api_url(url)
    except ValueError as exc:
        raise ServiceError(str(exc)) from exc
    return "" if url == BOX_API_URL else url


def _new_task(access: Access, name: str, kind: str, api_url: str) -> Task:
    task = Task(
        account=access.account,
        name=_clean_name(name),
        kind=kind,
        api_url=api_url,
        created_at=clock.now(),
        created_by=access.user if getattr(access.user, "pk", None) else None,
        location=access.account.location,
    )
    try:
        task.repository = location_for(task.location, access.account.pk, str(task.uuid))
    except LocationError as exc:
        raise ServiceError(str(exc)) from exc
    vault.new_task_key(task)
    vault.put(task, "repo_password", secrets.token_urlsafe(32))
    return task


# --- connecting -------------------------------------------------------------------------------------------


def create_ccg_task(
    access: Access, *, name: str, client_id: str, client_secret: str, enterprise_id: str, api_url: str = ""
) -> Task:
    """An enterprise connected with Client Credentials: checked against Box before anything is saved.

    Every network call happens before the transaction: a Box (or anything posing as one) that is slow or
    never answers must hold no database lock while it is waited for (on SQLite that lock is the whole
    database's: other tenants' requests would fail)."""
    _require(access, Operation.ACTIVATE_TASKS)
    if not (client_id and client_secret and enterprise_id):
        raise ServiceError("client_id, client_secret and enterprise_id are required.")
    task = _new_task(access, name, Task.Kind.CCG, _clean_api_url(api_url))
    task.enterprise_id = str(enterprise_id)
    vault.put_json(
        task,
        "credentials",
        {"client_id": client_id, "client_secret": client_secret, "enterprise_id": str(enterprise_id)},
    )
    task.status = Task.Status.CONNECTED
    try:
        conn = open_connection(task, INTERACTIVE)
        verify(conn)
        found = _fetch_users(conn, task)
    except Exception as exc:  # any failure is the user's to see (one sentence), never a 500
        raise ServiceError(f"Box refused the connection: {describe(exc)}") from exc
    with transaction.atomic():
        task.save()
        _audit(access, task, Activity.TASK_CREATED, f"Backup task {task.name} created (Client Credentials)")
        _apply_users(task, found)
    return task


def begin_oauth(access: Access, *, name: str = "", task: Task | None = None) -> tuple[Task, str]:
    """A new (or a disconnected) OAuth task and a fresh `state` for the redirect to Box's consent page.

    The caller keeps `state` in the user's session and checks it on the callback (CSRF on the redirect)."""
    app = box_app()
    if not app.configured:
        raise ServiceError(
            "This server has no Box app configured (BOXVAULT_BOX_CLIENT_ID and BOXVAULT_BOX_CLIENT_SECRET)."
        )
    if task is None:
        _require(access, Operation.ACTIVATE_TASKS)
        task = _new_task(access, name, Task.Kind.OAUTH, _clean_api_url(app.api_url))
        with transaction.atomic():
            task.save()
            _audit(access, task, Activity.TASK_CREATED, f"Backup task {task.name} created (OAuth)")
    else:
        _require(access, Operation.MODIFY_TASKS)
    state = secrets.token_urlsafe(24)
    return task, state


def authorize_url(state: str, redirect_uri: str) -> str:
    app = box_app()
    query = {
        "response_type": "code",
        "client_id": app.client_id,
        "redirect_uri": redirect_uri,
        "state": state,
    }
    return f"{app.authorize_url}?{urlencode(query)}"


def finish_oauth(access: Access, task: Task, code: str) -> Task:
    """Exchange the authorization code through the SDK; the tokens land sealed in the task's row."""
    from box_sdk_gen.box.oauth import BoxOAuth, OAuthConfig
    from box_sdk_gen.client import BoxClient
    from box_sdk_gen.networking.network import NetworkSession
    from box_sdk_gen.networking.timeout_config import TimeoutConfig

    from boxvault.backups.tokens import TaskTokenStorage

    # A new task is being added (activate); an existing one is re-authorized (modify).
    _require(
        access, Operation.ACTIVATE_TASKS if task.status == Task.Status.PENDING else Operation.MODIFY_TASKS
    )
    if task.kind != Task.Kind.OAUTH:
        raise ServiceError("This task does not connect with OAuth.")
    app = box_app()
    storage = TaskTokenStorage(task.pk)
    auth = BoxOAuth(OAuthConfig(app.client_id, app.client_secret, token_storage=storage))
    try:
        session = NetworkSession(
            base_urls=base_urls(task_api_url(task)),
            timeout_config=TimeoutConfig(
                connection_timeout_ms=int(INTERACTIVE.connect_timeout_s * 1000),
                read_timeout_ms=int(INTERACTIVE.read_timeout_s * 1000),
            ),
        )
        auth.get_tokens_authorization_code_grant(code, network_session=session)
        me = BoxClient(auth=auth, network_session=session).users.get_user_me(
            fields=["login", "enterprise", "role"]
        )
    except Exception as exc:  # any failure is the user's to see, never a 500
        Task.objects.filter(pk=task.pk).update(status=Task.Status.DISCONNECTED, status_detail=describe(exc))
        raise ServiceError(f"Box did not complete the authorization: {describe(exc)}") from exc
    enterprise = getattr(me, "enterprise", None)
    task.refresh_from_db()
    task.enterprise_id = str(getattr(enterprise, "id", "") or f"user-{me.id}")
    task.connected_as = str(me.login or "")
    role = getattr(me.role, "value", me.role)
    task.acts_as_users = str(role or "") in ("admin", "coadmin")
    reauthorized = task.status != Task.Status.PENDING  # read before the row is marked Connected
    task.status = Task.Status.CONNECTED
    task.status_detail = ""
    with transaction.atomic():
        task.save(update_fields=["enterprise_id", "connected_as", "acts_as_users", "status", "status_detail"])
        verb = "re-authorized" if reauthorized else "connected"
        _audit(
            access, task, Activity.TASK_CONNECTED, f"Backup task {task.name} {verb} as {task.connected_as}"
        )
    try:
        discover_users(task)
    except Exception as exc:  # noqa: BLE001 - connected; the users come with the first run
        log.warning("task %s: user discovery failed after connecting: %s", task.pk, describe(exc))
    return task


def mark_disconnected(task: Task, reason: str) -> None:
    lost = Task.objects.filter(pk=task.pk).exclude(status=Task.Status.DISCONNECTED).exists()
    Task.objects.filter(pk=task.pk).update(status=Task.Status.DISCONNECTED, status_detail=reason[:500])
    if lost:  # told once per loss, not once per user job that finds it lost
        transaction.on_commit(lambda: task_disconnected.send_robust(sender=Task, task=task, reason=reason))


# --- users ------------------------------------------------------------------------------------------------


def discover_users(task: Task, limits: Limits | None = INTERACTIVE) -> dict[str, int]:
    """Match the task's users with Box's: new ones (activated when the task says so), gone ones Archived."""
    try:
        conn = open_connection(task, limits)
        found = _fetch_users(conn, task)
    except Exception as exc:
        if is_auth_failure(exc):
            mark_disconnected(task, describe(exc))
        raise
    counts = _apply_users(task, found)
    if task.acts_as_users:
        try:
            copy_templates(task, list_enterprise_templates(conn.client))
        except Exception as exc:  # noqa: BLE001 - the users are discovered; the copy waits for the next time
            log.warning("task %s: metadata templates not copied: %s", task.pk, describe(exc))
    return counts


def copy_templates(task: Task, templates: list[dict[str, Any]]) -> None:
    """Keep the task's copy of the enterprise's metadata templates up to date; one Box no longer lists is
    kept, marked gone (a restore may need to create it again)."""
    from boxvault.backups.models import MetadataTemplateCopy

    now = clock.now()
    seen: set[tuple[str, str]] = set()
    with transaction.atomic():
        for t in templates:
            scope, key = str(t.get("scope") or ""), str(t.get("templateKey") or "")
            if not scope.startswith("enterprise") or not key:
                continue
            seen.add((scope, key))
            schema = {k: t.get(k) for k in ("displayName", "hidden", "copyInstanceOnItemCopy", "fields")}
            MetadataTemplateCopy.objects.update_or_create(
                task=task,
                scope=scope,
                template_key=key,
                defaults={"schema": schema, "last_seen_at": now, "gone_since": None},
            )
        for copy in MetadataTemplateCopy.objects.filter(task=task, gone_since__isnull=True):
            if (copy.scope, copy.template_key) not in seen:
                MetadataTemplateCopy.objects.filter(pk=copy.pk).update(gone_since=now)


def _fetch_users(conn: Any, task: Task) -> list[Any]:
    """Box's side of discovery: network only, no database (see create_ccg_task)."""
    from boxvault.box.users import list_users, me

    return list_users(conn.client) if task.acts_as_users else [me(conn.client)]


def _apply_users(task: Task, found: list[Any]) -> dict[str, int]:
    """The database's side of discovery, in one short transaction."""
    now = clock.now()
    counts = {"new": 0, "archived": 0, "updated": 0}
    found_new: list[dict[str, str]] = []
    found_deactivated: list[dict[str, str]] = []
    found_deleted: list[dict[str, str]] = []
    with transaction.atomic():
        known = {u.box_user_id: u for u in TaskUser.objects.select_for_update().filter(task=task)}
        others = set(
            TaskUser.objects.filter(task__account=task.account, task__deletion_due_at__isnull=True)
            .exclude(task=task)
            .filter(status__in=[*schedule.SCHEDULABLE, TaskUser.Status.IN_PROCESS])
            .values_list("box_user_id", flat=True)
        )
        for box_user in found:
            row = known.pop(box_user.id, None)
            if row is None:
                status = TaskUser.Status.NOT_ACTIVE
                if box_user.id in others:
                    status = TaskUser.Status.OTHER_TASK
                elif task.auto_activate and box_user.active:
                    status = TaskUser.Status.SCHEDULED
                TaskUser.objects.create(
                    task=task,
                    box_user_id=box_user.id,
                    login=box_user.login,
                    name=box_user.name,
                    box_status=box_user.status,
                    status=status,
                    next_run_at=_first_slot(task, now) if status == TaskUser.Status.SCHEDULED else None,
                )
                counts["new"] += 1
                found_new.append({"login": box_user.login, "name": box_user.name, "status": status})
                continue
            changed = (row.login, row.name, row.box_status) != (
                box_user.login,
                box_user.name,
                box_user.status,
            )
            if row.box_status != "inactive" and box_user.status == "inactive":
                found_deactivated.append(
                    {"login": box_user.login, "name": box_user.name, "status": row.status}
                )
            row.login, row.name, row.box_status = box_user.login, box_user.name, box_user.status
            if row.status == TaskUser.Status.ARCHIVED:  # back in Box
                row.status, row.archived_at = TaskUser.Status.NOT_ACTIVE, None
                changed = True
            if changed:
                row.save(update_fields=["login", "name", "box_status", "status", "archived_at"])
                counts["updated"] += 1
        for row in known.values():  # deleted in Box
            if row.status != TaskUser.Status.ARCHIVED:
                row.status, row.archived_at, row.next_run_at = TaskUser.Status.ARCHIVED, now, None
                row.save(update_fields=["status", "archived_at", "next_run_at"])
                counts["archived"] += 1
                found_deleted.append({"login": row.login, "name": row.name, "status": row.status})
        Task.objects.filter(pk=task.pk).update(users_refreshed_at=now)
        if found_new or found_deactivated or found_deleted:
            transaction.on_commit(
                lambda: users_discovered.send_robust(
                    sender=Task,
                    task=task,
                    new=found_new,
                    deactivated=found_deactivated,
                    deleted=found_deleted,
                )
            )
    return counts


def _first_slot(task: Task, now: Any) -> Any:
    return schedule.next_slot(task.frequency, task.hour_utc, now)


def _select(task: Task, box_user_ids: Iterable[str], *, pending_deletion: bool = False) -> list[TaskUser]:
    ids = [str(i) for i in box_user_ids]
    if not ids:
        raise ServiceError("Select at least one user.")
    rows = list(
        TaskUser.objects.filter(task=task, box_user_id__in=ids, deletion_due_at__isnull=not pending_deletion)
    )
    missing = sorted(set(ids) - {r.box_user_id for r in rows})
    if missing:
        raise ServiceError(f"Unknown Box user(s) for this task: {', '.join(missing[:10])}.")
    return rows


def user_action(access: Access, task: Task, action: str, box_user_ids: Iterable[str]) -> list[Any]:
    """Activate, Backup Now, Pause or Delete users; returns the jobs Backup Now started."""
    operation = ACTIONS.get(action)
    if operation is None:
        raise ServiceError(f"Unknown action {action!r}: use one of {', '.join(ACTIONS)}.")
    _require(access, operation)
    if task.pending_deletion:
        raise ServiceError("This task is being deleted.")
    users = _select(task, box_user_ids, pending_deletion=action == "undo_delete")
    now = clock.now()
    started: list[Any] = []
    with transaction.atomic():
        if action == "activate":
            for u in users:
                if u.status in (
                    TaskUser.Status.NOT_ACTIVE,
                    TaskUser.Status.PAUSED,
                    TaskUser.Status.OTHER_TASK,
                ):
                    u.status = TaskUser.Status.ACTIVE if u.last_backup_at else TaskUser.Status.SCHEDULED
                    u.next_run_at = _first_slot(task, now)
                    u.save(update_fields=["status", "next_run_at"])
                elif u.status == TaskUser.Status.ARCHIVED:
                    raise ServiceError(f"{u.login} no longer exists in Box and cannot be activated.")
        elif action == "pause":
            TaskUser.objects.filter(pk__in=[u.pk for u in users]).exclude(
                status=TaskUser.Status.ARCHIVED
            ).update(status=TaskUser.Status.PAUSED, next_run_at=None)
        elif action == "undo_delete":
            for u in users:
                u.deletion_due_at = None
                scheduled = u.status in (TaskUser.Status.ACTIVE, TaskUser.Status.SCHEDULED)
                u.next_run_at = _first_slot(task, now) if scheduled else None
                u.save(update_fields=["deletion_due_at", "next_run_at"])
        elif action == "delete":
            TaskUser.objects.filter(pk__in=[u.pk for u in users]).update(
                deletion_due_at=now + timedelta(days=GRACE_DAYS), next_run_at=None
            )
        else:
            if task.status != Task.Status.CONNECTED:
                raise ServiceError("Connect the task to Box first.")
            if billing.read_only(task.account):
                raise ServiceError(
                    "This account is read-only until its subscription is paid: no new backups "
                    "(restores and exports still work). See Billing."
                )
            for u in users:
                job = start_backup(u, initiator=access.user, now=now)
                if job is not None:
                    started.append(job)
        logins = ", ".join(u.login for u in users[:20]) + (
            f" and {len(users) - 20} more" if len(users) > 20 else ""
        )
        if action == "backup_now":
            _audit(access, task, Activity.BACKUP_NOW, f"Backup Now for {logins} ({len(started)} started)")
        else:
            _audit(access, task, Activity.TASK_USERS, f"{ACTION_WORDS[action]} {logins}")
    return started


def start_backup(user: TaskUser, *, initiator: Any, now: Any) -> Any:
    """Mark the user In Process (only if no run is going on: at most one per user) and queue its job."""
    runnable = [
        s for s in TaskUser.Status.values if s not in (TaskUser.Status.IN_PROCESS, TaskUser.Status.ARCHIVED)
    ]
    claimed = TaskUser.objects.filter(pk=user.pk, status__in=runnable).update(
        status=TaskUser.Status.IN_PROCESS, running_since=now
    )
    previous = user.status
    if not claimed and user.status == TaskUser.Status.IN_PROCESS and not _live_backup(user):
        # Its job already ended (failed, say) and the scheduler has not released the user yet: nothing
        # runs, so Backup Now starts one now instead of silently starting nothing.
        claimed = TaskUser.objects.filter(pk=user.pk, status=TaskUser.Status.IN_PROCESS).update(
            running_since=now
        )
        previous = (
            TaskUser.Status.ACTIVE if user.next_run_at or user.last_backup_at else TaskUser.Status.NOT_ACTIVE
        )
    if not claimed:
        return None
    return enqueue_backup(user, initiator, previous=previous)


def _live_backup_job(user: TaskUser) -> Any:
    """The user's pending or running backup job (the newest), or None."""
    from boxvault.jobs.models import Job

    return (
        Job.objects.filter(
            kind="backup", task_id=user.task_id, box_user_id=user.box_user_id, status__in=Job.ACTIVE
        )
        .order_by("-created_at")
        .first()
    )


def _live_backup(user: TaskUser) -> bool:
    return _live_backup_job(user) is not None


def not_started_reason(user: TaskUser) -> str:
    """Why Backup Now started no job for `user` (shown instead of an empty answer)."""
    if user.status == TaskUser.Status.ARCHIVED:
        return f"{user.login} no longer exists in Box."
    if user.status == TaskUser.Status.IN_PROCESS:
        return f"{user.login} already has a backup running or waiting to run."
    return f"{user.login} could not be started."


def enqueue_backup(user: TaskUser, initiator: Any, *, previous: str) -> Any:
    from boxvault.jobs import services as jobs  # type: ignore[import-not-found,unused-ignore]

    task = user.task
    return jobs.enqueue(
        account=task.account,
        kind="backup",
        initiator=initiator if getattr(initiator, "pk", None) else None,
        task=task,
        box_user_id=user.box_user_id,
        box_user_login=user.login,
        params={"task_user": user.pk, "previous_status": previous},
        destination=task.location_label,  # the job card shows it: a label, not the server's filesystem path
    )


def run_scheduler(now: Any = None, *, batch: int = 500, budget_s: float = 40.0) -> list[int]:
    """One scheduler tick: claim due users and queue their jobs (called every minute by the queue).

    Claims `batch` users at a time until none is due or `budget_s` has passed: a slot of 10,000 users is
    queued within the minute it comes (about 2.5 ms a user measured), not 500 a minute over 20 minutes.
    The budget stays under the minute so that ticks seldom overlap; when they do, `claim` keeps each slot
    to one job."""
    now = now or clock.now()
    release_stuck(now)
    cover_running(now)
    discover_due(now)
    deadline = time.monotonic() + budget_s
    claimed: list[int] = []
    while True:
        done = schedule.tick(now, lambda user: enqueue_backup(user, None, previous=user.status), limit=batch)
        claimed += done
        if len(done) < batch or time.monotonic() >= deadline:
            return claimed


def cover_running(now: Any) -> int:
    """Users whose slot came while their backup still runs (a first backup of a huge user can take days):
    the running job covers that slot, which moves on to the next one; no second job is started, now or
    when the running one ends. Returns the number of slots covered."""
    from boxvault.jobs import services as jobs  # type: ignore[import-not-found,unused-ignore]

    covered = 0
    for user in TaskUser.objects.filter(
        next_run_at__lte=now, status=TaskUser.Status.IN_PROCESS, deletion_due_at__isnull=True
    ).select_related("task"):
        job = _live_backup_job(user)
        if job is None:
            continue  # nothing runs: release_stuck gives the user back to the scheduler
        slot = user.next_run_at
        moved = TaskUser.objects.filter(
            pk=user.pk, next_run_at=slot, status=TaskUser.Status.IN_PROCESS
        ).update(next_run_at=schedule.next_slot(user.task.frequency, user.task.hour_utc, now))
        if moved:
            jobs.note_covered_slot(job, slot)
            covered += 1
    return covered


DISCOVERY_INTERVAL = timedelta(minutes=10)


def discover_due(now: Any) -> int:
    """List the users of every task with users due, once per run (not in each user's job): a slot starts
    every active user of a task at the same minute. Returns the number of tasks listed."""
    stale = Q(users_refreshed_at__isnull=True) | Q(users_refreshed_at__lt=now - DISCOVERY_INTERVAL)
    task_ids = set(schedule.due(now).values_list("task_id", flat=True).distinct())
    listed = 0
    for task in Task.objects.filter(stale, pk__in=task_ids):
        try:
            discover_users(task, limits=None)
            listed += 1
        except Exception:
            log.warning("user discovery of task %s failed", task.pk, exc_info=True)
    return listed


def release_stuck(now: Any, grace: timedelta = timedelta(minutes=2)) -> int:
    """Users left In Process by a job that will never settle them (canceled while pending, failed before its
    handler ran) go back to Active, or Not Active when they were never scheduled."""
    released = 0
    stuck = TaskUser.objects.filter(status=TaskUser.Status.IN_PROCESS, running_since__lt=now - grace)
    for user in stuck.select_related("task"):
        if _live_backup(user):
            continue
        after = (
            TaskUser.Status.ACTIVE if user.next_run_at or user.last_backup_at else TaskUser.Status.NOT_ACTIVE
        )
        released += TaskUser.objects.filter(pk=user.pk, status=TaskUser.Status.IN_PROCESS).update(
            status=after, running_since=None
        )
    return released


# --- settings and deletion --------------------------------------------------------------------------------


def update_settings(access: Access, task: Task, **changes: Any) -> Task:
    _require(access, Operation.MODIFY_TASKS)
    unknown = set(changes) - set(SETTINGS_FIELDS)
    if unknown:
        raise ServiceError(f"These settings cannot be changed here: {', '.join(sorted(unknown))}.")
    if "name" in changes:
        changes["name"] = _clean_name(changes["name"])
    if "frequency" in changes and changes["frequency"] not in Task.Frequency.values:
        raise ServiceError(f"frequency must be one of {', '.join(Task.Frequency.values)}.")
    if "hour_utc" in changes and not (
        isinstance(changes["hour_utc"], int) and 0 <= changes["hour_utc"] <= 23
    ):
        raise ServiceError("hour_utc must be a whole hour from 0 to 23.")
    if "archived_retention_days" in changes:
        days = changes["archived_retention_days"]
        if not (isinstance(days, int) and 1 <= days <= 3650):
            raise ServiceError("archived_retention_days must be from 1 to 3650.")
    if "full_walk_days" in changes:
        days = changes["full_walk_days"]
        if not (isinstance(days, int) and not isinstance(days, bool) and 1 <= days <= 90):
            raise ServiceError("full_walk_days must be from 1 to 90.")
    for flag in ("capture_versions", "recreate_metadata_templates"):
        if flag in changes and not isinstance(changes[flag], bool):
            raise ServiceError(f"{flag} must be true or false.")
    with transaction.atomic():
        before = {key: getattr(task, key) for key in changes}
        for key, value in changes.items():
            setattr(task, key, value)
        task.save(update_fields=list(changes) or None)
        changed = ", ".join(f"{k}: {before[k]} → {v}" for k, v in changes.items() if before[k] != v)
        _audit(
            access, task, Activity.TASK_CHANGED, f"Settings of {task.name} changed: {changed or 'nothing'}"
        )
        if {"frequency", "hour_utc"} & set(changes):
            now = clock.now()
            for u in TaskUser.objects.filter(task=task, status__in=schedule.SCHEDULABLE):
                u.next_run_at = _first_slot(task, now)
                u.save(update_fields=["next_run_at"])
    if changes.get("capture_versions") and not before.get("capture_versions"):
        # an unchanged user's run reuses its previous snapshot as it is, without any version history:
        # the next run of every user lists everything once (after the commit: this is disk I/O)
        _walk_in_full_next(task)
    return task


def _walk_in_full_next(task: Task) -> None:
    from boxvault.box.state import StateStore

    path = state_dir(task) / "state.sqlite"
    if path.exists():  # no state yet: no run yet, and the first run lists everything anyway
        state = StateStore(path)
        try:
            state.walk_in_full_next(task.enterprise_id)
        finally:
            state.close()


def set_retention(task: Task, kind: str, value: int = 0, *, access: Access | None = None) -> Task:
    """Operators only (CLI/API for staff): how long snapshots are kept, applied with forget + prune."""
    if kind not in Task.Retention.values:
        raise ServiceError(f"retention must be one of {', '.join(Task.Retention.values)}.")
    if kind != Task.Retention.UNLIMITED and value < 1:
        raise ServiceError("Give a number of days, months or years of at least 1.")
    if access is not None:
        _require(access, Operation.MODIFY_TASKS)
    task.retention, task.retention_value = kind, value if kind != Task.Retention.UNLIMITED else 0
    with transaction.atomic():
        task.save(update_fields=["retention", "retention_value"])
        kept = "unlimited" if not task.retention_value else f"{task.retention_value} {task.retention}"
        _audit(access, task, Activity.TASK_CHANGED, f"Retention of {task.name} set to {kept}")
    return task


def request_deletion(access: Access, task: Task) -> Task:
    _require(access, Operation.DELETE_TASKS)
    now = clock.now()
    task.deletion_requested_at, task.deletion_due_at = now, now + timedelta(days=GRACE_DAYS)
    with transaction.atomic():
        task.save(update_fields=["deletion_requested_at", "deletion_due_at"])
        _audit(
            access,
            task,
            Activity.TASK_DELETION,
            f"Deletion of {task.name} requested ({GRACE_DAYS}-day grace)",
        )
    return task


def cancel_deletion(access: Access, task: Task) -> Task:
    _require(access, Operation.DELETE_TASKS)
    task.deletion_requested_at = task.deletion_due_at = None
    with transaction.atomic():
        task.save(update_fields=["deletion_requested_at", "deletion_due_at"])
        _audit(access, task, Activity.TASK_DELETION, f"Deletion of {task.name} canceled")
    return task


def purge_task(task: Task) -> None:
    """Delete the task's repository and rows (its own only), after the grace period."""
    delete_repository(task)
    with transaction.atomic():
        CatalogVersion.objects.filter(task=task).delete()
        CatalogSnapshot.objects.filter(task=task).delete()
        task.delete()
    state = state_dir(task)
    if state.exists():
        shutil.rmtree(state, ignore_errors=True)


def delete_repository(task: Task) -> None:
    from boxvault.engine.storage import open_backend

    backend = open_backend(task.repository)
    try:
        for directory in ("data", "index", "snapshots", "locks", "keys"):
            for name, _size in list(backend.list(directory)):
                backend.delete(name)
        backend.delete("config")
    finally:
        backend.close()
    if task.repository.partition(":")[0] not in ("s3", "azure", "gs"):
        root = Path(task.repository.removeprefix("local:"))
        if root.is_dir():
            shutil.rmtree(root, ignore_errors=True)


def purge_due(now: Any = None) -> list[int]:
    """The periodic purge: tasks and users whose grace period ended, archived users past their retention
    (those as a "purge" job per task: backups/retention.py)."""
    from boxvault.backups.retention import start_purge

    now = now or clock.now()
    purged: list[int] = []
    for task in Task.objects.filter(deletion_due_at__lte=now):
        pk = task.pk
        try:
            purge_task(task)
            purged.append(pk)
        except Exception:  # one task's storage trouble must not stop the others
            log.exception("purging task %s failed; retrying next time", task.pk)
    for task in Task.objects.filter(deletion_due_at__isnull=True):
        cutoff = now - timedelta(days=task.archived_retention_days)
        gone = list(
            TaskUser.objects.filter(task=task, deletion_due_at__lte=now)
            | TaskUser.objects.filter(task=task, status=TaskUser.Status.ARCHIVED, archived_at__lte=cutoff)
        )
        if gone:
            start_purge(task, gone)
    return purged


def state_dir(task: Task) -> Path:
    """Local, non-secret state of a task's runs (blob cache, events positions): rebuilt if lost."""
    return Path(settings.DATA_DIR) / "task-state" / str(task.uuid)
