from __future__ import annotations

from typing import ClassVar

from django.conf import settings
from django.db import models


class AuditEvent(models.Model):
    class Activity(models.TextChoices):
        SIGN_IN = "sign_in", "Sign In"
        SIGN_OUT = "sign_out", "Sign Out"
        LOCKED_OUT = "locked_out", "Locked Out"
        PASSWORD_CHANGED = "password_changed", "Password Changed"
        PASSWORD_RESET = "password_reset", "Password Reset"
        MFA_CHANGED = "mfa_changed", "Two-Factor Authentication Changed"
        ACCOUNT_CREATED = "account_created", "Account Created"
        SETTINGS_CHANGED = "settings_changed", "Settings Changed"
        PERMISSIONS_CHANGED = "permissions_changed", "Permissions Changed"
        USER_ADDED = "user_added", "User Added"
        USER_REMOVED = "user_removed", "User Removed"
        ACCOUNT_REMOVAL = "account_removal", "Account Removal"
        ACCOUNT_REACTIVATED = "account_reactivated", "Account Reactivated"
        API_TOKEN = "api_token", "API Token"
        TASK_CREATED = "task_created", "Backup Task Created"
        TASK_CONNECTED = "task_connected", "Backup Task Connected"
        TASK_CHANGED = "task_changed", "Backup Task Changed"
        TASK_DELETION = "task_deletion", "Backup Task Deletion"
        TASK_USERS = "task_users", "Backup Users Changed"
        BACKUP_NOW = "backup_now", "Backup Now"
        RESTORE = "restore", "Restore"
        EXPORT = "export", "Export"
        ERASURE = "erasure", "Delete backup items - GDPR Right to Erasure"

    class Status(models.TextChoices):
        OK = "ok", "OK"
        FAILED = "failed", "Failed"

    account = models.ForeignKey(
        "accounts.Account", on_delete=models.CASCADE, related_name="audit_events", null=True, blank=True
    )
    created_at = models.DateTimeField(db_index=True)
    activity = models.CharField(max_length=32, choices=Activity.choices)
    service = models.CharField(max_length=32, default="Portal")
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.OK)
    task = models.CharField(max_length=200, blank=True)
    performed_by = models.CharField(max_length=254, blank=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True)
    ip = models.GenericIPAddressField(null=True, blank=True)
    description = models.TextField()

    class Meta:
        ordering: ClassVar[list[str]] = ["-created_at", "-id"]
        indexes: ClassVar[list[models.Index]] = [models.Index(fields=["account", "-created_at"])]

    def __str__(self) -> str:
        return f"{self.get_activity_display()}: {self.description}"
