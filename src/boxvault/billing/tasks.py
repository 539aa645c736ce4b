"""Periodic billing work (thin: the services do it)."""

from __future__ import annotations

from huey import crontab
from huey.contrib.djhuey import db_periodic_task


@db_periodic_task(crontab(minute="23", hour="*"))
def billing_due() -> None:
    from boxvault.billing.services import reconcile, run_due

    run_due()
    reconcile()
