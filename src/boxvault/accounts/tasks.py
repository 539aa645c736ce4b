from __future__ import annotations

from huey import crontab
from huey.contrib.djhuey import db_periodic_task

from boxvault.accounts import services


@db_periodic_task(crontab(minute="*/10"))
def purge_removed_accounts() -> list[int]:
    """Delete the accounts whose removal grace period is over."""
    return services.purge_due_accounts()
