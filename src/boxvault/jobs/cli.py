"""`boxvault jobs list|show|cancel`: operator commands over every account's jobs (the API serves members)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from boxvault.core import bootstrap

jobs_app = typer.Typer(no_args_is_help=True, help="jobs of the portal")

DataOption = Annotated[
    Path | None,
    typer.Option("--data", help="data directory (default ./data or BOXVAULT_DATA)", show_default=False),
]
JsonOption = Annotated[bool, typer.Option("--json", help="machine-readable output")]


def _fail(message: str) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(1)


def _setup(data: Path | None) -> None:
    bootstrap.setup(data)


def _as_dict(job: Any, *, log: bool = False) -> dict[str, Any]:
    from boxvault.jobs.api import JobDetailSerializer, JobSerializer

    data = dict((JobDetailSerializer if log else JobSerializer)(job).data)
    data["account"] = job.account_id
    return data


@jobs_app.command("list")
def list_jobs(
    account: Annotated[int | None, typer.Option(help="only this account id")] = None,
    status: Annotated[str, typer.Option(help="only this status")] = "",
    kind: Annotated[str, typer.Option(help="only this kind (backup, restore, export, ...)")] = "",
    limit: Annotated[int, typer.Option(min=1, max=10000, help="at most this many, newest first")] = 50,
    data: DataOption = None,
    as_json: JsonOption = False,
) -> None:
    """List jobs, newest first."""
    _setup(data)
    from boxvault.jobs.models import Job

    if status and status not in Job.Status.values:
        _fail(f"unknown status {status!r}; use one of {', '.join(Job.Status.values)}")
    jobs = Job.objects.all()
    if account is not None:
        jobs = jobs.filter(account_id=account)
    if status:
        jobs = jobs.filter(status=status)
    if kind:
        jobs = jobs.filter(kind=kind)
    rows = [_as_dict(j) for j in jobs[:limit]]
    if as_json:
        typer.echo(json.dumps(rows, default=str))
        return
    for r in rows:
        pct = "" if r["progress"] is None else f"{r['progress']:3d}%"
        typer.echo(
            f"{r['id']:>6}  {r['kind']:<11} {r['status']:<20} {pct:>4}  {r['task_name']} "
            f"{r['box_user_login']}  {r['created_at']}"
        )
    if not rows:
        typer.echo("no jobs")


def _job(job_id: int) -> Any:
    from boxvault.jobs.models import Job

    job = Job.objects.filter(pk=job_id).first()
    if job is None:
        _fail(f"no job with id {job_id}")
    return job


@jobs_app.command("show")
def show_job(
    job_id: Annotated[int, typer.Argument(help="the job id")],
    data: DataOption = None,
    as_json: JsonOption = False,
) -> None:
    """Show a job with its log."""
    _setup(data)
    row = _as_dict(_job(job_id), log=True)
    if as_json:
        typer.echo(json.dumps(row, default=str))
        return
    for key, value in row.items():
        if key != "log":
            typer.echo(f"{key:>16}: {value}")
    for line in row["log"]:
        typer.echo(f"{line['created_at']} {line['level']:<7} {line['message']}")


@jobs_app.command("cancel")
def cancel_job(
    job_id: Annotated[int, typer.Argument(help="the job id")],
    data: DataOption = None,
    as_json: JsonOption = False,
) -> None:
    """Cancel a job: at once when pending, within seconds when running."""
    _setup(data)
    from boxvault.accounts.access import Access
    from boxvault.accounts.models import Member
    from boxvault.core.errors import ServiceError
    from boxvault.jobs import services

    job = _job(job_id)
    # An operator acts as the account's first administrator (the activity row names them).
    admin = Member.objects.select_related("user", "account").filter(account=job.account, role="admin").first()
    if admin is None:
        _fail(f"account {job.account_id} has no administrator")
    try:
        job = services.cancel(Access(user=admin.user, member=admin, account=admin.account), job)
    except ServiceError as exc:
        _fail(str(exc))
    row = _as_dict(job)
    typer.echo(
        json.dumps(row, default=str)
        if as_json
        else f"job {job.pk}: {job.get_status_display()}"
        + (" (cancel requested)" if job.cancel_requested and not job.finished else "")
    )
