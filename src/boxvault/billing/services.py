from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings

from boxvault.billing.models import Trial


def start_trial(account: object, now: datetime) -> Trial:
    return Trial.objects.create(
        account=account, started_at=now, ends_at=now + timedelta(days=settings.BOXVAULT_TRIAL_DAYS)
    )
