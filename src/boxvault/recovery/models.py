"""The erasure receipt: what a GDPR erasure removed, kept after the data (and the job row) are gone."""

from __future__ import annotations

from typing import ClassVar

from django.conf import settings
from django.db import models


class Erasure(models.Model):
    """One request to erase paths of one Box user from every snapshot of a task (recovery/erasure.py).

    The task and job are referenced by id and name, not by foreign key: the receipt must outlive both (jobs
    are cleaned up after their retention period, a task may be deleted)."""

    class Status(models.TextChoices):
        REQUESTED = "requested", "Requested"
        RUNNING = "running", "Running"
        COMPLETED = "completed", "Completed"
        FAILED = "failed", "Failed"
        CANCELED = "canceled", "Canceled"

    account = models.ForeignKey("accounts.Account", on_delete=models.CASCADE, related_name="erasures")
    service = models.CharField(max_length=32, default="box")  # the gate filters service-owned rows
    task_id = models.BigIntegerField(db_index=True)
    task_name = models.CharField(max_length=200)
    box_user_id = models.CharField(max_length=64)
    box_user_login = models.CharField(max_length=254, blank=True)
    paths = models.JSONField(default=list)
    whole_user = models.BooleanField(default=False)
    reason = models.TextField()
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    requested_by_label = models.CharField(max_length=254)
    requested_at = models.DateTimeField(db_index=True)
    job_id = models.BigIntegerField(null=True, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.REQUESTED)
    message = models.CharField(max_length=1000, blank=True)
    bytes_left_storage_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    receipt = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering: ClassVar[list[str]] = ["-requested_at", "-id"]

    def __str__(self) -> str:
        return f"erasure {self.pk} ({self.status})"

    @property
    def finished(self) -> bool:
        return self.status in (self.Status.COMPLETED, self.Status.FAILED, self.Status.CANCELED)
