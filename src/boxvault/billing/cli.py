"""`boxvault billing ...`: operator commands (bank transfers, the daily pass)."""

from __future__ import annotations

import json
from datetime import datetime

import typer

from boxvault.core import bootstrap

app = typer.Typer(no_args_is_help=True, help="billing: invoices paid outside Stripe, the daily pass")


@app.command("mark-paid")
def mark_paid(
    invoice: str = typer.Argument(..., help="the invoice reference, e.g. BOXVAULT-000012"),
    method: str = typer.Option("bank transfer", help="how it was paid"),
) -> None:
    """Record an invoice as paid (a bank transfer); the receipt is e-mailed."""
    bootstrap.setup()
    from boxvault.billing import services
    from boxvault.core.errors import ServiceError

    try:
        paid = services.mark_paid(invoice, method=method)
    except ServiceError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from exc
    typer.echo(f"{paid.reference} paid: {paid.total} {paid.currency}")


@app.command("run-due")
def run_due(
    now: str = typer.Option("", help="ISO time to run as (tests, catching up); default: now"),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """The pass the scheduler runs daily: invoices, charges, reminders, renewals, read-only and removal."""
    bootstrap.setup()
    from boxvault.billing import services
    from boxvault.core import clock

    if now:
        with clock.frozen_at(datetime.fromisoformat(now)):
            counts = services.run_due()
    else:
        counts = services.run_due()
    typer.echo(json.dumps(counts) if as_json else ", ".join(f"{k}: {v}" for k, v in counts.items()))
