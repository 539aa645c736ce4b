"""`boxvault recovery snapshots|tree|restore|export|erase`: the API's recovery calls for a member, by e-mail.

The commands act as the member named with `--email` (their role's operations apply, their account's tasks
only), against the portal's database in the data directory. Export credentials come from a JSON file
(`--target-file`), never from the command line, where they would land in shell history and `ps`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from boxvault.core import bootstrap

app = typer.Typer(no_args_is_help=True, help="browse snapshots, restore into Box, export")

DataOption = Annotated[
    Path | None,
    typer.Option("--data", help="data directory (default ./data or BOXVAULT_DATA)", show_default=False),
]
JsonOption = Annotated[bool, typer.Option("--json", help="machine-readable output")]
EmailOption = Annotated[str, typer.Option("--email", help="act as this member of an account")]
PathsOption = Annotated[
    list[str] | None, typer.Option("--path", help="a path inside the snapshot (repeat; none = everything)")
]
WaitOption = Annotated[bool, typer.Option("--wait", help="run the job here and wait for its end")]


def _fail(message: str, code: int = 1) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def _access(email: str, data: Path | None) -> Any:
    bootstrap.setup(data)
    from django.contrib.auth import get_user_model

    from boxvault.accounts.access import for_user

    user = get_user_model().objects.filter(email__iexact=email.strip()).first()
    if user is None:
        _fail(f"no user with the e-mail {email!r}")
    try:
        return for_user(user)
    except Exception as exc:  # noqa: BLE001 - PermissionDenied and friends: one line for the operator
        _fail(str(exc))


def _guard(fn: Any, *args: Any, **kwargs: Any) -> Any:
    """Service refusals as one line and exit status 2 (bad input), 3 (not found), 4 (not allowed)."""
    from django.core.exceptions import PermissionDenied
    from django.http import Http404

    from boxvault.core.errors import ServiceError
    from boxvault.recovery.snapshots import BadRequest

    try:
        return fn(*args, **kwargs)
    except (BadRequest, ServiceError) as exc:
        _fail(str(exc), 2)
    except Http404 as exc:
        _fail(str(exc) or "not found", 3)
    except PermissionDenied as exc:
        _fail(str(exc), 4)


def _emit(doc: Any, as_json: bool, lines: list[str]) -> None:
    if as_json:
        typer.echo(json.dumps(doc, indent=2, default=str))
    else:
        for line in lines:
            typer.echo(line)


@app.command("snapshots")
def snapshots(
    task: Annotated[int, typer.Option("--task", help="task id")],
    user: Annotated[str, typer.Option("--user", help="Box user id")],
    email: EmailOption,
    start: Annotated[str, typer.Option("--from", help="YYYY-MM-DD (default: the first backup)")] = "",
    end: Annotated[str, typer.Option("--to", help="YYYY-MM-DD (default: today)")] = "",
    data: DataOption = None,
    as_json: JsonOption = False,
) -> None:
    """A Box user's snapshots, newest first."""
    access = _access(email, data)
    from boxvault.accounts.access import get_for
    from boxvault.backups.models import Task, TaskUser
    from boxvault.core.operations import Operation
    from boxvault.recovery.snapshots import list_snapshots
    from boxvault.recovery.views import date_range

    def run() -> list[dict[str, Any]]:
        if not access.can(Operation.PREVIEW_DATA):
            from django.core.exceptions import PermissionDenied

            raise PermissionDenied("your role does not allow previewing backed-up data")
        found = get_for(access, Task.objects.all(), pk=task)
        row = TaskUser.objects.filter(task=found, box_user_id=user).first()
        begin, finish = date_range(row.first_backup_at if row else None, start or None, end or None)
        return list_snapshots(found, user, begin, finish)

    snaps = _guard(run)
    _emit(snaps, as_json, [f"{s['id']}  {s['time']}  {s['root']}" for s in snaps] or ["no snapshots"])


@app.command("tree")
def tree(
    snapshot: Annotated[str, typer.Argument(help="<task id>:<snapshot id>")],
    email: EmailOption,
    path: Annotated[str, typer.Option("--path", help="folder inside the snapshot")] = "",
    data: DataOption = None,
    as_json: JsonOption = False,
) -> None:
    """The items of one folder of a snapshot."""
    access = _access(email, data)
    from boxvault.core.operations import Operation
    from boxvault.recovery.snapshots import children, clean_path, locate

    def run() -> dict[str, Any]:
        if not access.can(Operation.PREVIEW_DATA):
            from django.core.exceptions import PermissionDenied

            raise PermissionDenied("your role does not allow previewing backed-up data")
        located = locate(access, snapshot)
        with located.repo:
            where = clean_path(located, path)
            return {"snapshot": located.ref, "path": where, "results": children(located, where)}

    doc = _guard(run)
    lines = [f"{e['type']:<8} {e['size'] or '':>12}  {e['path']}" for e in doc["results"]]
    _emit(doc, as_json, lines or ["(empty)"])


def _finish(job: Any, wait: bool, as_json: bool) -> None:
    from boxvault.jobs import services as jobs
    from boxvault.jobs.models import Job
    from boxvault.recovery.api import job_json

    if wait:
        jobs.run(job.pk)
        job = Job.objects.get(pk=job.pk)
    doc = job_json(job)
    _emit(doc, as_json, [f"job {job.pk}: {job.kind} {job.status}", json.dumps(doc["result"])])
    if job.status in ("failed", "canceled"):
        raise typer.Exit(1)
    if job.status == "partially_succeeded":
        raise typer.Exit(3)


@app.command("restore")
def restore(
    snapshot: Annotated[str, typer.Argument(help="<task id>:<snapshot id>")],
    email: EmailOption,
    mode: Annotated[
        str, typer.Option("--mode", help="non_destructive, replace or bypass")
    ] = "non_destructive",
    paths: PathsOption = None,
    to_user: Annotated[str, typer.Option("--to-user", help="destination Box user (default: the same)")] = "",
    folder: Annotated[str, typer.Option("--folder", help="destination Box folder id")] = "0",
    collaborations: Annotated[bool, typer.Option(help="reapply collaborations")] = False,
    shared_links: Annotated[bool, typer.Option(help="re-create shared links (new URLs)")] = False,
    comments: Annotated[bool, typer.Option(help="post the files' comments again")] = False,
    metadata: Annotated[bool, typer.Option(help="reapply metadata")] = False,
    wait: WaitOption = False,
    data: DataOption = None,
    as_json: JsonOption = False,
) -> None:
    """Restore a snapshot (or some of its paths) into Box."""
    access = _access(email, data)
    from boxvault.recovery import services

    destination = {"box_user_id": to_user, "folder_id": folder}
    job = _guard(
        services.start_restore,
        access,
        snapshot,
        list(paths or []),
        mode,
        destination,
        collaborations=collaborations,
        shared_links=shared_links,
        comments=comments,
        metadata=metadata,
    )
    _finish(job, wait, as_json)


@app.command("versions")
def versions_cmd(
    snapshot: Annotated[str, typer.Argument(help="<task id>:<snapshot id>")],
    email: EmailOption,
    path: Annotated[str, typer.Option("--path", help="the file's path inside the snapshot")],
    data: DataOption = None,
    as_json: JsonOption = False,
) -> None:
    """A file's previous versions that the snapshot holds, newest first."""
    access = _access(email, data)
    from boxvault.recovery import versions

    doc = _guard(versions.list_versions, access, snapshot, path)
    lines = [f"{doc['file']['path']}  (in this backup: {doc['file']['size']} bytes)"]
    lines += [
        f"  version {v['number'] or '?'}  id {v['id']}  {v['size']} bytes  {v['modified_at']}"
        for v in doc["versions"]
    ]
    _emit(doc, as_json, lines if doc["versions"] else [*lines, "  no previous versions in this backup"])


@app.command("restore-version")
def restore_version(
    snapshot: Annotated[str, typer.Argument(help="<task id>:<snapshot id>")],
    email: EmailOption,
    path: Annotated[str, typer.Option("--path", help="the file's path inside the snapshot")],
    version: Annotated[str, typer.Option("--version", help="the version id (see `versions`)")],
    as_: Annotated[
        str, typer.Option("--as", help="current (Box's current version again) or copy")
    ] = "current",
    wait: WaitOption = False,
    data: DataOption = None,
    as_json: JsonOption = False,
) -> None:
    """Restore one previous version of a file into its owner's Box."""
    access = _access(email, data)
    from boxvault.recovery import versions

    job = _guard(versions.start_version_restore, access, snapshot, path, version, as_)
    _finish(job, wait, as_json)


@app.command("export")
def export(
    snapshot: Annotated[str, typer.Argument(help="<task id>:<snapshot id>")],
    email: EmailOption,
    kind: Annotated[str, typer.Option("--kind", help="zip, s3, azure or gcs")] = "zip",
    paths: PathsOption = None,
    target_file: Annotated[
        Path | None,
        typer.Option("--target-file", help="JSON: location and credentials (see docs/recovery.md)"),
    ] = None,
    wait: WaitOption = False,
    data: DataOption = None,
    as_json: JsonOption = False,
) -> None:
    """Export a snapshot (or some of its paths) as a zip or into your own storage."""
    target: dict[str, Any] = {}
    if target_file is not None:
        try:
            target = json.loads(target_file.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            _fail(f"cannot read {target_file}: {exc}", 2)
        if not isinstance(target, dict):
            _fail("the target file holds a JSON object", 2)
    target["kind"] = kind
    access = _access(email, data)
    from boxvault.recovery import services

    job = _guard(services.start_export, access, snapshot, list(paths or []), target)
    _finish(job, wait, as_json)


@app.command("erase")
def erase(
    email: EmailOption,
    task: Annotated[int, typer.Option("--task", help="task id")],
    user: Annotated[str, typer.Option("--user", help="Box user id")],
    paths: Annotated[
        list[str], typer.Option("--path", help='a path as the snapshot tree names it: "/<login>/A/b.txt"')
    ],
    reason: Annotated[str, typer.Option("--reason", help="why (kept in the receipt)")],
    snapshot: Annotated[str, typer.Option("--snapshot", help="the paths must be in this snapshot")] = "",
    yes: Annotated[bool, typer.Option("--yes", help="confirm: erasure cannot be undone")] = False,
    receipt_pdf: Annotated[
        Path | None, typer.Option("--receipt-pdf", help="with --wait: write the PDF receipt here")
    ] = None,
    wait: WaitOption = False,
    data: DataOption = None,
    as_json: JsonOption = False,
) -> None:
    """GDPR right to erasure: remove paths of a Box user from every snapshot of the task, then prune."""
    if not yes:
        _fail("erasure deletes the items from every snapshot and cannot be undone: add --yes", 2)
    access = _access(email, data)
    from boxvault.jobs import services as jobs
    from boxvault.recovery import erasure as service
    from boxvault.recovery.erasure_api import erasure_json
    from boxvault.recovery.models import Erasure

    row = _guard(
        service.request_erasure,
        access,
        task=task,
        box_user_id=user,
        paths=list(paths or []),
        reason=reason,
        snapshot=snapshot or None,
    )
    if wait and row.job_id:
        jobs.run(row.job_id)
        row = Erasure.objects.get(pk=row.pk)
        if receipt_pdf is not None and row.status == Erasure.Status.COMPLETED:
            from boxvault.recovery.receipt import render_pdf

            receipt_pdf.write_bytes(render_pdf(row.receipt))
    doc = erasure_json(row)
    if wait and row.status == Erasure.Status.COMPLETED:
        doc["receipt"] = row.receipt
    lines = [f"erasure {row.pk}: {row.status} (job {row.job_id})"]
    if row.status == Erasure.Status.COMPLETED:
        lines.append(f"{len(row.receipt.get('snapshots_rewritten') or [])} snapshot(s) rewritten")
    _emit(doc, as_json, lines)
    if row.status in (Erasure.Status.FAILED, Erasure.Status.CANCELED):
        raise typer.Exit(1)


def _register_search() -> None:
    # The search app owns its command; recovery only lists it beside snapshots/tree/restore/export.
    from boxvault.search.cli import search

    app.command("search", help="search backed-up items of a task (its catalog)")(search)


_register_search()
