"""Read-side figures of the Billing page and API: status, amount due, next payment and the forecast."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from boxvault.billing.metering import usage
from boxvault.billing.models import Invoice, Profile
from boxvault.billing.money import add_months, line_amount
from boxvault.billing.services import price, profile_for


def forecast(profile: Profile, now: datetime) -> dict[str, Any]:
    """The next payment as it stands: per task, its users so far this period and what they cost."""
    plan = profile.plan if profile.plan != Profile.Plan.NONE else Profile.Plan.MONTHLY
    start = profile.billed_until or profile.starts_at or now
    if start > now:  # still in the trial: what the users of the last month would cost
        start = add_months(now, -1)
    end = add_months(start, 12 if plan == Profile.Plan.ANNUAL else 1)
    try:
        unit = price(profile.currency, plan)
    except ValueError:
        unit = Decimal("0.00")
    rows = [
        {
            "service": u.service.title(),
            "task": u.task_name or f"Task {u.task_id}",
            "quantity": u.users,
            "billable": u.users,
            "unit_price": str(unit),
            "total": str(line_amount(u.users, unit)),
        }
        for u in usage(profile.account, start, min(end, now))
    ]
    total = sum((Decimal(r["total"]) for r in rows), Decimal("0.00"))
    return {"plan": plan, "period_end": end, "currency": profile.currency, "rows": rows, "total": str(total)}


def status(account: Any, now: datetime) -> dict[str, Any]:
    profile = profile_for(account)
    unpaid = account.invoices.filter(status__in=[Invoice.Status.OPEN, Invoice.Status.FAILED])
    due = sum((i.total for i in unpaid), Decimal("0.00"))
    trial = getattr(account, "trial", None)
    next_payment = profile.billed_until or profile.starts_at
    if profile.plan == Profile.Plan.MONTHLY and next_payment is not None and profile.billed_until is not None:
        next_payment = add_months(profile.billed_until, 1)
    return {
        "plan": profile.plan,
        "state": profile.state,
        "state_label": profile.get_state_display(),
        "read_only": profile.read_only_since is not None,
        "trial_ends_at": trial.ends_at if trial else None,
        "amount_due": str(due),
        "currency": profile.currency,
        "next_payment_at": next_payment,
        "overdue": [i.reference for i in unpaid if i.due_at < now],
        "forecast": forecast(profile, now),
    }
