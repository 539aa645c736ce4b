"""`boxvault box ...`: back up a Box enterprise into a repository without the portal (CCG)."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from boxvault.box.connect import BOX_API_URL, CCGCredentials, Limits
from boxvault.box.errors import describe
from boxvault.box.progress import ProgressInfo
from boxvault.box.report import FAILED, PARTIAL, RunReport

app = typer.Typer(
    no_args_is_help=True, add_completion=False, help="Back up a Box enterprise into a repository."
)

EXIT_PARTIAL = 3  # as restic: the snapshot(s) exist, but some items could not be read


def _fail(message: str, code: int = 1) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code)


def _password(password_file: Path | None) -> str:
    if password_file is not None:
        try:
            lines = password_file.read_text().splitlines()
            return lines[0] if lines else ""  # the first line, as restic reads it
        except OSError as exc:
            raise _fail(f"cannot read password file {password_file}: {exc.strerror}") from None
    if "RESTIC_PASSWORD" in os.environ:
        return os.environ["RESTIC_PASSWORD"]
    env_file = os.environ.get("RESTIC_PASSWORD_FILE")
    if env_file:
        return _password(Path(env_file))
    raise _fail("no repository password: set RESTIC_PASSWORD, RESTIC_PASSWORD_FILE or --password-file")


def _state_dir(explicit: Path | None, repo_id: str) -> Path:
    if explicit is not None:
        return explicit
    base = Path(os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state")
    return base / "boxvault" / "box" / repo_id


def _human(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024 or unit == "TiB":
            return f"{n:.1f} {unit}" if unit != "B" else f"{int(n)} B"
        n /= 1024
    return f"{n} B"


def _print_table(report: RunReport) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"Box backup: {report.status} in {report.duration:.1f}s")
    for col in ("user", "snapshot", "status", "files", "bytes", "downloaded", "reused", "failed", "duration"):
        table.add_column(col, justify="right" if col not in ("user", "snapshot", "status") else "left")
    for u in report.users:
        table.add_row(
            u.login or u.box_user_id,
            (u.snapshot_id or "-")[:8],
            u.status,
            str(u.files),
            _human(u.bytes),
            f"{u.downloaded} ({_human(u.downloaded_bytes)})",
            str(u.reused),
            str(u.failed),
            f"{u.duration:.1f}s",
        )
    console = Console()
    console.print(table)
    req = report.requests
    console.print(
        f"API requests: {req['requests']}, downloads: {req['downloads']}, retries: {req['retries']}"
    )
    for u in report.users:
        if u.error:
            console.print(f"[red]{u.login or u.box_user_id}: {u.error}[/red]")
        for f in u.failures[:20]:
            console.print(f"[yellow]{u.login}: {f.path or f.item_id}: {f.error}[/yellow]")
        if len(u.failures) > 20:
            console.print(
                f"[yellow]{u.login}: ... {len(u.failures) - 20} more failures (see --json)[/yellow]"
            )


@app.command("backup")
def backup(
    client_id: Annotated[str, typer.Option("--client-id", envvar="BOX_CLIENT_ID", help="CCG app client id")],
    client_secret: Annotated[
        str, typer.Option("--client-secret", envvar="BOX_CLIENT_SECRET", help="CCG app client secret")
    ],
    enterprise_id: Annotated[str, typer.Option("--enterprise-id", envvar="BOX_ENTERPRISE_ID")],
    repo: Annotated[
        str | None,
        typer.Option(
            "--repo", "-r", envvar="RESTIC_REPOSITORY", help="repository location, as restic spells it"
        ),
    ] = None,
    api_url: Annotated[
        str, typer.Option("--api-url", help="Box API base URL (the sandbox: http://HOST:PORT)")
    ] = (BOX_API_URL),
    user: Annotated[
        list[str] | None, typer.Option("--user", help="Box user id (repeatable); default: all active")
    ] = None,
    json_out: Annotated[bool, typer.Option("--json", help="print one JSON document")] = False,
    password_file: Annotated[
        Path | None, typer.Option("--password-file", help="file holding the password")
    ] = None,
    init: Annotated[bool, typer.Option("--init", help="create the repository if it does not exist")] = False,
    state_dir: Annotated[
        Path | None, typer.Option("--state-dir", help="blob cache, catalog and state (SQLite)")
    ] = None,
    task_id: Annotated[str, typer.Option("--task-id", help="the task:<id> tag of the snapshots")] = "cli",
    workers: Annotated[int, typer.Option("--workers", min=1, max=64, help="parallel downloads")] = 4,
    list_workers: Annotated[int, typer.Option("--list-workers", min=1, max=64, help="parallel listings")] = 4,
    user_workers: Annotated[int, typer.Option("--user-workers", min=1, max=16, help="users at once")] = 2,
    rate_per_user: Annotated[
        float, typer.Option("--rate-per-user", min=0, help="API calls/s per user (0: off)")
    ] = 16.0,
    rate_per_enterprise: Annotated[
        float, typer.Option("--rate-per-enterprise", min=0, help="API calls/s for the enterprise (0: off)")
    ] = 0.0,
    retry_base: Annotated[
        float, typer.Option("--retry-base", min=0, help="backoff base interval, seconds")
    ] = 1.0,
    metadata: Annotated[
        bool, typer.Option("--metadata/--no-metadata", help="capture metadata instances")
    ] = True,
    versions: Annotated[
        bool, typer.Option("--versions/--no-versions", help="also keep Box's previous versions of each file")
    ] = False,
    trash: Annotated[
        bool,
        typer.Option("--trash/--no-trash", help="keep what is in each user's Box trash (as last backed up)"),
    ] = True,
    full_walk: Annotated[
        bool, typer.Option("--full-walk", help="list every user's tree even when its events show no change")
    ] = False,
    full_walk_days: Annotated[
        float,
        typer.Option("--full-walk-days", min=0, help="list a quiet user's tree in full at least this often"),
    ] = 7.0,
    refresh_extras: Annotated[
        bool,
        typer.Option("--refresh-extras", help="ask again for every item's collaborations/comments/metadata"),
    ] = False,
    checkpoint_seconds: Annotated[float, typer.Option("--checkpoint-seconds", min=0)] = 30.0,
) -> None:
    """Back up every active user (or those named), one snapshot each."""
    from boxvault.box.backup import BackupOptions, run_backup
    from boxvault.box.blobcache import BlobCache
    from boxvault.box.catalog import SqliteCatalog
    from boxvault.box.connect import connect
    from boxvault.box.state import StateStore
    from boxvault.engine.errors import EngineError, NotARepository
    from boxvault.engine.repository import Repository
    from boxvault.engine.storage import StorageError, open_backend

    if not repo:
        raise _fail("no repository: use --repo or RESTIC_REPOSITORY")
    password = _password(password_file)
    try:
        backend = open_backend(repo)
        if init and not backend.exists("config"):
            repository = Repository.init(backend, password)
        else:
            repository = Repository.open(backend, password)
    except (EngineError, StorageError, ValueError) as exc:
        hint = (
            " (create it with `boxvault repo init` or pass --init)" if isinstance(exc, NotARepository) else ""
        )
        raise _fail(f"{exc}{hint}") from None
    try:
        conn = connect(
            CCGCredentials(client_id, client_secret, enterprise_id),
            api_url=api_url,
            limits=Limits(
                per_user_rps=rate_per_user,
                per_enterprise_rps=rate_per_enterprise,
                retry_base_interval=retry_base,
            ),
        )
    except ValueError as exc:
        raise _fail(str(exc)) from None
    directory = _state_dir(state_dir, repository.id)
    state = StateStore(directory / "state.sqlite")
    catalog = SqliteCatalog(directory / "catalog.sqlite")
    cache = BlobCache(directory / "blobcache.sqlite", repository.id)
    options = BackupOptions(
        enterprise_id=enterprise_id,
        task_id=task_id,
        list_workers=list_workers,
        download_workers=workers,
        user_workers=user_workers,
        metadata=metadata,
        refresh_extras=refresh_extras,
        use_events=not full_walk,
        full_walk_days=full_walk_days,
        versions=versions,
        trash=trash,
        checkpoint_seconds=checkpoint_seconds,
    )
    try:
        report = _run_with_progress(
            lambda cb: run_backup(
                conn,
                repository,
                options=options,
                catalog=catalog,
                state=state,
                cache=cache,
                user_ids=user or None,
                progress=cb,
            ),
            show=not json_out,
        )
    except Exception as exc:  # a clear message, never a traceback
        from box_sdk_gen.box.errors import BoxAPIError, BoxSDKError

        if isinstance(exc, BoxAPIError | BoxSDKError):
            raise _fail(describe(exc, api_url)) from None
        if isinstance(exc, EngineError | StorageError | OSError):
            raise _fail(str(exc)) from None
        raise
    finally:
        cache.close()
        catalog.close()
        state.close()
    if json_out:
        typer.echo(json.dumps(report.to_json(), indent=2, default=str))
    else:
        _print_table(report)
    if report.status == FAILED:
        raise typer.Exit(1)
    if report.status == PARTIAL:
        raise typer.Exit(EXIT_PARTIAL)


def _run_with_progress(run: Any, show: bool) -> RunReport:
    if not show or not sys.stderr.isatty():
        result: RunReport = run(None)
        return result
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
        TransferSpeedColumn,
    )

    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TextColumn("{task.fields[items]}"),
        TimeRemainingColumn(),
        transient=True,
        console=Console(stderr=True),  # stdout stays for the report
    ) as bar:
        task = bar.add_task("listing", total=None, items="")

        def update(info: ProgressInfo) -> None:
            bar.update(
                task,
                completed=info.bytes_done,
                total=None if info.walking else info.bytes_total,
                description=info.describe() if info.user else "finishing",
                items=f"{info.items_done}/{info.items_total} items",
            )

        result = run(update)
        return result
