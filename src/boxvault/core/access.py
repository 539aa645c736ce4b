"""The one permission gate, as every app reaches it: `for_user()` for code, `@requires()` for page views.

The gate itself (members, roles, operations, services) belongs to the accounts app, which installs it
here when Django starts (`AccountsConfig.ready`). Apps call it through this module, so none of them (nor the
security app's audit pages, which the accounts app writes into) imports accounts to check a permission:
the ground floor stays free of apps and the apps free of cycles.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, Protocol

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.db.models import Model, QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect

from boxvault.core.errorpages import forbidden

View = Callable[..., HttpResponse]


class AccountPendingRemoval(PermissionDenied):
    """The account is in its removal grace period: only its administrators may reactivate it."""


class Access(Protocol):
    """Who is asking, for which account, and what they may do (accounts.access.Access implements it)."""

    @property
    def account(self) -> Any: ...
    @property
    def member(self) -> Any: ...
    def can(self, operation: str) -> bool: ...
    def may_use(self, service: str) -> bool: ...
    def require(self, operation: str | None = None, service: str | None = None) -> None: ...
    def restrict(
        self, queryset: QuerySet[Any], operation: str | None = None, service: str | None = None
    ) -> QuerySet[Any]: ...
    def get(self, queryset: QuerySet[Any], **lookup: Any) -> Model: ...


class Gate(Protocol):
    def __call__(
        self, user: Any, operation: str | None = None, *, allow_pending_removal: bool = False
    ) -> Access: ...


_gate: Gate | None = None


def install(gate: Gate) -> None:
    global _gate
    _gate = gate


def for_user(user: Any, operation: str | None = None, *, allow_pending_removal: bool = False) -> Access:
    """Sign-in, membership, account state and `operation`; raises PermissionDenied with the reason."""
    if _gate is None:  # pragma: no cover - only if the accounts app is not installed
        raise RuntimeError("no permission gate installed (is boxvault.accounts in INSTALLED_APPS?)")
    return _gate(user, operation, allow_pending_removal=allow_pending_removal)


def requires(operation: str | None = None, *, allow_pending_removal: bool = False) -> Callable[[View], View]:
    """Page views: sign-in, membership and `operation` checked by `for_user`; sets `request.access`."""

    def decorate(view: View) -> View:
        @wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            try:
                request.access = for_user(  # type: ignore[attr-defined]
                    request.user, operation, allow_pending_removal=allow_pending_removal
                )
            except AccountPendingRemoval as exc:
                probe = for_user(request.user, None, allow_pending_removal=True)
                if probe.member.is_admin:
                    return redirect("accounts:removal")
                return forbidden(request, exc)
            except PermissionDenied as exc:
                # answered here rather than raised: a refusal is routine, not worth a logged traceback
                return forbidden(request, exc)
            return view(request, *args, **kwargs)

        return wrapper

    return decorate
