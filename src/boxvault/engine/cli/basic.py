"""``init``, ``backup`` and ``restore``."""

from __future__ import annotations

import json
import os
import socket
import time
from typing import Annotated

import typer

from . import app
from .common import (
    JsonOpt,
    PasswordFileOpt,
    RepoOpt,
    handle_errors,
    open_repo,
    progress_bar,
    read_password,
    require_repo,
    show_progress,
)


@app.command("init")
@handle_errors
def init_cmd(
    repo: RepoOpt = None,
    password_file: PasswordFileOpt = None,
    compression: Annotated[str, typer.Option(help="auto, max or off (the repository default)")] = "auto",
    json_out: JsonOpt = False,
) -> None:
    """Create a new repository (format version 2)."""
    from ..repository import Repository
    from ..storage import open_backend

    location = require_repo(repo)
    password = read_password(password_file, prompt="enter password for new repository: ", confirm=True)
    r = Repository.init(open_backend(location), password, compression=compression)
    if json_out:
        typer.echo(json.dumps({"message_type": "initialized", "id": r.id, "repository": location}))
    else:
        typer.echo(f"created restic repository {r.id[:10]} at {location}")


@app.command("backup")
@handle_errors
def backup_cmd(
    paths: Annotated[list[str], typer.Argument(help="local files or directories")],
    repo: RepoOpt = None,
    password_file: PasswordFileOpt = None,
    tag: Annotated[
        list[str] | None, typer.Option("--tag", help="tag the snapshot (repeatable, or a,b)")
    ] = None,
    host: Annotated[str | None, typer.Option("--host", help="hostname stored in the snapshot")] = None,
    force: Annotated[
        bool, typer.Option("--force", help="read every file, ignore the parent snapshot")
    ] = False,
    pack_size: Annotated[int, typer.Option("--pack-size", help="target pack size in MiB")] = 16,
    compression: Annotated[str | None, typer.Option(help="auto, max or off")] = None,
    json_out: JsonOpt = False,
) -> None:
    """Snapshot local directories, reading only files changed since the parent snapshot."""
    from ..localdir import backup

    r = open_repo(repo, password_file)
    if compression is not None:
        from ..compression import check_mode

        r.compression = check_mode(compression)
    tags = [t for spec in tag or [] for t in spec.split(",") if t]
    start = time.monotonic()
    # the bar's total needs a walk of its own: only when there is a bar to show it
    total = _total_size(paths) if not json_out and show_progress() else None
    with progress_bar("backup", total) as advance, r.writer(pack_size=pack_size * 2**20) as w:
        last = [0]

        def progress(_files: int, done: int) -> None:
            advance(done - last[0])
            last[0] = done

        snapshot_id, job = backup(r, w, paths, hostname=host or socket.gethostname(), tags=tags,
                                  use_parent=not force, progress=progress)  # fmt: skip
    for message in job.errors:
        typer.echo(f"warning: {message}", err=True)
    elapsed = time.monotonic() - start
    if json_out:
        typer.echo(json.dumps({
            "message_type": "summary", "snapshot_id": snapshot_id, "files": job.files, "bytes": job.bytes,
            "data_added": w.stats.data_added, "data_added_packed": w.stats.data_added_packed,
            "total_duration": elapsed, "errors": job.errors,
        }))  # fmt: skip
    else:
        typer.echo(
            f"processed {job.files} files, {job.bytes / 2**20:.1f} MiB in {elapsed:.1f}s; "
            f"added {w.stats.data_added / 2**20:.1f} MiB ({w.stats.data_added_packed / 2**20:.1f} MiB stored)"
        )
        typer.echo(f"snapshot {snapshot_id[:8]} saved")
    if job.errors:
        raise typer.Exit(3)  # restic's exit code for "snapshot created, but some files could not be read"


def _total_size(paths: list[str]) -> int:
    total = 0
    for p in paths:
        if os.path.isfile(p):
            total += os.path.getsize(p)
        for root, _dirs, files in os.walk(p):
            for name in files:
                try:
                    total += os.lstat(os.path.join(root, name)).st_size
                except OSError:
                    pass
    return total


@app.command("restore")
@handle_errors
def restore_cmd(
    snapshot: Annotated[str, typer.Argument(help="snapshot id (prefix) or 'latest'")],
    target: Annotated[str, typer.Option("--target", "-t", help="directory to restore into")],
    repo: RepoOpt = None,
    password_file: PasswordFileOpt = None,
    include: Annotated[
        list[str] | None, typer.Option("--include", "-i", help="restore only this path")
    ] = None,
    host: Annotated[str | None, typer.Option("--host", help="for 'latest': only this host")] = None,
    tag: Annotated[list[str] | None, typer.Option("--tag", help="for 'latest': only with these tags")] = None,
    path: Annotated[
        list[str] | None, typer.Option("--path", help="for 'latest': only with this path")
    ] = None,
) -> None:
    """Restore a snapshot (or the included paths) below a target directory."""
    r = open_repo(repo, password_file)
    tags = [t for spec in tag or [] for t in spec.split(",") if t] or None
    snap = r.find_snapshot(snapshot, host=host, tags=tags, paths=path)
    from ..reader import restore

    start = time.monotonic()
    with progress_bar("restore", None) as advance:
        stats = restore(r, snap, target, include, progress=advance)
    typer.echo(
        f"restored snapshot {snap.short_id} to {target}: {stats.files} files, {stats.dirs} directories, "
        f"{stats.bytes / 2**20:.1f} MiB in {time.monotonic() - start:.1f}s"
    )
