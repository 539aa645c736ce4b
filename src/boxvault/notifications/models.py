"""Notification settings and recipients of an account, and the outbox of messages to send.

The outbox (`Delivery`) is what makes sending safe with several schedulers and workers: a summary report is
one row per account and period (a unique key, so creating it *is* the claim), and a message is sent by
whoever moves its row from pending to sending with a conditional UPDATE.
"""

from __future__ import annotations

from typing import Any, ClassVar

from django.db import models

TYPES: dict[str, str] = {
    "summary": "Summary report",
    "recovery": "Recovery notification",
    "exceptions": "Exceptions notification",
    "auto_discovery": "Auto-discovery notification",
    "smart_alerts": "Smart alerts",
}
MAX_RECIPIENTS = 1000


class NotificationSettings(models.Model):
    class ReportFormat(models.TextChoices):
        OVERVIEW = "overview", "Backup tasks overview"
        FAILURES = "failures", "Backup failure details"

    class Delivery(models.TextChoices):
        ATTACHMENT = "attachment", "CSV attachment"
        LINK = "link", "Download link (valid 72 hours, sign-in required)"

    class Frequency(models.TextChoices):
        DAILY = "daily", "Daily"
        WEEKLY = "weekly", "Weekly (Mondays)"
        MONTHLY = "monthly", "Monthly (on the 1st)"

    account = models.OneToOneField(
        "accounts.Account", on_delete=models.CASCADE, related_name="notification_settings"
    )
    report_format = models.CharField(
        max_length=16, choices=ReportFormat.choices, default=ReportFormat.OVERVIEW
    )
    delivery = models.CharField(max_length=16, choices=Delivery.choices, default=Delivery.ATTACHMENT)
    frequency = models.CharField(max_length=16, choices=Frequency.choices, default=Frequency.DAILY)
    hour_utc = models.PositiveSmallIntegerField(default=7)
    failures_only = models.BooleanField(default=False)
    # Smart alerts (smart.py): a snapshot alerts when its deleted or modified share passes
    # max(min_share, factor x the user's usual share) and at least min_files files changed so.
    smart_min_files = models.PositiveIntegerField(default=20)
    smart_min_share = models.FloatField(default=0.2)
    smart_factor = models.FloatField(default=5.0)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"notification settings of {self.account_id}"


class Recipient(models.Model):
    account = models.ForeignKey(
        "accounts.Account", on_delete=models.CASCADE, related_name="notification_recipients"
    )
    email = models.EmailField(max_length=254)
    display_name = models.CharField(max_length=120, blank=True)
    types = models.JSONField(default=list)
    created_at = models.DateTimeField()

    class Meta:
        ordering: ClassVar[list[str]] = ["email", "id"]
        constraints: ClassVar[list[models.BaseConstraint]] = [
            models.UniqueConstraint(fields=["account", "email"], name="notifications_recipient_unique")
        ]

    def __str__(self) -> str:
        return self.email

    @property
    def type_labels(self) -> list[str]:
        return [TYPES[t] for t in self.types if t in TYPES]


class Delivery(models.Model):
    """One message of one type for an account, sent to each of the type's recipients."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        SENDING = "sending", "Sending"
        SENT = "sent", "Sent"
        SKIPPED = "skipped", "Skipped"  # a failures-only report for a clean period: claimed, nothing sent
        FAILED = "failed", "Failed"  # gave up after the last attempt

    account = models.ForeignKey(
        "accounts.Account", on_delete=models.CASCADE, related_name="notification_deliveries"
    )
    type = models.CharField(max_length=16)
    # Unique per account: "summary:<period end>" for reports, "exceptions:<last event id>", "job:<id>"...
    key = models.CharField(max_length=120)
    subject = models.CharField(max_length=300)
    context = models.JSONField(default=dict)
    attachment = models.TextField(blank=True)  # the report's CSV (also what a download link serves)
    period_start = models.DateTimeField(null=True, blank=True)
    period_end = models.DateTimeField(null=True, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING, db_index=True)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    claimed_until = models.DateTimeField(null=True, blank=True)
    sent_to = models.JSONField(default=list)  # addresses already sent to: a retry sends only the rest
    last_error = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField()
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering: ClassVar[list[str]] = ["-created_at", "-id"]
        constraints: ClassVar[list[models.BaseConstraint]] = [
            models.UniqueConstraint(fields=["account", "key"], name="notifications_delivery_unique")
        ]
        indexes: ClassVar[list[models.Index]] = [models.Index(fields=["status", "next_attempt_at"])]

    def __str__(self) -> str:
        return f"{self.type} {self.key} ({self.status})"


class Event(models.Model):
    """Something to tell in the next batched message (exceptions): a failed job, a lost connection."""

    account = models.ForeignKey("accounts.Account", on_delete=models.CASCADE, related_name="+")
    type = models.CharField(max_length=16)
    created_at = models.DateTimeField(db_index=True)
    payload = models.JSONField(default=dict)
    delivery = models.ForeignKey(
        Delivery, on_delete=models.SET_NULL, null=True, blank=True, related_name="events"
    )

    class Meta:
        ordering: ClassVar[list[str]] = ["id"]

    def __str__(self) -> str:
        return f"{self.type} event {self.pk}"


class ChangeStats(models.Model):
    """What one backup snapshot changed against the user's previous one (smart alerts' history)."""

    account = models.ForeignKey("accounts.Account", on_delete=models.CASCADE, related_name="+")
    task_id = models.BigIntegerField()
    box_user_id = models.CharField(max_length=64)
    snapshot_id = models.CharField(max_length=64, unique=True)
    previous_snapshot_id = models.CharField(max_length=64)
    time = models.DateTimeField()
    files_before = models.IntegerField(default=0)
    deleted = models.IntegerField(default=0)
    modified = models.IntegerField(default=0)
    renamed = models.IntegerField(default=0)
    added = models.IntegerField(default=0)
    encrypted = models.IntegerField(default=0)
    ransom_names = models.IntegerField(default=0)
    alerted = models.BooleanField(default=False)
    details: Any = models.JSONField(default=dict)

    class Meta:
        indexes: ClassVar[list[models.Index]] = [models.Index(fields=["task_id", "box_user_id", "time"])]

    def __str__(self) -> str:
        return self.snapshot_id
