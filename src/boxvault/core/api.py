"""The base every REST view of every app builds on: the permission gate before any handler."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from rest_framework.request import Request

from boxvault.core.access import Access, for_user


class AccountScopedMixin:
    """Runs `for_user` before any handler: `operations` maps HTTP methods to the operation they need ("*" for
    the rest); `service`, when set, is the service every request of the view acts on."""

    operations: dict[str, str | None] = {}
    service: str | None = None
    access: Access

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)  # type: ignore[misc]
        default = self.operations.get("*")
        self.access = for_user(request.user, self.operations.get(request.method or "GET", default))
        self.access.require(service=self.service)

    def scoped(self, queryset: QuerySet[Any]) -> QuerySet[Any]:
        if getattr(self, "swagger_fake_view", False):  # schema generation has no request user
            return queryset.none()
        return self.access.restrict(queryset)
