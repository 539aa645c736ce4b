"""``key list|add|remove|passwd``: the repository's key files (one per password)."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from . import app
from .common import CliError, JsonOpt, PasswordFileOpt, RepoOpt, handle_errors, open_repo, read_password

key_app = typer.Typer(no_args_is_help=True, help="manage the repository's keys (passwords)")
app.add_typer(key_app, name="key")

NewPasswordOpt = Annotated[
    str | None, typer.Option("--new-password-file", help="file with the new password (else a prompt)")
]


def _new_password(path: str | None) -> str:
    if path:
        return read_password(path)
    import sys

    if not sys.stdin.isatty():
        raise CliError("no new password: use --new-password-file")
    return read_password(None, prompt="enter new password: ", confirm=True)


@key_app.command("list")
@handle_errors
def key_list(repo: RepoOpt = None, password_file: PasswordFileOpt = None, json_out: JsonOpt = False) -> None:
    """List key files (the one used is marked *)."""
    from ..keymgmt import list_keys

    r = open_repo(repo, password_file)
    keys = list_keys(r)
    if json_out:
        typer.echo(json.dumps([
            {"current": k.id == r.key_id, "id": k.id, "userName": k.username, "hostName": k.hostname,
             "created": k.created} for k in keys
        ]))  # fmt: skip
        return
    for k in keys:
        mark = "*" if k.id == r.key_id else " "
        typer.echo(f"{mark}{k.id[:8]}  {k.username:<12} {k.hostname:<20} {k.created}")


@key_app.command("add")
@handle_errors
def key_add(
    repo: RepoOpt = None, password_file: PasswordFileOpt = None, new_password_file: NewPasswordOpt = None
) -> None:
    """Add a key file for another password."""
    from ..keymgmt import add_key

    r = open_repo(repo, password_file)
    key_id = add_key(r, _new_password(new_password_file))
    typer.echo(f"saved new key as {key_id[:8]}")


@key_app.command("remove")
@handle_errors
def key_remove(
    key_id: Annotated[str, typer.Argument(help="key id (prefix)")],
    repo: RepoOpt = None,
    password_file: PasswordFileOpt = None,
) -> None:
    """Remove a key file (not the one in use)."""
    from ..keymgmt import remove_key

    r = open_repo(repo, password_file)
    removed = remove_key(r, key_id)
    typer.echo(f"removed key {removed[:8]}")


@key_app.command("passwd")
@handle_errors
def key_passwd(
    repo: RepoOpt = None, password_file: PasswordFileOpt = None, new_password_file: NewPasswordOpt = None
) -> None:
    """Change the password: add a new key file, then remove the current one."""
    from ..keymgmt import change_password

    r = open_repo(repo, password_file)
    key_id = change_password(r, _new_password(new_password_file))
    typer.echo(f"saved new key as {key_id[:8]}")
