"""The navigation panel: the guide's entries, shown when the page exists and the user may open it."""

from __future__ import annotations

from typing import Any

from django.conf import settings
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
        if name == "billing:home" and not settings.BOXVAULT_BILLING:
            continue  # billing off: no Billing page at all
        try:
            url = reverse(name)
        except NoReverseMatch:
            continue
        items.append({"label": label, "url": url, "active": request.path.startswith(url) and url != "/"})
    return {"nav": items, "member": member, **_billing_banner(member)}


def _billing_banner(member: Any) -> dict[str, str]:
    """The guide's billing messages (trial, payment due/overdue/failed, read-only), to members allowed to see
    them; nothing at all while billing is off."""
    if member is None or not settings.BOXVAULT_BILLING or not member.can(Operation.BILLING_NOTIFICATIONS):
        return {}
    from boxvault.billing.models import Profile
    from boxvault.core import clock

    profile = Profile.objects.filter(account_id=member.account_id).first()
    link = "Subscribe" if member.can(Operation.BILLING) else ""
    if profile is not None and profile.read_only_since is not None:
        return {"billing_banner": "Backups are paused until the subscription is paid.", "billing_link": link}
    if profile is not None and profile.state != Profile.State.OK:
        text = f"{profile.get_state_display()}."
        return {"billing_banner": text, "billing_link": "Billing" if link else ""}
    trial = getattr(member.account, "trial", None)
    if (profile is None or profile.plan == Profile.Plan.NONE) and trial is not None:
        days = trial.days_left(clock.now())
        return {"billing_banner": f"Trial: {days} day{'s' if days != 1 else ''} left.", "billing_link": link}
    return {}
