"""The queue side: thin Huey tasks that carry a job id and call the services."""

from __future__ import annotations

import logging
import threading
import time

from django.db import close_old_connections, connection
from huey import crontab
from huey.contrib.djhuey import HUEY, db_periodic_task, db_task

from boxvault.jobs import conf, services

log = logging.getLogger("boxvault.jobs")


@db_task(retries=0)
def run_job(job_id: int) -> None:
    services.run(job_id)


@db_periodic_task(crontab(minute="*"))
def reconcile_jobs() -> None:
    services.reconcile()


@db_periodic_task(crontab(minute="17", hour="3"))
def cleanup_jobs() -> None:
    services.cleanup()


_reconciler_started = False
_reconciler_lock = threading.Lock()


@HUEY.on_startup()
def start_reconciler() -> None:
    """Each consumer process also reconciles every few seconds in a daemon thread: Huey's periodic tasks
    tick once a minute and only where the scheduler runs (`boxvault worker` runs without one by default),
    yet a dead worker's job should move on within about one lease."""
    global _reconciler_started
    interval = conf.reconcile_seconds()
    with _reconciler_lock:
        if _reconciler_started or interval <= 0:
            return
        _reconciler_started = True
    threading.Thread(target=_reconcile_loop, args=(interval,), name="job-reconciler", daemon=True).start()


def _reconcile_loop(interval: int) -> None:
    while True:
        time.sleep(interval)
        try:
            close_old_connections()
            services.reconcile()
        except Exception:  # the next round tries again
            log.exception("reconciler round failed")
            connection.close()
