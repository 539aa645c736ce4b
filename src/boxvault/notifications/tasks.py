"""The scheduler runs the notification pass every minute (thin: dispatch.py does the work)."""

from __future__ import annotations

from huey import crontab
from huey.contrib.djhuey import db_periodic_task


@db_periodic_task(crontab(minute="*"))
def send_due_notifications() -> None:
    from boxvault.notifications.dispatch import send_due

    send_due()


@db_periodic_task(crontab(minute="23", hour="3"))
def prune_notifications() -> None:
    from boxvault.notifications.dispatch import prune

    prune()
