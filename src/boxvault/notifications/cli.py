"""`boxvault notifications send-due|preview`: the scheduler's pass on demand, and a report printed unsent."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from boxvault.core import bootstrap

app = typer.Typer(no_args_is_help=True, help="e-mail reports and alerts")

DataOption = Annotated[
    Path | None,
    typer.Option("--data", help="data directory (default ./data or BOXVAULT_DATA)", show_default=False),
]


def _setup(data: Path | None) -> None:
    bootstrap.setup(data)
    from django.core.management import call_command

    call_command("migrate", interactive=False, verbosity=0)  # a fresh data directory works too


def _fail(message: str) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(2)


def _moment(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        _fail(f"--now {text!r} is not an ISO date and time (e.g. 2026-03-02T07:00:00Z)")
        raise  # unreachable: _fail exits
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@app.command("send-due")
def send_due(
    now: Annotated[
        str, typer.Option("--now", help="run the pass as of this ISO time (UTC if no offset)")
    ] = "",
    data: DataOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="machine-readable output")] = False,
) -> None:
    """Queue the reports and batched alerts that are due and send every message waiting to be sent."""
    moment = _moment(now) if now else None
    _setup(data)
    from boxvault.core import clock
    from boxvault.notifications.dispatch import send_due as run

    if moment is not None:
        with clock.frozen_at(moment):
            outcome = run(moment)
    else:
        outcome = run()
    if as_json:
        typer.echo(json.dumps(outcome))
        return
    queued = outcome["queued"]
    typer.echo(
        f"{outcome['now']}: queued {queued['summary']} report(s), {queued['exceptions']} batch(es); "
        f"sent {outcome['sent']}, retrying {outcome['retry']}, gave up {outcome['failed']}"
    )


@app.command("preview")
def preview(
    email: Annotated[str, typer.Option("--email", help="a member: the report of their account")],
    kind: Annotated[str, typer.Option("--type", help="summary (the only type with a preview)")] = "summary",
    now: Annotated[str, typer.Option("--now", help="as of this ISO time")] = "",
    html: Annotated[bool, typer.Option("--html", help="print the HTML part instead of the text")] = False,
    data: DataOption = None,
) -> None:
    """Print the account's summary report for the latest period, as it would be sent; nothing is sent."""
    if kind != "summary":
        _fail(f"--type {kind!r}: only 'summary' can be previewed (the others are sent as things happen)")
    moment = _moment(now) if now else None
    _setup(data)
    from boxvault.accounts.models import Member
    from boxvault.core import clock
    from boxvault.notifications.preview import render_preview

    member = Member.objects.select_related("account").filter(user__email__iexact=email.strip()).first()
    if member is None:
        _fail(f"no member with the e-mail {email!r}")
        return
    text, html_part, csv_text = render_preview(member.account, moment or clock.now(), name=member.user.email)
    typer.echo(html_part if html else text)
    if not html:
        typer.echo("\n--- CSV ---")
        typer.echo(csv_text, nl=False)
