"""Money arithmetic: Decimal only, rounded half-up to the cent per line; tax is computed on the subtotal once.

Rounding rule (docs/operations.md): each line's amount = quantity x unit price, rounded to the cent; the
subtotal is the sum of the rounded lines; tax = subtotal x rate / 100, rounded to the cent;
total = subtotal + tax.
"""

from __future__ import annotations

import calendar
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

CENT = Decimal("0.01")


def money(value: object) -> Decimal:
    try:
        amount = Decimal(str(value))
    except InvalidOperation as exc:
        raise ValueError(f"not an amount: {value!r}") from exc
    if not amount.is_finite() or amount < 0:
        raise ValueError(f"not an amount: {value!r}")
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


def line_amount(quantity: int, unit_price: Decimal) -> Decimal:
    return (Decimal(quantity) * unit_price).quantize(CENT, rounding=ROUND_HALF_UP)


def tax_on(subtotal: Decimal, rate_percent: Decimal) -> Decimal:
    return (subtotal * rate_percent / Decimal(100)).quantize(CENT, rounding=ROUND_HALF_UP)


def cents(amount: Decimal) -> int:
    """Stripe's smallest unit (two-decimal currencies)."""
    return int((amount * 100).to_integral_value(rounding=ROUND_HALF_UP))


def add_months(moment: datetime, months: int) -> datetime:
    """The same day `months` later, clamped to the month's last day (Jan 31 + 1 month = Feb 28/29)."""
    index = moment.month - 1 + months
    year, month = moment.year + index // 12, index % 12 + 1
    day = min(moment.day, calendar.monthrange(year, month)[1])
    return moment.replace(year=year, month=month, day=day)
