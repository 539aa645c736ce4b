from __future__ import annotations

from typing import ClassVar

from django.db import models


class ActivityEvent(models.Model):
    class Status(models.TextChoices):
        SUCCEEDED = "succeeded", "Succeeded"
        PARTIALLY_SUCCEEDED = "partially_succeeded", "Partially succeeded"
        FAILED = "failed", "Failed"
        CANCELED = "canceled", "Canceled"
        INFO = "info", "Info"

    account = models.ForeignKey("accounts.Account", on_delete=models.CASCADE, related_name="activity_events")
    created_at = models.DateTimeField(db_index=True)
    activity = models.CharField(max_length=64)
    service = models.CharField(max_length=32, default="box")
    sub_service = models.CharField(max_length=64, blank=True)
    status = models.CharField(max_length=24, choices=Status.choices, default=Status.INFO)
    task_id = models.BigIntegerField(null=True, blank=True)
    task_name = models.CharField(max_length=200, blank=True)
    item = models.CharField(max_length=500, blank=True)
    execution_seconds = models.FloatField(null=True, blank=True)
    size_bytes = models.BigIntegerField(null=True, blank=True)
    stored_bytes = models.BigIntegerField(null=True, blank=True)
    items_count = models.BigIntegerField(null=True, blank=True)
    summary = models.TextField(blank=True)
    performed_by = models.CharField(max_length=254, blank=True)
    job = models.ForeignKey("jobs.Job", on_delete=models.SET_NULL, null=True, blank=True, related_name="+")

    class Meta:
        ordering: ClassVar[list[str]] = ["-created_at", "-id"]
        indexes: ClassVar[list[models.Index]] = [
            models.Index(fields=["account", "-created_at"]),
            models.Index(fields=["account", "task_id", "created_at"]),
        ]

    def __str__(self) -> str:
        return f"{self.activity} {self.status}: {self.item}"
