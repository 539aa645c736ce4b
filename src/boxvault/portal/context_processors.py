"""The navigation panel: the guide's entries, shown when the page exists and the user may open it."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.urls import NoReverseMatch, reverse

from boxvault.core.operations import Operation

# (label, url name, operation needed); pages of later issues appear once their URL name exists.
NAVIGATION: list[tuple[str, str, Operation | None]] = [
    ("Homepage", "portal:home", None),
    ("Jobs", "jobs:list", Operation.VIEW_TASKS),
    ("Recovery", "recovery:home", Operation.PREVIEW_DATA),
    ("Activity", "activity:list", Operation.VIEW_ACTIVITY),
    ("Security audit", "security:audit", Operation.VIEW_ACTIVITY),
    ("Settings", "accounts:settings", Operation.VIEW_SETTINGS),
    ("Users", "accounts:members", Operation.MANAGE_USERS),
    ("Notifications", "notifications:settings", Operation.MANAGE_NOTIFICATIONS),
    ("Billing", "billing:home", Operation.BILLING),
    ("Support", "portal:support", Operation.VIEW_SUPPORT),
]


def shell(request: HttpRequest) -> dict[str, Any]:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"nav": []}
    member = getattr(user, "member", None)
    items = []
    for label, name, operation in NAVIGATION:
        if member is None and operation is not None:
            continue
        if operation is not None and not member.can(operation):
            continue
        try:
            url = reverse(name)
        except NoReverseMatch:
            continue
        items.append({"label": label, "url": url, "active": request.path.startswith(url) and url != "/"})
    return {"nav": items, "member": member}
