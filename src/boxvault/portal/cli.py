"""The portal's commands: serve, worker, manage, and the operator groups `account` and `token`.

Django is set up inside each command, never at import: `boxvault --help` and other areas' commands stay fast.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from boxvault.core import bootstrap

DataOption = Annotated[
    Path | None,
    typer.Option("--data", help="data directory (default ./data or BOXVAULT_DATA)", show_default=False),
]


def serve(
    host: Annotated[str, typer.Option(help="address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="port to listen on")] = 8000,
    data: DataOption = None,
    demo: Annotated[bool, typer.Option(help="also run the Box sandbox with a demo enterprise")] = False,
    threads: Annotated[int, typer.Option(help="web server threads")] = 8,
    workers: Annotated[int, typer.Option(help="queue worker threads")] = 2,
) -> None:
    """Apply migrations, then run the web server, the queue worker and its scheduler until Ctrl-C."""
    directory = bootstrap.setup(data)
    from django.conf import settings
    from django.core.management import call_command

    if not os.environ.get("BOXVAULT_BASE_URL"):
        # Links in e-mails sent by jobs (no request to take the address from) point where this server
        # listens, not at the default port; an operator behind a proxy sets BOXVAULT_BASE_URL.
        settings.BOXVAULT_BASE_URL = os.environ["BOXVAULT_BASE_URL"] = listen_url(host, port)
    call_command("migrate", interactive=False, verbosity=0)
    if demo:
        _start_demo(directory)
    from boxvault.portal.server import run

    run(host, port, web_threads=threads, queue_workers=workers)


def listen_url(host: str, port: int) -> str:
    """The portal's address for links, from the address `serve` listens on (a wildcard means this machine)."""
    if host in ("", "0.0.0.0", "::"):  # noqa: S104  # nosec B104 # recognising the wildcard, not binding
        host = "127.0.0.1"
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    return f"http://{host}:{port}"


def _start_demo(directory: Path) -> None:
    """The demo enterprise comes with the backup-tasks feature (`boxvault.backups.demo.start(data_dir)`)."""
    try:
        from boxvault.backups.demo import start  # type: ignore[import-not-found,unused-ignore]
    except ImportError:
        typer.echo(
            "--demo: the demo Box enterprise is not available yet (it comes with backup tasks); "
            "starting the portal without it.",
            err=True,
        )
        return
    start(directory)


def worker(
    data: DataOption = None,
    workers: Annotated[int, typer.Option(help="queue worker threads")] = 2,
    periodic: Annotated[bool, typer.Option(help="also run the periodic scheduler")] = False,
) -> None:
    """One more queue worker (share the queue through BOXVAULT_REDIS_URL and DATABASE_URL)."""
    bootstrap.setup(data)
    from boxvault.portal.server import run_worker

    run_worker(workers, periodic)


def manage(ctx: typer.Context) -> None:
    """Django's management commands, e.g. `boxvault manage createsuperuser`."""
    bootstrap.setup()
    from django.core.management import execute_from_command_line

    execute_from_command_line(["boxvault manage", *ctx.args])


account_app = typer.Typer(no_args_is_help=True, help="operator commands for accounts")
token_app = typer.Typer(no_args_is_help=True, help="operator commands for API tokens")


def _ready(data: Path | None) -> None:
    """Operator commands may be the very first thing run against a data directory."""
    bootstrap.setup(data)
    from django.core.management import call_command

    call_command("migrate", interactive=False, verbosity=0)


def _fail(message: str) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(1)


@account_app.command("create")
def account_create(
    email: Annotated[str, typer.Option(help="the administrator's e-mail address")],
    password_file: Annotated[Path, typer.Option(help="file holding the password ('-' for stdin)")],
    name: Annotated[str, typer.Option(help="account name (default: the e-mail)")] = "",
    first_name: Annotated[str, typer.Option(help="administrator's first name")] = "",
    last_name: Annotated[str, typer.Option(help="administrator's last name")] = "",
    location: Annotated[str, typer.Option(help="data-center location id (default: the first)")] = "",
    data: DataOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="machine-readable output")] = False,
) -> None:
    """Create an account with an activated administrator."""
    try:
        raw = sys.stdin.read() if str(password_file) == "-" else password_file.read_text(encoding="utf-8")
    except OSError as exc:
        _fail(f"cannot read the password file: {exc.strerror or exc}")
    password = raw.rstrip("\r\n")
    _ready(data)
    from boxvault.accounts.services import ServiceError, create_account_with_admin

    try:
        member = create_account_with_admin(
            email=email,
            password=password,
            name=name,
            first_name=first_name,
            last_name=last_name,
            location=location,
        )
    except ServiceError as exc:
        _fail(str(exc))
    result = {"account": member.account_id, "name": member.account.name, "email": member.user.email}
    typer.echo(
        json.dumps(result)
        if as_json
        else f"Created account {result['name']!r} (id {result['account']}) "
        f"with administrator {result['email']}."
    )


@account_app.command("ip-restrictions")
def account_ip_restrictions(
    email: Annotated[str, typer.Option(help="a member of the account (e.g. a locked-out administrator)")],
    disable: Annotated[
        bool, typer.Option("--disable", help="turn the account's IP restrictions off")
    ] = False,
    data: DataOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="machine-readable output")] = False,
) -> None:
    """Break-glass: lift the IP restrictions of the account of a member who locked themselves out."""
    if not disable:
        _fail("nothing to do: pass --disable to turn the account's IP restrictions off")
    _ready(data)
    from boxvault.core.errors import ServiceError
    from boxvault.security.policy import lift_ip_restrictions

    try:
        account = lift_ip_restrictions(email)
    except ServiceError as exc:
        _fail(str(exc))
    result = {"account": account.pk, "name": account.name, "ip_restrictions": False}
    typer.echo(json.dumps(result) if as_json else f"IP restrictions of account {account.name!r} are off.")


@token_app.command("create")
def token_create(
    email: Annotated[str, typer.Option(help="the user the token acts as")],
    name: Annotated[str, typer.Option(help="a name to recognise the token by")] = "cli",
    data: DataOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="machine-readable output")] = False,
) -> None:
    """Print a new API token for a user (shown once)."""
    _ready(data)
    from django.contrib.auth import get_user_model

    from boxvault.api.tokens import TokenError, create_token

    user = get_user_model().objects.filter(email__iexact=email.strip()).first()
    if user is None:
        _fail(f"no user with e-mail {email}")
    try:
        token, key = create_token(user, name)
    except TokenError as exc:
        _fail(str(exc))
    typer.echo(json.dumps({"id": token.pk, "name": token.name, "token": key}) if as_json else key)
