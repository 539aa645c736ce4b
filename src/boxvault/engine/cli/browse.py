"""``snapshots`` and ``ls``."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from . import app
from .common import JsonOpt, PasswordFileOpt, RepoOpt, handle_errors, open_repo


def _tag_specs(tag: list[str] | None) -> list[list[str]]:
    return [[t for t in spec.split(",") if t] for spec in tag or []]


@app.command("snapshots")
@handle_errors
def snapshots_cmd(
    repo: RepoOpt = None,
    password_file: PasswordFileOpt = None,
    host: Annotated[str | None, typer.Option("--host", help="only snapshots of this host")] = None,
    tag: Annotated[
        list[str] | None, typer.Option("--tag", help="only with tags (a,b = both; repeat = either)")
    ] = None,
    path: Annotated[list[str] | None, typer.Option("--path", help="only snapshots with this path")] = None,
    json_out: JsonOpt = False,
) -> None:
    """List snapshots, oldest first (restic's field names with --json)."""
    r = open_repo(repo, password_file)
    specs = _tag_specs(tag)
    snaps = [
        s
        for s in r.list_snapshots(host=host, paths=path)
        if not specs or any(s.matches(None, t, None) for t in specs)
    ]
    if json_out:
        typer.echo(json.dumps([s.to_listing() for s in snaps], ensure_ascii=False))
        return
    typer.echo(f"{'ID':<10}{'Time':<21}{'Host':<16}{'Tags':<24}Paths")
    typer.echo("-" * 90)
    for s in snaps:
        when = s.datetime.astimezone().strftime("%Y-%m-%d %H:%M:%S")
        typer.echo(f"{s.short_id:<10}{when:<21}{s.hostname:<16}{','.join(s.tags):<24}{', '.join(s.paths)}")
    typer.echo("-" * 90)
    typer.echo(f"{len(snaps)} snapshots")


@app.command("ls")
@handle_errors
def ls_cmd(
    snapshot: Annotated[str, typer.Argument(help="snapshot id (prefix) or 'latest'")],
    paths: Annotated[list[str] | None, typer.Argument(help="list only below these paths")] = None,
    repo: RepoOpt = None,
    password_file: PasswordFileOpt = None,
    host: Annotated[str | None, typer.Option("--host", help="for 'latest': only this host")] = None,
    json_out: JsonOpt = False,
) -> None:
    """List the files of a snapshot (restic's ``ls --json`` line format with --json)."""
    r = open_repo(repo, password_file)
    snap = r.find_snapshot(snapshot, host=host)
    if json_out:
        head = snap.to_listing()
        head["struct_type"] = "snapshot"
        typer.echo(json.dumps(head, ensure_ascii=False))
    else:
        typer.echo(f"snapshot {snap.short_id} of {snap.paths} at {snap.time}:")
    for path, node in r.walk(snap, paths or None):
        if json_out:
            doc = {"name": node.name, "type": node.type, "path": path, "uid": node.uid, "gid": node.gid}
            if node.type == "file":
                doc["size"] = node.size
            doc.update({"mode": node.mode, "mtime": node.mtime, "atime": node.atime, "ctime": node.ctime,
                        "struct_type": "node"})  # fmt: skip
            typer.echo(json.dumps(doc, ensure_ascii=False))
        else:
            typer.echo(path)
