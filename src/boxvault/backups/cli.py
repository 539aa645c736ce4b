"""`boxvault task ...`: backup tasks for operators and scripts (`--json` everywhere).

`repo-password` and `escrow-password` are the operator's way into a repository with stock restic
(docs/operations.md): the first decrypts the task's password with the KEK, the second needs no database.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from boxvault.core import bootstrap

app = typer.Typer(no_args_is_help=True, add_completion=False, help="backup tasks of the portal")

DataOption = Annotated[
    Path | None,
    typer.Option("--data", help="data directory (default ./data or BOXVAULT_DATA)", show_default=False),
]
JsonOption = Annotated[bool, typer.Option("--json", help="machine-readable output")]


def _fail(message: str) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(1)


def _setup(data: Path | None) -> None:
    bootstrap.setup(data)


def _task(ref: str) -> Any:
    import uuid

    from boxvault.backups.models import Task

    query = Task.objects.select_related("account")
    task = None
    if ref.isdigit():
        task = query.filter(pk=int(ref)).first()
    else:
        try:
            task = query.filter(uuid=uuid.UUID(ref)).first()
        except ValueError:
            task = None
    if task is None:
        raise _fail(f"no backup task {ref!r} (give its id or uuid; `boxvault task list` shows them)")
    return task


def _task_json(task: Any) -> dict[str, Any]:
    return {
        "id": task.pk,
        "uuid": str(task.uuid),
        "account": task.account_id,
        "name": task.name,
        "kind": task.kind,
        "status": task.status,
        "repository": task.repository,
        "frequency": task.frequency,
        "hour_utc": task.hour_utc,
        "retention": task.retention_label,
        "users_total": getattr(task, "users_total", None),
        "users_active": getattr(task, "users_active", None),
        "last_backup_at": getattr(task, "last_backup_at", None),
        "storage_used": getattr(task, "storage_used", None) or 0,
        "deletion_due_at": task.deletion_due_at,
    }


def _echo(data: Any) -> None:
    typer.echo(json.dumps(data, indent=2, default=str))


@app.command("list")
def list_tasks(
    account: Annotated[int | None, typer.Option(help="only this account id")] = None,
    data: DataOption = None,
    as_json: JsonOption = False,
) -> None:
    """Every backup task (of one account)."""
    _setup(data)
    from boxvault.backups.models import Task
    from boxvault.backups.queries import tasks_with_figures

    rows = Task.objects.all() if account is None else Task.objects.filter(account_id=account)
    tasks = [_task_json(t) for t in tasks_with_figures(rows).order_by("account_id", "name")]
    if as_json:
        _echo(tasks)
        return
    for t in tasks:
        typer.echo(
            f"{t['id']:>5}  {t['name'][:30]:<30}  {t['status']:<12}  "
            f"users {t['users_active']}/{t['users_total']}  last {t['last_backup_at'] or '-'}  "
            f"{t['repository']}"
        )


@app.command("show")
def show(task: Annotated[str, typer.Argument(help="task id or uuid")], data: DataOption = None) -> None:
    """One task's settings and figures (JSON)."""
    _setup(data)
    from boxvault.backups.models import Task
    from boxvault.backups.queries import tasks_with_figures

    found = _task(task)
    _echo(_task_json(tasks_with_figures(Task.objects.filter(pk=found.pk)).get()))


@app.command("users")
def users(
    task: Annotated[str, typer.Argument(help="task id or uuid")],
    status: Annotated[str, typer.Option(help="only users with this status")] = "",
    data: DataOption = None,
    as_json: JsonOption = False,
) -> None:
    """The Box users of a task with their status and backups."""
    _setup(data)
    from boxvault.backups.queries import task_users

    rows = [
        {
            "box_user_id": u.box_user_id,
            "login": u.login,
            "name": u.name,
            "status": u.status,
            "first_backup_at": u.first_backup_at,
            "last_backup_at": u.last_backup_at,
            "size": u.size,
        }
        for u in task_users(_task(task), status=status)
    ]
    if as_json:
        _echo(rows)
        return
    for r in rows:
        typer.echo(
            f"{r['box_user_id']:>12}  {r['login'][:40]:<40}  {r['status']:<11}  "
            f"last {r['last_backup_at'] or '-'}"
        )


@app.command("backup-now")
def backup_now(
    task: Annotated[str, typer.Argument(help="task id or uuid")],
    user: Annotated[list[str], typer.Option("--user", help="Box user id (repeatable)")],
    data: DataOption = None,
    as_json: JsonOption = False,
) -> None:
    """Queue a backup job for these users now (as the scheduler would; a worker runs it)."""
    _setup(data)
    from django.db import transaction

    from boxvault.backups import services
    from boxvault.backups.models import TaskUser
    from boxvault.core import clock
    from boxvault.core.errors import ServiceError

    found = _task(task)
    rows = list(TaskUser.objects.filter(task=found, box_user_id__in=user))
    missing = sorted(set(user) - {r.box_user_id for r in rows})
    if missing:
        raise _fail(f"unknown Box user(s) for this task: {', '.join(missing)}")
    started = []
    try:
        with transaction.atomic():
            for row in rows:
                job = services.start_backup(row, initiator=None, now=clock.now())
                started.append({"box_user_id": row.box_user_id, "job": job.pk if job else None})
    except ServiceError as exc:
        raise _fail(str(exc)) from None
    if as_json:
        _echo(started)
        return
    for s in started:
        typer.echo(f"{s['box_user_id']}: " + (f"job {s['job']} queued" if s["job"] else "already running"))


@app.command("verify-catalog")
def verify_catalog(
    task: Annotated[str, typer.Argument(help="task id or uuid")],
    repair: Annotated[bool, typer.Option("--repair", help="repair the catalog from the repository")] = False,
    as_json: JsonOption = False,
    data: DataOption = None,
) -> None:
    """Compare the task's catalog (what listings show) with its repository; --repair fixes the catalog.

    Exits 1 when they differ and --repair was not given."""
    _setup(data)
    from boxvault.backups import repository
    from boxvault.backups.catalog import DjangoCatalog
    from boxvault.box.verify import verify_catalog as verify

    found = _task(task)
    if not found.repository_id:
        raise _fail("this task has no backup yet: there is nothing to compare")
    try:
        repo = repository.open_repository(found)
    except Exception as exc:  # noqa: BLE001 - storage or key trouble, said in words
        raise _fail(f"cannot open the task's repository: {exc}") from None
    with repo:
        report = verify(repo, DjangoCatalog(found), found.enterprise_id, repair=repair)
    if as_json:
        _echo(report.to_json())
    else:
        typer.echo(
            f"repository: {report.repository} snapshots; catalog: {report.catalog} snapshots\n"
            f"missing in the catalog: {len(report.missing_in_catalog)}; "
            f"gone from the repository: {len(report.missing_in_repository)}; "
            f"wrongly marked gone: {len(report.wrongly_forgotten)}\n"
            + ("consistent" if report.consistent else "repaired" if report.repaired else "inconsistent")
        )
    if not report.consistent and not report.repaired:
        raise typer.Exit(1)


@app.command("repo-password")
def repo_password(
    task: Annotated[str, typer.Argument(help="task id or uuid")], data: DataOption = None
) -> None:
    """Print the repository password of a task, decrypted with the server's KEK (operators only)."""
    _setup(data)
    from boxvault.backups import repository, vault

    found = _task(task)
    try:
        typer.echo(repository.password(found))
    except vault.SecretError as exc:
        raise _fail(str(exc)) from None


@app.command("escrow-password")
def escrow_password(
    task_uuid: Annotated[str, typer.Argument(help="the task's uuid: the repository folder's name")],
) -> None:
    """Print a repository's escrow password from the KEK and the task's uuid alone (no database needed)."""
    import os
    import uuid

    from boxvault.backups import crypto

    try:
        uuid.UUID(task_uuid)
    except ValueError:
        raise _fail("give the task's uuid (the last folder of its repository location)") from None
    configured = os.environ.get("BOXVAULT_KEK")
    kek_path = os.environ.get("BOXVAULT_KEK_FILE")
    try:
        if kek_path:
            configured = Path(kek_path).read_text(encoding="utf-8")
        if not configured:
            data = Path(os.environ.get("BOXVAULT_DATA", "./data"))
            if not crypto.kek_file(data).exists():
                raise _fail("no KEK: set BOXVAULT_KEK, BOXVAULT_KEK_FILE or BOXVAULT_DATA (holding `kek`)")
            configured = crypto.kek_file(data).read_text(encoding="utf-8")
        typer.echo(crypto.escrow_password(crypto.parse_kek(configured), task_uuid.lower()))
    except (OSError, crypto.SecretError) as exc:
        raise _fail(str(exc)) from None


@app.command("retention")
def retention(
    task: Annotated[str, typer.Argument(help="task id or uuid")],
    keep: Annotated[str, typer.Option(help="unlimited, or e.g. 90d, 12m, 7y")] = "unlimited",
    apply: Annotated[bool, typer.Option("--apply", help="run forget + prune now")] = False,
    data: DataOption = None,
    as_json: JsonOption = False,
) -> None:
    """Set how long a task keeps snapshots (operators); applied with forget + prune."""
    _setup(data)
    from boxvault.backups import services
    from boxvault.core.errors import ServiceError

    found = _task(task)
    kinds = {"d": "days", "m": "months", "y": "years"}
    try:
        if keep == "unlimited":
            services.set_retention(found, "unlimited")
        elif keep[:-1].isdigit() and keep[-1:] in kinds:
            services.set_retention(found, kinds[keep[-1]], int(keep[:-1]))
        else:
            raise ServiceError("--keep is 'unlimited' or a number followed by d, m or y (e.g. 90d)")
    except ServiceError as exc:
        raise _fail(str(exc)) from None
    removed: list[str] = []
    if apply:
        from boxvault.backups.retention import apply_retention

        removed = apply_retention(found)
    result = {"task": found.pk, "retention": found.retention_label, "removed_snapshots": removed}
    if as_json:
        _echo(result)
    else:
        typer.echo(f"{found.name}: retention {found.retention_label}; removed {len(removed)} snapshot(s)")
