"""Removing an account removes its tasks' repositories and local state (the rows go with the account); a
finished backup or prune refreshes the task's storage usage."""

from __future__ import annotations

import logging
import shutil
from typing import Any

from django.dispatch import receiver

from boxvault.accounts.services import account_purging
from boxvault.backups.models import Task
from boxvault.jobs.services import job_finished, worker_lost

log = logging.getLogger(__name__)


@receiver(account_purging)
def remove_repositories(sender: Any, account: Any, **kwargs: Any) -> None:
    from boxvault.backups.services import delete_repository, state_dir

    for task in Task.objects.filter(account=account):
        try:
            delete_repository(task)
        except Exception:  # storage trouble must not keep the account's rows alive
            log.exception("could not delete the repository of task %s (%s)", task.pk, task.repository)
        shutil.rmtree(state_dir(task), ignore_errors=True)


@receiver(job_finished)
def refresh_usage(sender: Any, job: Any, **kwargs: Any) -> None:
    """After a backup, erasure, retention or purge: the task's storage usage (usage.py) is out of date."""
    from boxvault.backups.usage import REFRESH_AFTER, after_job

    if job.kind not in REFRESH_AFTER or job.task_id is None:
        return
    try:
        after_job(int(job.task_id), force=job.kind != "backup")
    except Exception:
        log.exception("usage of task %s could not be refreshed", job.task_id)
        from boxvault.backups.models import StorageUsage

        StorageUsage.objects.filter(task_id=job.task_id).update(stale=True)


@receiver(worker_lost)
def remove_lost_worker_locks(sender: Any, job: Any, worker_id: str, **kwargs: Any) -> None:
    """A worker killed with -9 leaves its restic lock in the task's repository; stock `restic check` (and
    restic 0.14's own backup) refuse to run until it goes. Remove it as soon as its lease has expired."""
    from boxvault.backups.locks import remove_worker_locks

    if job.task_id is None:
        return
    task = Task.objects.filter(pk=job.task_id).first()
    if task is None or not task.repository:
        return
    removed = remove_worker_locks(task, worker_id)
    if removed:
        log.info("removed %d lock(s) of the lost worker %s from task %s", len(removed), worker_id, task.pk)
