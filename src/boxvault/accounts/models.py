from __future__ import annotations

from typing import Any, ClassVar

from django.conf import settings
from django.contrib.auth.base_user import BaseUserManager
from django.contrib.auth.models import AbstractUser
from django.db import models

from boxvault.core.operations import ADMIN_ONLY, Operation


class UserManager(BaseUserManager["User"]):
    use_in_migrations = True

    def create_user(self, email: str, password: str | None = None, **extra: Any) -> User:
        if not email:
            raise ValueError("an e-mail address is required")
        user = self.model(email=self.normalize_email(email).lower(), **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_superuser(self, email: str, password: str | None = None, **extra: Any) -> User:
        extra.update(is_staff=True, is_superuser=True)
        return self.create_user(email, password, **extra)


class User(AbstractUser):
    """A person who signs in with an e-mail address; belongs to at most one account through `member`."""

    username = None  # type: ignore[assignment]
    email = models.EmailField("e-mail address", unique=True, max_length=254)

    USERNAME_FIELD = "email"
    REQUIRED_FIELDS: ClassVar[list[str]] = []
    objects: ClassVar[UserManager] = UserManager()  # type: ignore[assignment]

    def __str__(self) -> str:
        return self.email


class Account(models.Model):
    """The tenant: everything a customer owns hangs off one of these and goes when it is purged."""

    name = models.CharField(max_length=120)
    email = models.EmailField("contact e-mail", max_length=254)
    location = models.CharField("data-center location", max_length=64)
    created_at = models.DateTimeField()
    removal_requested_at = models.DateTimeField(null=True, blank=True)
    removal_due_at = models.DateTimeField(null=True, blank=True, db_index=True)

    def __str__(self) -> str:
        return self.name

    @property
    def pending_removal(self) -> bool:
        return self.removal_due_at is not None

    @property
    def location_label(self) -> str:
        location = settings.BOXVAULT_LOCATIONS.get(self.location)
        return location["label"] if location else self.location


class Member(models.Model):
    class Role(models.TextChoices):
        ADMIN = "admin", "Administrator"
        CUSTOM = "custom", "Custom"

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="member")
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="members")
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.CUSTOM)
    operations = models.JSONField(default=list, blank=True)
    services = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField()

    class Meta:
        ordering: ClassVar[list[str]] = ["id"]

    def __str__(self) -> str:
        return f"{self.user} @ {self.account}"

    @property
    def is_admin(self) -> bool:
        return self.role == self.Role.ADMIN

    def can(self, operation: Operation) -> bool:
        if self.is_admin:
            return True
        if operation in ADMIN_ONLY:
            return False
        return str(operation) in self.operations

    def may_use(self, service: str) -> bool:
        return self.is_admin or service in self.services
