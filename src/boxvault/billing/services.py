"""Every change to billing: subscriptions, details, cards, invoices, payments. Each runs in one transaction
and writes its audit row there; e-mails go on commit. Charging a card is network I/O and never runs inside a
transaction: the invoice is issued first, charged, then its outcome written."""

from __future__ import annotations

import logging
import re
from datetime import datetime, timedelta
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import transaction
from django.http import Http404

from boxvault.accounts.access import Access
from boxvault.accounts.models import Account
from boxvault.billing import gateway, mail
from boxvault.billing.metering import usage
from boxvault.billing.models import Counter, Invoice, InvoiceLine, Profile, Trial, WebhookEvent
from boxvault.billing.money import add_months, cents, line_amount, money, tax_on
from boxvault.core import clock
from boxvault.core.errors import ServiceError
from boxvault.core.operations import Operation
from boxvault.security.models import AuditEvent
from boxvault.security.services import record

log = logging.getLogger(__name__)
Activity = AuditEvent.Activity
PAYMENT_TERMS = timedelta(days=30)
RENEWAL_NOTICE = timedelta(days=30)
REMIND_EVERY = timedelta(days=7)
DETAIL_FIELDS = (
    "currency",
    "title",
    "first_name",
    "last_name",
    "email",
    "company",
    "tax_id",
    "address1",
    "address2",
    "country",
    "state_region",
    "city",
    "postal_code",
    "phone",
    "invoices_by",
    "purchase_order",
)


def start_trial(account: object, now: datetime) -> Trial:
    return Trial.objects.create(
        account=account, started_at=now, ends_at=now + timedelta(days=settings.BOXVAULT_TRIAL_DAYS)
    )


def enabled() -> bool:
    return bool(settings.BOXVAULT_BILLING)


def _require(access: Access, operation: Operation = Operation.BILLING) -> None:
    if not enabled():
        raise ServiceError("Billing is not enabled on this server.")
    access.require(operation)


def profile_for(account: Account) -> Profile:
    profile, _ = Profile.objects.get_or_create(account=account, defaults={"email": account.email})
    return profile


def _audit(access: Access | None, account: Account, description: str) -> None:
    actor = access.user if access is not None else None
    record(account, Activity.SETTINGS_CHANGED, description, actor=actor, service="Billing")


# --- prices, taxes, countries ---------------------------------------------------------------------------


def price(currency: str, plan: str) -> Decimal:
    try:
        return money(settings.BOXVAULT_BILLING_PRICES[currency][plan])
    except (KeyError, TypeError) as exc:
        raise ServiceError(f"No {plan} price is configured in {currency}.") from exc


def tax_rate(country: str) -> Decimal:
    return Decimal(str(settings.BOXVAULT_BILLING_TAX_RATES.get(country, "0")))


@cache
def _countries() -> frozenset[str]:
    table = Path("/usr/share/zoneinfo/iso3166.tab")  # Debian's tzdata: the ISO 3166 list
    if not table.is_file():
        return frozenset()
    rows = table.read_text(encoding="utf-8").splitlines()
    return frozenset(line.split("\t")[0] for line in rows if line and not line.startswith("#"))


def _clean_country(value: str) -> str:
    code = (value or "").strip().upper()
    known = _countries()
    if not re.fullmatch(r"[A-Z]{2}", code) or (known and code not in known):
        raise ServiceError(f"{value!r} is not a country code (ISO 3166, like US, DE or IL).")
    return code


# --- details and cards ----------------------------------------------------------------------------------


def update_details(access: Access, **changes: Any) -> Profile:
    _require(access)
    unknown = set(changes) - set(DETAIL_FIELDS)
    if unknown:
        raise ServiceError(f"These details cannot be changed: {', '.join(sorted(unknown))}.")
    cleaned = {k: str(v if v is not None else "").strip() for k, v in changes.items()}
    if "currency" in cleaned:
        cleaned["currency"] = cleaned["currency"].upper()
        if cleaned["currency"] not in settings.BOXVAULT_BILLING_PRICES:
            offered = ", ".join(sorted(settings.BOXVAULT_BILLING_PRICES))
            raise ServiceError(f"Choose one of the currencies offered: {offered}.")
    if cleaned.get("country"):
        cleaned["country"] = _clean_country(cleaned["country"])
    if "invoices_by" in cleaned and cleaned["invoices_by"] not in ("attachment", "link"):
        raise ServiceError("invoices_by must be attachment or link.")
    if cleaned.get("email") and not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", cleaned["email"]):
        raise ServiceError("Enter a valid billing e-mail address.")
    for field, value in cleaned.items():
        limit = Profile._meta.get_field(field).max_length
        if limit and len(value) > limit:
            raise ServiceError(f"{field} is at most {limit} characters.")
    with transaction.atomic():
        profile = Profile.objects.select_for_update().get(pk=profile_for(access.account).pk)
        for field, value in cleaned.items():
            setattr(profile, field, value)
        country = profile.country
        if country in settings.BOXVAULT_BILLING_TAX_ID_COUNTRIES and not profile.tax_id:
            raise ServiceError(f"A company tax ID is required for billing in {country}.")
        profile.save()
        _audit(access, access.account, f"Billing details changed: {', '.join(sorted(cleaned)) or 'nothing'}")
    return profile


def _customer(profile: Profile) -> str:
    if not profile.stripe_customer:
        name = profile.company or profile.account.name
        customer = gateway.customer(profile.email or profile.account.email, name, profile.account_id)
        Profile.objects.filter(pk=profile.pk, stripe_customer="").update(stripe_customer=customer)
        profile.refresh_from_db()
    return profile.stripe_customer


def _need_stripe() -> None:
    if not gateway.enabled():
        raise ServiceError(
            "Card payments are not offered on this server; invoices are paid by bank transfer."
        )


def card_setup(access: Access) -> dict[str, str]:
    """What the page's Stripe Elements form needs to collect a card (the card never reaches boxvault)."""
    _require(access)
    _need_stripe()
    customer = _customer(profile_for(access.account))
    return {
        "client_secret": gateway.setup_intent(customer),
        "publishable_key": settings.BOXVAULT_STRIPE_PUBLISHABLE_KEY or "",
    }


def add_card(access: Access, payment_method: str) -> gateway.Card:
    """A card Stripe collected (a PaymentMethod id) becomes the account's active card."""
    _require(access)
    _need_stripe()
    if not re.fullmatch(r"pm_[A-Za-z0-9_]{1,120}", payment_method or ""):
        raise ServiceError("payment_method must be a Stripe PaymentMethod id (pm_...).")
    profile = profile_for(access.account)
    try:
        card = gateway.attach(_customer(profile), payment_method)
    except gateway.PaymentError as exc:
        raise ServiceError(str(exc)) from exc
    with transaction.atomic():
        Profile.objects.filter(pk=profile.pk).update(stripe_card=card.id)
        _audit(access, access.account, f"Card {card.brand} ending {card.last4} added and made active")
    return card


def list_cards(access: Access) -> list[dict[str, Any]]:
    _require(access)
    profile = profile_for(access.account)
    if not gateway.enabled() or not profile.stripe_customer:
        return []
    try:
        found = gateway.cards(profile.stripe_customer)
    except gateway.PaymentError as exc:
        raise ServiceError(str(exc)) from exc
    return [{**c.__dict__, "active": c.id == profile.stripe_card} for c in found]


def _own_card(profile: Profile, card_id: str) -> gateway.Card:
    for card in gateway.cards(profile.stripe_customer) if profile.stripe_customer else []:
        if card.id == card_id:
            return card
    raise Http404("no such card on this account")


def choose_card(access: Access, card_id: str) -> None:
    _require(access)
    _need_stripe()
    profile = profile_for(access.account)
    card = _own_card(profile, card_id)
    with transaction.atomic():
        Profile.objects.filter(pk=profile.pk).update(stripe_card=card.id)
        _audit(access, access.account, f"Card ending {card.last4} made active")


def delete_card(access: Access, card_id: str) -> None:
    _require(access)
    _need_stripe()
    profile = profile_for(access.account)
    card = _own_card(profile, card_id)
    try:
        gateway.detach(card.id)
    except gateway.PaymentError as exc:
        raise ServiceError(str(exc)) from exc
    with transaction.atomic():
        Profile.objects.filter(pk=profile.pk, stripe_card=card.id).update(stripe_card="")
        _audit(access, access.account, f"Card ending {card.last4} deleted")


# --- subscribing ----------------------------------------------------------------------------------------


def subscribe(access: Access, plan: str, *, purchase_order: str = "") -> Profile:
    """Monthly (charged to the active card each month) or annual (an invoice payable in 30 days). During the
    trial, billing starts when the trial ends."""
    _require(access)
    if plan not in (Profile.Plan.MONTHLY, Profile.Plan.ANNUAL):
        raise ServiceError("plan must be monthly or annual.")
    profile = profile_for(access.account)
    price(profile.currency, plan)  # refuses a plan not offered in the account's currency
    if profile.country in settings.BOXVAULT_BILLING_TAX_ID_COUNTRIES and not profile.tax_id:
        raise ServiceError(f"A company tax ID is required for billing in {profile.country}.")
    if plan == Profile.Plan.MONTHLY:
        _need_stripe()
        if not profile.stripe_card:
            raise ServiceError("Add a card first: monthly subscriptions are charged to it.")
    now = clock.now()
    trial = getattr(access.account, "trial", None)
    starts = max(now, trial.ends_at) if trial is not None else now
    with transaction.atomic():
        profile = Profile.objects.select_for_update().get(pk=profile.pk)
        if profile.plan == plan:
            return profile
        profile.plan, profile.subscribed_at, profile.starts_at = plan, now, starts
        profile.billed_until = None
        profile.purchase_order = (purchase_order or profile.purchase_order)[:64]
        profile.read_only_since = None
        profile.save()
        _audit(access, access.account, f"Subscribed {plan}, billing from {starts:%Y-%m-%d}")
        if plan == Profile.Plan.ANNUAL:
            mail.on_commit_annual_confirmation(profile, starts)
    if plan == Profile.Plan.ANNUAL and starts <= now:
        _annual_invoice(profile, starts, now)
    return profile


# --- invoices -------------------------------------------------------------------------------------------


def _seller() -> dict[str, Any]:
    seller = dict(settings.BOXVAULT_BILLING_SELLER)
    seller.setdefault("code", re.sub(r"[^A-Za-z0-9]", "", str(seller.get("name", "bv")))[:8] or "bv")
    return seller


def _billed_to(profile: Profile) -> dict[str, Any]:
    return {f: getattr(profile, f) for f in DETAIL_FIELDS if f != "invoices_by"} | {
        "account": profile.account.name
    }


def issue(
    profile: Profile,
    *,
    plan: str,
    start: datetime,
    end: datetime,
    lines: list[tuple[str, int, Decimal]],
    due: datetime,
) -> Invoice:
    """A numbered invoice (no gaps per seller: the counter row is locked until the invoice is saved)."""
    seller = _seller()
    rate = tax_rate(profile.country)
    amounts = [(d, q, u, line_amount(q, u)) for d, q, u in lines]
    subtotal = sum((a for *_, a in amounts), Decimal("0.00"))
    tax = tax_on(subtotal, rate)
    with transaction.atomic():
        counter, _ = Counter.objects.select_for_update().get_or_create(seller=seller["code"])
        counter.last += 1
        counter.save(update_fields=["last"])
        invoice = Invoice.objects.create(
            account=profile.account,
            seller=seller["code"],
            number=counter.last,
            plan=plan,
            period_start=start,
            period_end=end,
            issued_at=clock.now(),
            due_at=due,
            currency=profile.currency,
            subtotal=subtotal,
            tax_rate=rate,
            tax=tax,
            total=subtotal + tax,
            billed_to=_billed_to(profile),
            seller_details=seller,
        )
        InvoiceLine.objects.bulk_create(
            InvoiceLine(invoice=invoice, description=d, quantity=q, unit_price=u, amount=a)
            for d, q, u, a in amounts
        )
        record(
            profile.account,
            Activity.SETTINGS_CHANGED,
            f"Invoice {invoice.reference} issued",
            service="Billing",
        )
    return invoice


def _usage_lines(
    profile: Profile, plan: str, start: datetime, end: datetime
) -> list[tuple[str, int, Decimal]]:
    unit = price(profile.currency, plan)
    return [
        (f"{u.task_name or f'Task {u.task_id}'} ({u.service.title()}): backed-up users", u.users, unit)
        for u in usage(profile.account, start, end)
        if u.users > 0
    ]


def _annual_invoice(profile: Profile, start: datetime, now: datetime) -> Invoice | None:
    end = add_months(start, 12)
    # The current number of users: those backed up in the last 30 days.
    lines = _usage_lines(profile, Profile.Plan.ANNUAL, now - timedelta(days=30), now + timedelta(seconds=1))
    if not lines:
        lines = [("Backed-up users (none yet)", 0, price(profile.currency, Profile.Plan.ANNUAL))]
    with transaction.atomic():
        locked = Profile.objects.select_for_update().get(pk=profile.pk)
        if locked.billed_until is not None and locked.billed_until >= end:
            return None  # issued by another worker
        invoice = issue(
            locked,
            plan=Profile.Plan.ANNUAL,
            start=start,
            end=end,
            lines=lines,
            due=max(start, now) + PAYMENT_TERMS,
        )
        locked.billed_until = end
        locked.save(update_fields=["billed_until"])
        mail.on_commit_invoice(invoice)
    return invoice


def _charge(invoice: Invoice) -> None:
    """Charge the active card (outside any transaction), then record the outcome."""
    profile = profile_for(invoice.account)
    if invoice.total == 0:
        _settle(invoice, paid=True, method="none", reference="")
        return
    if not (gateway.enabled() and profile.stripe_customer and profile.stripe_card):
        _settle(invoice, paid=False, reason="No active card: add a card to pay this invoice.")
        return
    try:
        intent = gateway.charge(
            profile.stripe_customer,
            profile.stripe_card,
            cents(invoice.total),
            invoice.currency,
            invoice.reference,
        )
    except gateway.PaymentError as exc:
        _settle(invoice, paid=False, reason=str(exc))
        return
    _settle(invoice, paid=True, method="card", reference=intent)


def _settle(invoice: Invoice, *, paid: bool, method: str = "", reference: str = "", reason: str = "") -> None:
    now = clock.now()
    with transaction.atomic():
        invoice = Invoice.objects.select_for_update().get(pk=invoice.pk)
        if invoice.status == Invoice.Status.PAID:
            return  # a late or replayed failure never undoes a payment
        profile = Profile.objects.select_for_update().get(account=invoice.account)
        if paid:
            invoice.status, invoice.paid_at = Invoice.Status.PAID, now
            invoice.payment_method, invoice.payment_reference, invoice.failure = method, reference, ""
            invoice.save()
            if (
                not invoice.account.invoices.filter(status__in=[Invoice.Status.FAILED, Invoice.Status.OPEN])
                .filter(due_at__lte=now)
                .exists()
            ):
                profile.state, profile.state_since, profile.read_only_since = Profile.State.OK, now, None
                profile.save(update_fields=["state", "state_since", "read_only_since"])
            record(
                invoice.account,
                Activity.SETTINGS_CHANGED,
                f"Invoice {invoice.reference} paid ({method})",
                service="Billing",
            )
            mail.on_commit_receipt(invoice)
        else:
            invoice.status, invoice.failure = Invoice.Status.FAILED, reason[:300]
            invoice.save(update_fields=["status", "failure"])
            if profile.state != Profile.State.FAILED:
                profile.state, profile.state_since = Profile.State.FAILED, now
                profile.save(update_fields=["state", "state_since"])
            record(
                invoice.account,
                Activity.SETTINGS_CHANGED,
                f"Payment of {invoice.reference} failed: {reason}",
                status=AuditEvent.Status.FAILED,
                service="Billing",
            )
            mail.on_commit_failed(invoice)


def retry(access: Access) -> list[str]:
    """Charge the failed invoices again (after the customer added a new card)."""
    _require(access)
    done = []
    for invoice in access.account.invoices.filter(status=Invoice.Status.FAILED):
        _charge(invoice)
        invoice.refresh_from_db()
        done.append(f"{invoice.reference}: {invoice.get_status_display()}")
    return done


def email_invoice(access: Access, invoice: Invoice) -> None:
    """ "E-mail me this invoice": to the member who asks, the PDF attached."""
    _require(access)
    mail.send_invoice_to(invoice, access.user.email)


def mark_paid(reference: str, *, method: str = "bank transfer") -> Invoice:
    """Operators: an invoice paid outside Stripe (bank transfer)."""
    match = re.fullmatch(r"([A-Za-z0-9]+)-(\d+)", (reference or "").strip())
    invoice = (
        Invoice.objects.filter(seller__iexact=match.group(1), number=int(match.group(2))).first()
        if match
        else None
    )
    if invoice is None:
        raise ServiceError(f"No invoice {reference!r}.")
    if invoice.status == Invoice.Status.PAID:
        raise ServiceError(f"{invoice.reference} is already paid.")
    _settle(invoice, paid=True, method=method)
    invoice.refresh_from_db()
    return invoice


# --- the daily pass -------------------------------------------------------------------------------------


def run_due() -> dict[str, int]:
    """Issue and charge what is due, remind, renew, and apply the read-only and removal rules, as of the
    clock's now. Safe to run often and from several workers: every step is claimed on a locked row."""
    now = clock.now()
    counts = {"monthly": 0, "annual": 0, "reminded": 0, "read_only": 0, "removal": 0}
    if not enabled():
        return counts
    for profile in Profile.objects.filter(plan=Profile.Plan.MONTHLY, starts_at__lte=now).select_related(
        "account"
    ):
        counts["monthly"] += _monthly(profile, now)
    for profile in Profile.objects.filter(plan=Profile.Plan.ANNUAL, starts_at__lte=now).select_related(
        "account"
    ):
        end = profile.billed_until
        if end is None:
            counts["annual"] += bool(_annual_invoice(profile, profile.starts_at or now, now))
        elif end - RENEWAL_NOTICE <= now:
            counts["annual"] += bool(_annual_invoice(profile, end, now))
    counts["reminded"] = _remind(now)
    counts["read_only"], counts["removal"] = _enforce(now)
    return counts


def _monthly(profile: Profile, now: datetime) -> int:
    issued = 0
    while True:
        with transaction.atomic():
            locked = Profile.objects.select_for_update().get(pk=profile.pk)
            start = locked.billed_until or locked.starts_at
            if start is None or locked.plan != Profile.Plan.MONTHLY:
                return issued
            end = add_months(start, 1)
            if end > now:
                return issued
            lines = _usage_lines(locked, Profile.Plan.MONTHLY, start, end)
            invoice = (
                issue(locked, plan=locked.plan, start=start, end=end, lines=lines, due=end) if lines else None
            )
            locked.billed_until = end
            locked.save(update_fields=["billed_until"])
        if invoice is not None:
            _charge(invoice)
            issued += 1


def _remind(now: datetime) -> int:
    reminded = 0
    overdue = Invoice.objects.filter(status__in=[Invoice.Status.OPEN, Invoice.Status.FAILED], due_at__lt=now)
    for invoice in overdue.select_related("account"):
        with transaction.atomic():
            locked = Invoice.objects.select_for_update().get(pk=invoice.pk)
            if locked.reminded_at is not None and locked.reminded_at > now - REMIND_EVERY:
                continue
            locked.reminded_at = now
            locked.save(update_fields=["reminded_at"])
            Profile.objects.filter(
                account=locked.account, state__in=[Profile.State.OK, Profile.State.DUE]
            ).update(state=Profile.State.OVERDUE, state_since=now)
            mail.on_commit_overdue(locked)
        reminded += 1
    return reminded


def _enforce(now: datetime) -> tuple[int, int]:
    """Read-only after the trial without a subscription, or unpaid for N days; removal a period later."""
    read_only = removal = 0
    grace = timedelta(days=settings.BOXVAULT_BILLING_READ_ONLY_AFTER_DAYS)
    for account in Account.objects.filter(removal_due_at__isnull=True).select_related("trial"):
        profile = profile_for(account)
        trial = getattr(account, "trial", None)
        unsubscribed = profile.plan == Profile.Plan.NONE and trial is not None and trial.ends_at <= now
        unpaid_since = (
            profile.state_since if profile.state in (Profile.State.FAILED, Profile.State.OVERDUE) else None
        )
        since = trial.ends_at if unsubscribed and trial else (unpaid_since + grace if unpaid_since else None)
        if since is None or since > now:
            continue
        if profile.read_only_since is None:
            with transaction.atomic():
                Profile.objects.filter(pk=profile.pk, read_only_since=None).update(read_only_since=now)
                record(
                    account,
                    Activity.SETTINGS_CHANGED,
                    "Account is read-only: no subscription or payment",
                    service="Billing",
                )
                mail.on_commit_read_only(account)
            read_only += 1
        elif profile.read_only_since + timedelta(days=settings.BOXVAULT_BILLING_REMOVE_AFTER_DAYS) <= now:
            with transaction.atomic():
                due = now + timedelta(days=settings.BOXVAULT_REMOVAL_GRACE_DAYS)
                Account.objects.filter(pk=account.pk, removal_due_at=None).update(
                    removal_requested_at=now, removal_due_at=due
                )
                record(
                    account,
                    Activity.ACCOUNT_REMOVAL,
                    f"Unpaid: account data will be deleted after {due:%Y-%m-%d}",
                    service="Billing",
                )
                mail.on_commit_removal(account, due)
            removal += 1
    return read_only, removal


def read_only(account: Account) -> bool:
    """No new backups (restore and export stay allowed) while billing has made the account read-only."""
    if not enabled():
        return False
    return Profile.objects.filter(account=account, read_only_since__isnull=False).exists()


# --- Stripe webhooks ------------------------------------------------------------------------------------


def handle_webhook(payload: bytes, signature: str) -> str:
    """Verified, idempotent (by event id) and order-safe (a payment is never undone by a late failure)."""
    event = gateway.event(payload, signature)
    if not isinstance(event.get("id"), str) or not isinstance(event.get("data"), dict):
        return "ignored"  # signed but not an event we understand
    with transaction.atomic():
        _, new = WebhookEvent.objects.get_or_create(
            event_id=str(event["id"]),
            defaults={
                "kind": str(event["type"]),
                "created": int(event.get("created") or 0),
                "received_at": clock.now(),
            },
        )
    if not new:
        return "duplicate"
    kind = str(event["type"])
    intent = event["data"].get("object")
    if not isinstance(intent, dict):
        return "ignored"
    invoice = Invoice.objects.filter(payment_reference=str(intent.get("id", ""))).first()
    if invoice is None and intent.get("metadata", {}).get("invoice"):
        invoice = _by_reference(str(intent["metadata"]["invoice"]))
    if invoice is None:
        return "ignored"
    if kind == "payment_intent.succeeded":
        _settle(invoice, paid=True, method="card", reference=str(intent.get("id", "")))
    elif kind == "payment_intent.payment_failed":
        error = intent.get("last_payment_error") or {}
        _settle(invoice, paid=False, reason=str(error.get("message") or "The card was declined."))
    return kind


def _by_reference(reference: str) -> Invoice | None:
    match = re.fullmatch(r"([A-Za-z0-9]+)-(\d+)", reference)
    if not match:
        return None
    return Invoice.objects.filter(seller__iexact=match.group(1), number=int(match.group(2))).first()


def reconcile() -> int:
    """Daily: ask Stripe about payments whose webhook may have been missed."""
    fixed = 0
    if not gateway.enabled():
        return fixed
    for invoice in Invoice.objects.filter(status__in=[Invoice.Status.OPEN, Invoice.Status.FAILED]).exclude(
        payment_reference=""
    ):
        try:
            status = gateway.intent_status(invoice.payment_reference)
        except gateway.PaymentError:
            continue
        if status == "succeeded":
            _settle(invoice, paid=True, method="card", reference=invoice.payment_reference)
            fixed += 1
    return fixed
