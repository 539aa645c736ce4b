"""Removing an account removes its tasks' repositories and local state (the rows go with the account)."""

from __future__ import annotations

import logging
import shutil
from typing import Any

from django.dispatch import receiver

from boxvault.accounts.services import account_purging
from boxvault.backups.models import Task

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
