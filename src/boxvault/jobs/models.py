from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar

from django.apps import apps
from django.conf import settings
from django.db import models


class Job(models.Model):
    """The truth about one unit of work. Workers change it only through `jobs.services`."""

    class Kind(models.TextChoices):
        BACKUP = "backup", "Backup"
        RESTORE = "restore", "Restore"
        EXPORT = "export", "Export"
        MAINTENANCE = "maintenance", "Maintenance"
        ERASURE = "erasure", "GDPR erasure"
        RETENTION = "retention", "Retention"
        PURGE = "purge", "Purge archived users"

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        IN_PROGRESS = "in_progress", "In progress"
        SUCCEEDED = "succeeded", "Succeeded"
        PARTIALLY_SUCCEEDED = "partially_succeeded", "Partially succeeded"
        FAILED = "failed", "Failed"
        CANCELED = "canceled", "Canceled"

    FINISHED: ClassVar[frozenset[str]] = frozenset(
        {Status.SUCCEEDED, Status.PARTIALLY_SUCCEEDED, Status.FAILED, Status.CANCELED}
    )
    ACTIVE: ClassVar[frozenset[str]] = frozenset({Status.PENDING, Status.IN_PROGRESS})

    account = models.ForeignKey("accounts.Account", on_delete=models.CASCADE, related_name="jobs")
    kind = models.CharField(max_length=32, db_index=True)
    status = models.CharField(max_length=24, choices=Status.choices, default=Status.PENDING, db_index=True)
    initiator = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    initiator_label = models.CharField(max_length=254, default="Scheduler")
    service = models.CharField(max_length=32, default="box")
    # The task is referenced by id and name rather than a foreign key: the job and its history outlive a
    # deleted task, and this app does not depend on the backups app's migrations.
    task_id = models.BigIntegerField(null=True, blank=True, db_index=True)
    task_name = models.CharField(max_length=200, blank=True)
    box_user_id = models.CharField(max_length=64, blank=True)
    box_user_login = models.CharField(max_length=254, blank=True)
    destination = models.CharField(max_length=500, blank=True)
    params = models.JSONField(default=dict, blank=True)
    result = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(db_index=True)
    queued_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    items_done = models.BigIntegerField(default=0)
    items_total = models.BigIntegerField(null=True, blank=True)
    items_failed = models.BigIntegerField(default=0)
    bytes_done = models.BigIntegerField(default=0)
    bytes_total = models.BigIntegerField(null=True, blank=True)
    message = models.CharField(max_length=1000, blank=True)
    cancel_requested = models.BooleanField(default=False)
    worker_id = models.CharField(max_length=200, blank=True)
    lease_expires_at = models.DateTimeField(null=True, blank=True, db_index=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    log_lines = models.PositiveIntegerField(default=0)

    class Meta:
        ordering: ClassVar[list[str]] = ["-created_at", "-id"]
        indexes: ClassVar[list[models.Index]] = [
            models.Index(fields=["account", "-created_at"]),
            models.Index(fields=["status", "lease_expires_at"]),
            # the filter choices (tasks and initiators of a tenant's jobs) are read from these alone
            models.Index(fields=["account", "task_name", "task_id"], name="jobs_job_task_choices"),
            models.Index(fields=["account", "initiator_label"], name="jobs_job_initiator_choices"),
            # the Box user filter and the search's exact id match; the search's substring matches use trigram
            # indexes on PostgreSQL (migration 0003, outside the model: SQLite has none)
            models.Index(fields=["account", "box_user_id"], name="jobs_job_box_user"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} job {self.pk} ({self.status})"

    @property
    def finished(self) -> bool:
        return self.status in self.FINISHED

    @property
    def running(self) -> bool:
        return self.status == self.Status.IN_PROGRESS

    @property
    def kind_label(self) -> str:
        try:
            return self.Kind(self.kind).label
        except ValueError:
            return self.kind.replace("_", " ").capitalize()

    @property
    def percent(self) -> int | None:
        """Progress as a whole percentage, by bytes when known, else by items; None when unknown."""
        for done, total in ((self.bytes_done, self.bytes_total), (self.items_done, self.items_total)):
            if total:
                return max(0, min(100, int(done * 100 / total)))
        return 100 if self.status == self.Status.SUCCEEDED else None

    @property
    def covered_slots(self) -> list[datetime]:
        """Scheduled runs that fell due while this backup ran and that it stands for (newest last)."""
        found = []
        for text in (self.params or {}).get("covers") or []:
            try:
                found.append(datetime.fromisoformat(str(text)))
            except ValueError:
                continue
        return found

    @property
    def duration_seconds(self) -> float | None:
        if self.started_at is None:
            return None
        end = self.finished_at or self.heartbeat_at or self.started_at
        return max(0.0, (end - self.started_at).total_seconds())

    @property
    def download_url(self) -> str:
        return str((self.result or {}).get("download_url") or "")

    @property
    def task(self) -> Any:
        """The backups.Task row when that app is installed and the task still exists."""
        if self.task_id is None or not apps.is_installed("boxvault.backups"):
            return None
        model = apps.get_model("backups", "Task")
        return model.objects.filter(pk=self.task_id).first()


class JobLogLine(models.Model):
    class Level(models.TextChoices):
        DEBUG = "debug", "Debug"
        INFO = "info", "Info"
        WARNING = "warning", "Warning"
        ERROR = "error", "Error"

    job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="log")
    created_at = models.DateTimeField()
    level = models.CharField(max_length=8, choices=Level.choices, default=Level.INFO)
    message = models.TextField()

    class Meta:
        ordering: ClassVar[list[str]] = ["id"]

    def __str__(self) -> str:
        return f"[{self.level}] {self.message}"
