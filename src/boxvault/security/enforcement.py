"""What the account's security policies demand of a signed-in member on each request.

In order: the IP allow-list (anything from elsewhere is refused with a 403 naming the address, and audited),
an expired password (changed first), then enforced 2FA (set up before anything else). While a step is due,
a member reaches only the pages that complete it and sign-out; the session API answers 403 with the reason.
API tokens are refused (403) while 2FA is enforced and missing; an expired password does not stop them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.contrib import messages
from django.db import transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.template.loader import get_template
from django.urls import reverse

from boxvault.core import clock
from boxvault.security.addresses import AddressError, allowed, parse_address, parse_rule_value
from boxvault.security.models import AuditEvent, IpRule, PasswordState, SecurityPolicy
from boxvault.security.services import record

# Reachable whatever is due: signing out, and the static files of the pages that are allowed.
_ALWAYS = ("/accounts/logout/", "/static/")


class PolicyRefusal(Exception):
    """A token request refused by a policy; the message is the API's `detail`."""


@dataclass(frozen=True)
class Step:
    """Something the member must do before anything else."""

    url_name: str
    paths: tuple[str, ...]
    page_message: str
    api_message: str


PASSWORD_STEP = Step(
    "account_change_password",
    ("/accounts/password/change/",),
    "Your password has expired. Choose a new one to continue.",
    "Your password has expired under this account's policy: sign in to the portal and change it.",
)
MFA_STEP = Step(
    "mfa_activate_totp",
    ("/accounts/2fa/", "/accounts/reauthenticate/"),
    "Your account requires two-factor authentication. Set it up to continue.",
    "This account requires two-factor authentication: set it up in the portal "
    "(Settings > Security) before using the API.",
)


def policy_of(account: Any) -> SecurityPolicy | None:
    if account is None:
        return None
    return SecurityPolicy.objects.filter(account=account).first()


def _member(user: Any) -> Any:
    try:
        return user.member
    except Exception:  # noqa: BLE001 - RelatedObjectDoesNotExist: a user without an account has no policies
        return None


def has_totp(user: Any) -> bool:
    from allauth.mfa.models import Authenticator

    return Authenticator.objects.filter(user=user, type=Authenticator.Type.TOTP).exists()


def password_changed_at(user: Any) -> Any:
    state = PasswordState.objects.filter(user=user).first()
    return state.changed_at if state is not None else user.date_joined


def password_expired(user: Any, policy: SecurityPolicy) -> bool:
    days = policy.password_max_age_days
    if not days or not user.has_usable_password():
        return False
    return bool(clock.now() - password_changed_at(user) > timedelta(days=days))


def ip_allowed(account: Any, address: str) -> bool:
    try:
        client = parse_address(address)
    except AddressError:
        return False
    spans = []
    for value in IpRule.objects.filter(account=account).values_list("value", flat=True):
        try:
            spans.extend(parse_rule_value(value))
        except AddressError:  # stored values are canonical; a damaged one allows nothing rather than crash
            continue
    return allowed(client, spans)


def due_steps(user: Any, policy: SecurityPolicy) -> list[Step]:
    steps = []
    if password_expired(user, policy):
        steps.append(PASSWORD_STEP)
    if policy.enforce_2fa and not has_totp(user):
        steps.append(MFA_STEP)
    return steps


def _deny_ip(request: HttpRequest, user: Any, account: Any, address: str, via: str) -> None:
    with transaction.atomic():
        record(
            account,
            AuditEvent.Activity.ACCESS_DENIED,
            f"Access denied to {request.path[:200]} {via} from ip {address or 'unknown'}: "
            "not in the account's trusted IP addresses",
            actor=user,
            request=request,
            status=AuditEvent.Status.FAILED,
        )


def denied_message(address: str) -> str:
    return f"Access denied: your IP address {address or 'unknown'} is not in this account's trusted list."


def check_session(request: HttpRequest, user: Any) -> HttpResponse | None:
    """None to let the request through, or the response that replaces it."""
    member = _member(user)
    policy = policy_of(member.account) if member is not None else None
    if policy is None:
        return None
    is_api = request.path.startswith("/api/")
    address = str(request.META.get("REMOTE_ADDR") or "")
    if policy.ip_restrictions and not ip_allowed(member.account, address):
        if request.path.startswith("/accounts/logout/"):
            return None
        _deny_ip(request, user, member.account, address, "(API)" if is_api else "")
        if is_api:
            return JsonResponse({"detail": denied_message(address)}, status=403)
        page = get_template("security/denied.html").render({"address": address}, request)
        return HttpResponse(page, status=403)
    steps = due_steps(user, policy)
    if not steps or request.path.startswith(_ALWAYS):
        return None
    step = steps[0]
    if request.path.startswith(step.paths):
        return None
    if is_api:
        return JsonResponse({"detail": step.api_message}, status=403)
    messages.warning(request, step.page_message)
    return redirect(reverse(step.url_name))


def check_token_user(user: Any, request: HttpRequest) -> None:
    """Raises PolicyRefusal when a policy of the user's account refuses this token request."""
    member = _member(user)
    policy = policy_of(member.account) if member is not None else None
    if policy is None:
        return
    address = str(request.META.get("REMOTE_ADDR") or "")
    if policy.ip_restrictions and not ip_allowed(member.account, address):
        _deny_ip(request, user, member.account, address, "(API token)")
        raise PolicyRefusal(denied_message(address))
    # Password expiry is about the password: a token is its own credential and keeps working (scripts are
    # not broken by a rotation date); a missing second factor, though, refuses tokens as the issue demands.
    if policy.enforce_2fa and not has_totp(user):
        raise PolicyRefusal(MFA_STEP.api_message)
