"""``cat config|masterkey|key|index|snapshot|lock|blob|tree|pack ID``: print a decrypted object."""

from __future__ import annotations

import json
import sys
from typing import Annotated

import typer

from ..errors import MissingObject
from . import app
from .common import CliError, PasswordFileOpt, RepoOpt, handle_errors, open_repo

_KINDS = ("config", "masterkey", "key", "index", "snapshot", "lock", "blob", "tree", "pack")
_DIRS = {"key": "keys", "index": "index", "snapshot": "snapshots", "lock": "locks"}


@app.command("cat")
@handle_errors
def cat_cmd(
    kind: Annotated[str, typer.Argument(help="|".join(_KINDS))],
    object_id: Annotated[
        str | None, typer.Argument(help="id or unique prefix ('latest' for snapshot)")
    ] = None,
    repo: RepoOpt = None,
    password_file: PasswordFileOpt = None,
) -> None:
    """Print an object of the repository, decrypted (JSON documents as JSON, blobs as raw bytes)."""
    if kind not in _KINDS:
        raise CliError(f"unknown object type {kind!r}: use one of {', '.join(_KINDS)}")
    r = open_repo(repo, password_file)
    if kind == "config":
        typer.echo(json.dumps(r.config.to_json(), indent=2))
        return
    if kind == "masterkey":
        typer.echo(json.dumps(r.key.to_json(), indent=2))
        return
    if not object_id:
        raise CliError(f"cat {kind} needs an id")
    if kind == "key":
        key_id = r.find_id("keys", object_id)
        typer.echo(r.backend.read(f"keys/{key_id}").decode())
    elif kind in _DIRS:
        if kind == "snapshot" and object_id == "latest":
            file_id = r.find_snapshot("latest").id
        else:
            file_id = r.find_id(_DIRS[kind], object_id)
        typer.echo(json.dumps(r.load_json(_DIRS[kind], file_id), indent=2, ensure_ascii=False))
    elif kind in ("blob", "tree"):
        blob_id = bytes.fromhex(object_id) if len(object_id) == 64 else b""
        if len(blob_id) != 32:
            raise CliError("cat blob needs the full 64-digit id")
        r.load_index()
        found = [k for k in ("data", "tree") if r.has_blob(blob_id, k)]
        if not found:
            raise MissingObject(f"blob {object_id}")
        data = r.load_blob(blob_id, "tree" if kind == "tree" or found == ["tree"] else found[0])
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
    else:  # pack: the raw file, as restic cat pack does
        pack_id = r.find_id("data", object_id)
        sys.stdout.buffer.write(r.backend.read(f"data/{pack_id[:2]}/{pack_id}"))
        sys.stdout.flush()
