"""Periodic work of backup tasks: the scheduler tick and the purge (thin: the services do the work)."""

from __future__ import annotations

from huey import crontab
from huey.contrib.djhuey import db_periodic_task


@db_periodic_task(crontab(minute="*"))
def schedule_backups() -> None:
    from boxvault.backups.services import run_scheduler

    run_scheduler()


@db_periodic_task(crontab(minute="17"))
def purge_backups() -> None:
    from boxvault.backups.services import purge_due

    purge_due()


@db_periodic_task(crontab(minute="41", hour="4"))
def apply_retention() -> None:
    from boxvault.backups.retention import apply_all

    apply_all()


@db_periodic_task(crontab(minute="*"))
def refresh_storage_usage() -> None:
    from boxvault.backups.usage import refresh_stale

    refresh_stale()
