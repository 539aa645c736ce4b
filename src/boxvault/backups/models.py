# ruff: noqa: DJ001 - catalog columns keep None apart from "": both take part in an entry's identity (key)
from __future__ import annotations

import uuid
from typing import ClassVar

from django.conf import settings
from django.db import models


class Task(models.Model):
    """A backup task: one Box connection, its users, a schedule and one repository."""

    class Kind(models.TextChoices):
        OAUTH = "oauth", "OAuth 2.0"
        CCG = "ccg", "Client Credentials Grant"
        JWT = "jwt", "JWT"

    class Status(models.TextChoices):
        PENDING = "pending", "Not connected yet"
        CONNECTED = "connected", "Connected"
        DISCONNECTED = "disconnected", "Disconnected"

    class Frequency(models.TextChoices):
        DAILY = "daily", "Daily"
        EVERY_3_DAYS = "every_3_days", "Every 3 days"
        WEEKLY = "weekly", "Weekly"

    class Retention(models.TextChoices):
        UNLIMITED = "unlimited", "Unlimited"
        DAYS = "days", "Days"
        MONTHS = "months", "Months"
        YEARS = "years", "Years"

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    account = models.ForeignKey("accounts.Account", on_delete=models.CASCADE, related_name="backup_tasks")
    name = models.CharField(max_length=120)
    service = models.CharField(max_length=16, default="box")
    created_at = models.DateTimeField()
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True)

    # --- connection
    kind = models.CharField(max_length=8, choices=Kind.choices)
    api_url = models.CharField(max_length=300, blank=True)
    enterprise_id = models.CharField(max_length=64, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    status_detail = models.CharField(max_length=500, blank=True)
    connected_as = models.CharField(max_length=254, blank=True)  # the Box login that granted OAuth access
    # An enterprise administrator's OAuth grant (and every CCG/JWT service account) acts as each user
    # through As-User; any other user's grant backs up that user alone.
    acts_as_users = models.BooleanField(default=True)

    # --- envelope encryption (crypto.py): a per-task data key sealed under the server KEK
    sealed_key = models.TextField()
    kek_fingerprint = models.CharField(max_length=32)
    sealed_credentials = models.TextField(blank=True)  # JSON: CCG client id/secret, JWT config
    sealed_tokens = models.TextField(blank=True)  # OAuth access + refresh token (rotated on every refresh)
    sealed_repo_password = models.TextField()

    # --- where the snapshots go
    location = models.CharField("data-center location", max_length=64)
    repository = models.CharField(max_length=500)
    repository_id = models.CharField(max_length=64, blank=True)  # set once initialised

    # --- settings
    index_for_search = models.BooleanField(default=True)
    auto_activate = models.BooleanField(default=False)
    archived_retention_days = models.PositiveIntegerField(default=90)
    # every user's tree is listed in full at least this often, and compared with what the events-driven
    # incremental path would have stored (docs/box.md, "Scheduled full walk")
    full_walk_days = models.PositiveSmallIntegerField(default=7)
    # Box's previous versions of each file, under /<login>/.box-versions/<file id>/ (box/versions.py)
    capture_versions = models.BooleanField(default=False)
    # a restore whose metadata's enterprise template was deleted in Box may create it again from the copy
    recreate_metadata_templates = models.BooleanField(default=False)
    frequency = models.CharField(max_length=16, choices=Frequency.choices, default=Frequency.DAILY)
    hour_utc = models.PositiveSmallIntegerField(default=1)
    retention = models.CharField(max_length=16, choices=Retention.choices, default=Retention.UNLIMITED)
    retention_value = models.PositiveIntegerField(default=0)

    # --- deletion with a grace period
    deletion_requested_at = models.DateTimeField(null=True, blank=True)
    deletion_due_at = models.DateTimeField(null=True, blank=True, db_index=True)
    users_refreshed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering: ClassVar[list[str]] = ["name", "id"]

    def __str__(self) -> str:
        return self.name

    @property
    def pending_deletion(self) -> bool:
        return self.deletion_due_at is not None

    @property
    def retention_label(self) -> str:
        if self.retention == self.Retention.UNLIMITED:
            return "Unlimited"
        return f"{self.retention_value} {self.get_retention_display().lower()}"

    @property
    def location_label(self) -> str:
        """What tenants see of where their backups are kept: the operator's label, never the server's path."""
        location = settings.BOXVAULT_LOCATIONS.get(self.location)
        return str(location["label"]) if location else self.location


class TaskUser(models.Model):
    """A Box user of a task and where its backups stand."""

    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        IN_PROCESS = "in_process", "In Process"
        NOT_ACTIVE = "not_active", "Not Active"
        SCHEDULED = "scheduled", "Scheduled"
        PAUSED = "paused", "Paused"
        OTHER_TASK = "other_task", "Backed-up in another task"
        ARCHIVED = "archived", "Archived"

    task = models.ForeignKey(Task, on_delete=models.CASCADE, related_name="users")
    box_user_id = models.CharField(max_length=64)
    login = models.CharField(max_length=254)
    name = models.CharField(max_length=254, blank=True)
    box_status = models.CharField(max_length=32, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.NOT_ACTIVE)
    first_backup_at = models.DateTimeField(null=True, blank=True)
    last_backup_at = models.DateTimeField(null=True, blank=True)
    last_result = models.CharField(max_length=32, blank=True)
    size = models.BigIntegerField(default=0)
    items = models.BigIntegerField(default=0)
    last_snapshot_id = models.CharField(max_length=64, blank=True)
    # The scheduler claims a user by moving this forward with a conditional UPDATE (schedule.py).
    next_run_at = models.DateTimeField(null=True, blank=True, db_index=True)
    running_since = models.DateTimeField(null=True, blank=True)
    archived_at = models.DateTimeField(null=True, blank=True)
    deletion_due_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering: ClassVar[list[str]] = ["login", "id"]
        constraints: ClassVar[list[models.BaseConstraint]] = [
            models.UniqueConstraint(fields=["task", "box_user_id"], name="backups_taskuser_unique")
        ]

    def __str__(self) -> str:
        return self.login


class CatalogSnapshot(models.Model):
    """A snapshot the catalog knows; its id orders the ranges (box/catalog.py)."""

    task = models.ForeignKey(Task, on_delete=models.CASCADE, related_name="catalog_snapshots")
    scope = models.CharField(max_length=64)
    box_user_id = models.CharField(max_length=64)
    snapshot_id = models.CharField(max_length=64, unique=True)
    time = models.DateTimeField()
    # What listings show without opening the repository (issue 10): the run's figures, and when retention
    # (or a purge) removed the snapshot from the repository. A forgotten row stays: the catalog's ranges
    # of the snapshots kept still point at it.
    files = models.BigIntegerField(null=True, blank=True)
    bytes = models.BigIntegerField(null=True, blank=True)
    forgotten_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes: ClassVar[list[models.Index]] = [models.Index(fields=["task", "box_user_id", "time"])]

    def __str__(self) -> str:
        return self.snapshot_id


class CatalogVersion(models.Model):
    """One version of an item, valid from one snapshot until (excluding) another."""

    task = models.ForeignKey(Task, on_delete=models.CASCADE, related_name="catalog_versions")
    scope = models.CharField(max_length=64)
    box_user_id = models.CharField(max_length=64)
    key = models.CharField(max_length=40)
    item_id = models.CharField(max_length=64)
    item_type = models.CharField(max_length=16)
    path = models.TextField()
    name = models.CharField(max_length=1024)
    version_id = models.CharField(max_length=64, null=True, blank=True)
    sha1 = models.CharField(max_length=40, null=True, blank=True)
    etag = models.CharField(max_length=64, null=True, blank=True)
    size = models.BigIntegerField(default=0)
    created_by = models.TextField(null=True, blank=True)
    modified_by = models.TextField(null=True, blank=True)
    owned_by = models.TextField(null=True, blank=True)
    created_at = models.CharField(max_length=40, null=True, blank=True)
    modified_at = models.CharField(max_length=40, null=True, blank=True)
    content_modified_at = models.CharField(max_length=40, null=True, blank=True)
    from_snapshot = models.ForeignKey(CatalogSnapshot, on_delete=models.CASCADE, related_name="+")
    until_snapshot = models.ForeignKey(
        CatalogSnapshot, on_delete=models.CASCADE, related_name="+", null=True, blank=True
    )

    class Meta:
        indexes: ClassVar[list[models.Index]] = [
            models.Index(fields=["task", "box_user_id", "until_snapshot"]),
            models.Index(fields=["scope", "item_id"]),
            models.Index(fields=["scope", "name"]),
        ]

    def __str__(self) -> str:
        return self.path


class MetadataTemplateCopy(models.Model):
    """An enterprise metadata template as Box last showed it to the task (copied at each user discovery),
    kept after it is deleted in Box: a restore can create it again from here."""

    task = models.ForeignKey(Task, on_delete=models.CASCADE, related_name="template_copies")
    scope = models.CharField(max_length=64)
    template_key = models.CharField(max_length=64)
    schema = models.JSONField(default=dict)  # displayName, hidden, copyInstanceOnItemCopy, fields
    last_seen_at = models.DateTimeField()
    gone_since = models.DateTimeField(null=True, blank=True)  # no longer listed by Box

    class Meta:
        constraints: ClassVar[list[models.BaseConstraint]] = [
            models.UniqueConstraint(
                fields=["task", "scope", "template_key"], name="backups_template_copy_key"
            )
        ]

    def __str__(self) -> str:
        return f"{self.scope}.{self.template_key}"


class StorageUsage(models.Model):
    """What a task's repository stores, refreshed after backups and prunes (usage.py); rebuildable."""

    task = models.OneToOneField(Task, on_delete=models.CASCADE, related_name="usage")
    computed_at = models.DateTimeField()
    stale = models.BooleanField(default=False)  # something changed since; the periodic refresh recomputes
    stored_bytes = models.BigIntegerField(default=0)  # every pack file's size (a listing)
    packs = models.IntegerField(default=0)
    referenced_bytes = models.BigIntegerField(default=0)  # stored size of the blobs some snapshot needs
    snapshots = models.IntegerField(default=0)
    # box user id -> {login, snapshots, latest_logical_bytes, share_bytes, exclusive_bytes}
    users = models.JSONField(default=dict, blank=True)
    # Box's previous versions: {held, logical_bytes, stored_bytes_only_for_them}; {} when none are captured
    versions = models.JSONField(default=dict, blank=True)

    def __str__(self) -> str:
        return f"usage of task {self.task_id}"
