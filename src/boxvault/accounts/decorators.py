from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect

from boxvault.accounts.access import AccountPendingRemoval, for_user
from boxvault.accounts.operations import Operation
from boxvault.portal.errors import forbidden

View = Callable[..., HttpResponse]


def requires(
    operation: Operation | None = None, *, allow_pending_removal: bool = False
) -> Callable[[View], View]:
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
