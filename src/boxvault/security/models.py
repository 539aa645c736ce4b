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
        SECURITY_CHANGED = "security_changed", "Security Settings Changed"
        ACCESS_DENIED = "access_denied", "Access Denied"

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


class SecurityPolicy(models.Model):
    """An account's Settings > Security policies. No row means every policy is off."""

    account = models.OneToOneField(
        "accounts.Account", on_delete=models.CASCADE, related_name="security_policy"
    )
    enforce_2fa = models.BooleanField(default=False)
    password_max_age_days = models.PositiveIntegerField(null=True, blank=True)
    ip_restrictions = models.BooleanField(default=False)
    updated_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"security policy of {self.account_id}"


class IpRule(models.Model):
    """One trusted entry of an account's IP allow-list, kept as the canonical text of what was entered
    (`addresses.parse_rule` turns it back into ranges)."""

    class Kind(models.TextChoices):
        ADDRESSES = "addresses", "Addresses"
        RANGE = "range", "Range"
        CIDR = "cidr", "Network (CIDR)"

    account = models.ForeignKey("accounts.Account", on_delete=models.CASCADE, related_name="ip_rules")
    description = models.CharField(max_length=200, blank=True)
    kind = models.CharField(max_length=16, choices=Kind.choices)
    value = models.TextField()
    created_at = models.DateTimeField()

    class Meta:
        ordering: ClassVar[list[str]] = ["id"]

    def __str__(self) -> str:
        return f"{self.description}: {self.value}"


class PasswordState(models.Model):
    """When a user last chose a password (password expiry). No row: as old as the user."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="password_state"
    )
    changed_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"password of {self.user_id} changed {self.changed_at:%Y-%m-%d}"


class SamlConfig(models.Model):
    """An account's SAML 2.0 single sign-on. The allauth `SocialApp` it keeps in step (client_id = slug,
    provider_id = "saml-<slug>" so one tenant's IdP can never vouch for a user linked through another's) is
    what allauth's SAML views read; the IdP's metadata is fetched and parsed here, once, on save."""

    account = models.OneToOneField("accounts.Account", on_delete=models.CASCADE, related_name="saml")
    slug = models.SlugField(max_length=64, unique=True)
    enabled = models.BooleanField(default=False)
    metadata_url = models.URLField(max_length=500, blank=True)
    metadata_xml = models.TextField(blank=True)
    idp_entity_id = models.CharField(max_length=500, blank=True)
    domains = models.JSONField(default=list, blank=True)
    create_members = models.BooleanField(default=False)
    default_role = models.CharField(max_length=16, default="custom")
    default_operations = models.JSONField(default=list, blank=True)
    app = models.OneToOneField("socialaccount.SocialApp", on_delete=models.SET_NULL, null=True, blank=True)
    updated_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"SAML for {self.account_id} ({self.slug})"
