"""Billing follows the accounts app's events; accounts never imports billing."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.dispatch import receiver

from boxvault.accounts.services import account_created
from boxvault.billing.services import start_trial


@receiver(account_created)
def _start_trial(sender: Any, account: Any, now: datetime, **_: Any) -> None:
    start_trial(account, now)
