"""The one gate every page and API endpoint goes through: who is asking, for which account, may they do it.

Tenant isolation is a property of the lookup, not of each view: objects are only ever fetched through
`scoped()`/`get_for()`, which filter on the caller's account, so another tenant's id is not found (404).
A missing operation is a PermissionDenied (403).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypeVar

from django.core.exceptions import PermissionDenied
from django.db.models import Model, QuerySet
from django.http import Http404

from boxvault.accounts.models import Account, Member
from boxvault.accounts.operations import LABELS, Operation

M = TypeVar("M", bound=Model)


class AccountPendingRemoval(PermissionDenied):
    """The account is in its removal grace period: only its administrators may reactivate it."""


@dataclass(frozen=True)
class Access:
    user: Any
    member: Member
    account: Account

    def can(self, operation: Operation) -> bool:
        return self.member.can(operation)


def for_user(user: Any, operation: Operation | None = None, *, allow_pending_removal: bool = False) -> Access:
    if user is None or not user.is_authenticated:
        raise PermissionDenied("sign in first")
    member = Member.objects.select_related("account", "user").filter(user_id=user.pk).first()
    if member is None:
        raise PermissionDenied("this user does not belong to an account")
    if member.account.pending_removal and not allow_pending_removal:
        raise AccountPendingRemoval("this account is scheduled for removal")
    if operation is not None and not member.can(operation):
        label = LABELS.get(operation, "administrator rights")
        raise PermissionDenied(f"your role does not allow this: {label}")
    return Access(user=user, member=member, account=member.account)


def scoped(access: Access, queryset: QuerySet[M]) -> QuerySet[M]:
    return queryset.filter(account=access.account)


def get_for(access: Access, queryset: QuerySet[M], **lookup: Any) -> M:
    try:
        return scoped(access, queryset).get(**lookup)
    except (queryset.model.DoesNotExist, ValueError, TypeError) as exc:
        raise Http404("not found") from exc
