"""Services for Settings > Security: account-wide policies and the IP allow-list.

Each function is one transaction that writes its audit row; allow-list changes e-mail the account's
administrators after the commit. Changing anything here is Administrator-only (checked again here, not only in
the views, so the CLI and any future caller get the same rule).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.core.mail import send_mail
from django.db import transaction
from django.http import HttpRequest

from boxvault.core import clock
from boxvault.core.access import Access
from boxvault.core.errors import ServiceError
from boxvault.core.operations import Operation
from boxvault.security.addresses import (
    AddressError,
    Span,
    allowed,
    parse_address,
    parse_item,
    parse_network,
    parse_range,
    parse_rule_value,
    span_of,
    split_items,
)
from boxvault.security.models import AuditEvent, IpRule, SecurityPolicy
from boxvault.security.services import record

Activity = AuditEvent.Activity
MAX_PASSWORD_DAYS = 3650
MAX_ITEMS_PER_RULE = 200
MAX_RULES = 500


@dataclass(frozen=True)
class RuleInput:
    """What a rule will hold once parsed: its kind, canonical text and the ranges it allows."""

    kind: str
    value: str
    spans: list[Span]


def _locked_policy(account: Any) -> SecurityPolicy:
    SecurityPolicy.objects.get_or_create(account=account, defaults={"updated_at": clock.now()})
    return SecurityPolicy.objects.select_for_update().get(account=account)


def _require_admin(access: Access) -> None:
    access.require(Operation.MANAGE_ACCOUNT)


def update_policy(
    access: Access,
    *,
    enforce_2fa: bool,
    password_max_age_days: int | None,
    request: HttpRequest | None = None,
) -> SecurityPolicy:
    _require_admin(access)
    if password_max_age_days is not None and not 1 <= password_max_age_days <= MAX_PASSWORD_DAYS:
        raise ServiceError(f"Password expiration must be 1 to {MAX_PASSWORD_DAYS} days, or empty for never.")
    with transaction.atomic():
        policy = _locked_policy(access.account)
        changes = []
        if policy.enforce_2fa != enforce_2fa:
            changes.append(f"Enforce two-factor authentication turned {'on' if enforce_2fa else 'off'}")
        if policy.password_max_age_days != password_max_age_days:
            changes.append(
                f"Password expiration set to {password_max_age_days} days"
                if password_max_age_days
                else "Password expiration turned off"
            )
        if changes:
            policy.enforce_2fa = enforce_2fa
            policy.password_max_age_days = password_max_age_days
            policy.updated_at = clock.now()
            policy.save()
            record(
                access.account,
                Activity.SECURITY_CHANGED,
                "; ".join(changes),
                actor=access.user,
                request=request,
            )
    return policy


# --- the IP allow-list


def parse_rule_input(
    *,
    addresses: Sequence[str] | None = None,
    range_: tuple[str, str] | None = None,
    cidr: str | None = None,
) -> RuleInput:
    """Exactly one of: a list of entries (each an address, `a-b` range or CIDR; commas split further),
    a from–to range, or a CIDR network."""
    given = [x is not None for x in (addresses, range_, cidr)]
    if sum(given) != 1:
        raise ServiceError("Give exactly one of: addresses, range (from, to) or cidr.")
    try:
        if cidr is not None:
            if not isinstance(cidr, str):
                raise AddressError("cidr must be text like 192.0.2.0/24")
            network = parse_network(cidr)
            return RuleInput(IpRule.Kind.CIDR, str(network), [span_of(network)])
        if range_ is not None:
            start, end = range_
            if not isinstance(start, str) or not isinstance(end, str):
                raise AddressError("a range needs text addresses in from and to")
            span = parse_range(start, end)
            value = f"{parse_address(start)}-{parse_address(end)}"
            return RuleInput(IpRule.Kind.RANGE, value, [span])
        if isinstance(addresses, str):
            addresses = [addresses]
        items = split_items(list(addresses or []))
    except AddressError as exc:
        raise ServiceError(f"Not a valid IP entry: {exc}.") from exc
    if not items:
        raise ServiceError("Enter at least one IP address, range or network.")
    if len(items) > MAX_ITEMS_PER_RULE:
        raise ServiceError(f"At most {MAX_ITEMS_PER_RULE} entries per rule.")
    texts, spans = [], []
    for item in items:
        try:
            text, span = parse_item(item)
        except AddressError as exc:
            raise ServiceError(f"Not a valid IP entry: {exc}.") from exc
        texts.append(text)
        spans.append(span)
    return RuleInput(IpRule.Kind.ADDRESSES, ", ".join(texts), spans)


def _clean_description(description: str) -> str:
    if not isinstance(description, str):
        raise ServiceError("The description must be text.")
    description = description.strip()
    if len(description) > 200:
        raise ServiceError("The description is limited to 200 characters.")
    return description


def _spans(rules: Sequence[IpRule]) -> list[Span]:
    return [span for rule in rules for span in parse_rule_value(rule.value)]


def _guard_own_address(request: HttpRequest | None, spans: list[Span]) -> None:
    """Refuse a list that would lock out the person saving it (the CLI has no address and is the way back)."""
    if request is None:
        return
    address = str(request.META.get("REMOTE_ADDR") or "")
    try:
        own = parse_address(address)
    except AddressError:
        raise ServiceError("Your IP address is unknown, so the list cannot be checked against it.") from None
    if not allowed(own, spans):
        raise ServiceError(
            f"This list would exclude your IP address {own}: add it (or a range holding it) first."
        )


def _admin_emails(account: Any) -> list[str]:
    return list(account.members.filter(role="admin").values_list("user__email", flat=True))


def _notify_admins(account: Any, change: str, actor: str, address: str) -> None:
    recipients = _admin_emails(account)
    if not recipients:
        return
    rules = "\n".join(f"  - {r.description or '(no description)'}: {r.value}" for r in account.ip_rules.all())
    policy = policy_of_account(account)
    state = "ON" if policy is not None and policy.ip_restrictions else "OFF"
    body = (
        f"The IP restrictions of the boxvault account {account.name!r} changed:\n\n  {change}\n\n"
        f"Changed by {actor} from {address}.\nIP restrictions are now {state}; trusted addresses:\n"
        f"{rules or '  (none)'}\n\nIf you did not expect this, review Settings > Security.\n"
    )
    send_mail(f"[boxvault] IP restrictions changed for {account.name}", body, None, recipients)


def policy_of_account(account: Any) -> SecurityPolicy | None:
    return SecurityPolicy.objects.filter(account=account).first()


def _changed(access_or_none: Access | None, account: Any, change: str, request: HttpRequest | None) -> None:
    """Audit row now; e-mail to the administrators once the transaction commits."""
    actor = access_or_none.user if access_or_none is not None else None
    record(account, Activity.SECURITY_CHANGED, change, actor=actor, request=request)
    who = getattr(actor, "email", "") or "the operator (command line)"
    where = str(request.META.get("REMOTE_ADDR") or "unknown") if request is not None else "the command line"
    transaction.on_commit(lambda: _notify_admins(account, change, who, where))


def add_ip_rule(
    access: Access, *, description: str, rule: RuleInput, request: HttpRequest | None = None
) -> IpRule:
    """Add a trusted entry; the first one turns IP restrictions on."""
    _require_admin(access)
    description = _clean_description(description)
    with transaction.atomic():
        policy = _locked_policy(access.account)
        existing = list(IpRule.objects.filter(account=access.account))
        if len(existing) >= MAX_RULES:
            raise ServiceError(f"At most {MAX_RULES} trusted entries per account.")
        turning_on = not existing and not policy.ip_restrictions
        if policy.ip_restrictions or turning_on:
            _guard_own_address(request, _spans(existing) + rule.spans)
        created = IpRule.objects.create(
            account=access.account,
            description=description,
            kind=rule.kind,
            value=rule.value,
            created_at=clock.now(),
        )
        change = f"Added trusted IP entry {description or '(no description)'!r}: {rule.value}"
        if turning_on:
            policy.ip_restrictions = True
            policy.updated_at = clock.now()
            policy.save()
            change += "; IP restrictions turned on"
        _changed(access, access.account, change, request)
    return created


def update_ip_rule(
    access: Access, rule_id: int, *, description: str, rule: RuleInput, request: HttpRequest | None = None
) -> IpRule:
    _require_admin(access)
    description = _clean_description(description)
    with transaction.atomic():
        policy = _locked_policy(access.account)
        row = access.get(IpRule.objects.select_for_update(), pk=rule_id)
        others = list(IpRule.objects.filter(account=access.account).exclude(pk=row.pk))
        if policy.ip_restrictions:
            _guard_own_address(request, _spans(others) + rule.spans)
        before = f"{row.description or '(no description)'!r}: {row.value}"
        row.description, row.kind, row.value = description, rule.kind, rule.value
        row.save(update_fields=["description", "kind", "value"])
        after = f"{description or '(no description)'!r}: {rule.value}"
        _changed(access, access.account, f"Changed trusted IP entry {before} to {after}", request)
    return row


def delete_ip_rule(access: Access, rule_id: int, *, request: HttpRequest | None = None) -> None:
    """Remove an entry; removing the last one turns IP restrictions off (an empty list would refuse all)."""
    _require_admin(access)
    with transaction.atomic():
        policy = _locked_policy(access.account)
        row = access.get(IpRule.objects.select_for_update(), pk=rule_id)
        others = list(IpRule.objects.filter(account=access.account).exclude(pk=row.pk))
        change = f"Removed trusted IP entry {row.description or '(no description)'!r}: {row.value}"
        if policy.ip_restrictions and others:
            _guard_own_address(request, _spans(others))
        row.delete()
        if not others and policy.ip_restrictions:
            policy.ip_restrictions = False
            policy.updated_at = clock.now()
            policy.save()
            change += "; IP restrictions turned off (no entries left)"
        _changed(access, access.account, change, request)


def set_ip_restrictions(
    access: Access, enabled: bool, *, request: HttpRequest | None = None
) -> SecurityPolicy:
    _require_admin(access)
    with transaction.atomic():
        policy = _locked_policy(access.account)
        if policy.ip_restrictions == enabled:
            return policy
        if enabled:
            rules = list(IpRule.objects.filter(account=access.account))
            if not rules:
                raise ServiceError(
                    "Add a trusted IP address first: IP restrictions turn on with the first entry."
                )
            _guard_own_address(request, _spans(rules))
        policy.ip_restrictions = enabled
        policy.updated_at = clock.now()
        policy.save()
        _changed(access, access.account, f"IP restrictions turned {'on' if enabled else 'off'}", request)
    return policy


def lift_ip_restrictions(email: str) -> Any:
    """The operator's break-glass (`boxvault account ip-restrictions --email E --disable`): turn the
    allow-list off for the account of `email`; the entries stay for the administrators to fix."""
    from django.contrib.auth import get_user_model

    user = get_user_model().objects.filter(email__iexact=(email or "").strip()).first()
    member = getattr(user, "member", None) if user is not None else None
    if member is None:
        raise ServiceError(f"No member with e-mail {email!r}.")
    account = member.account
    with transaction.atomic():
        policy = _locked_policy(account)
        if policy.ip_restrictions:
            policy.ip_restrictions = False
            policy.updated_at = clock.now()
            policy.save()
            _changed(None, account, f"IP restrictions turned off by the operator for {user.email}", None)
    return account
