"""The one gate every page, API endpoint and CLI command goes through: who is asking, for which account,
may they do it, and on which services.

Tenant isolation is a property of the lookup, not of each view: objects are only ever fetched through
`Access.restrict()`/`Access.get()` (or `scoped()`/`get_for()`), which filter on the caller's account and,
for rows that belong to a service (tasks, jobs), on the services the member may use — so another tenant's id,
or a row of a service the member does not have, is not found (404).
A missing operation is a PermissionDenied (403).
Other apps reach this through `boxvault.core.access` (installed by `AccountsConfig.ready`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypeVar

from django.core.exceptions import FieldDoesNotExist, PermissionDenied
from django.db.models import Model, QuerySet
from django.http import Http404

from boxvault.accounts.models import Account, Member
from boxvault.core.access import AccountPendingRemoval
from boxvault.core.operations import LABELS, SERVICES, Operation

M = TypeVar("M", bound=Model)

__all__ = ["Access", "AccountPendingRemoval", "for_user", "get_for", "scoped"]


def _has_service(model: type[Model]) -> bool:
    try:
        model._meta.get_field("service")
    except FieldDoesNotExist:
        return False
    return True


@dataclass(frozen=True)
class Access:
    user: Any
    member: Member
    account: Account

    def can(self, operation: Operation | str) -> bool:
        return self.member.can(Operation(operation))

    def may_use(self, service: str) -> bool:
        return self.member.may_use(service)

    def require(self, operation: Operation | str | None = None, service: str | None = None) -> None:
        """403 with the reason when the member lacks `operation` or may not act on `service`."""
        if operation is not None and not self.can(operation):
            label = LABELS.get(Operation(operation), "administrator rights")
            raise PermissionDenied(f"your role does not allow this: {label}")
        if service is not None and not self.may_use(service):
            raise PermissionDenied(f"your role does not include the {SERVICES.get(service, service)} service")

    def restrict(
        self, queryset: QuerySet[M], operation: Operation | str | None = None, service: str | None = None
    ) -> QuerySet[M]:
        """The rows of `queryset` this member may see: their account's, of the services they may use."""
        self.require(operation)
        rows = queryset.filter(account=self.account)
        if service is not None and not self.may_use(service):
            return rows.none()
        if not self.member.is_admin and _has_service(queryset.model):
            rows = rows.filter(service__in=list(self.member.services or []))
        return rows

    def get(self, queryset: QuerySet[M], **lookup: Any) -> M:
        """One row through `restrict`; anything not visible (another tenant's, a bad id) is a 404."""
        try:
            return self.restrict(queryset).get(**lookup)
        except (queryset.model.DoesNotExist, ValueError, TypeError) as exc:
            raise Http404("not found") from exc


def for_user(
    user: Any, operation: Operation | str | None = None, *, allow_pending_removal: bool = False
) -> Access:
    if user is None or not user.is_authenticated:
        raise PermissionDenied("sign in first")
    member = Member.objects.select_related("account", "user").filter(user_id=user.pk).first()
    if member is None:
        raise PermissionDenied("this user does not belong to an account")
    if member.account.pending_removal and not allow_pending_removal:
        raise AccountPendingRemoval("this account is scheduled for removal")
    access = Access(user=user, member=member, account=member.account)
    access.require(operation)
    return access


def scoped(access: Access, queryset: QuerySet[M]) -> QuerySet[M]:
    return access.restrict(queryset)


def get_for(access: Access, queryset: QuerySet[M], **lookup: Any) -> M:
    return access.get(queryset, **lookup)
