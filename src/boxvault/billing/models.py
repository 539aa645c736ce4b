from __future__ import annotations

from datetime import datetime

from django.db import models


class Trial(models.Model):
    account = models.OneToOneField("accounts.Account", on_delete=models.CASCADE, related_name="trial")
    started_at = models.DateTimeField()
    ends_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"trial of {self.account_id} until {self.ends_at:%Y-%m-%d}"

    def days_left(self, now: datetime) -> int:
        return max(0, (self.ends_at - now).days)
