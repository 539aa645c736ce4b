"""Report periods: a report is due at `hour_utc` every day, every Monday or on the 1st of every month, and
covers the time since the previous such moment. Every scheduler computes the same moments, so the moment
itself (the period's end) is the report's key."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

DAILY, WEEKLY, MONTHLY = "daily", "weekly", "monthly"


def latest_slot(frequency: str, hour_utc: int, now: datetime) -> datetime:
    """The most recent report moment at or before `now`."""
    now = now.astimezone(UTC)
    today = datetime.combine(now.date(), time(hour_utc), tzinfo=UTC)
    if frequency == DAILY:
        return today if today <= now else today - timedelta(days=1)
    if frequency == WEEKLY:
        monday = today - timedelta(days=now.weekday())
        return monday if monday <= now else monday - timedelta(days=7)
    if frequency == MONTHLY:
        first = today.replace(day=1)
        return first if first <= now else previous_slot(MONTHLY, first)
    raise ValueError(f"unknown frequency {frequency!r}")


def previous_slot(frequency: str, slot: datetime) -> datetime:
    if frequency == DAILY:
        return slot - timedelta(days=1)
    if frequency == WEEKLY:
        return slot - timedelta(days=7)
    if frequency == MONTHLY:
        return (slot.replace(day=1) - timedelta(days=1)).replace(day=1)
    raise ValueError(f"unknown frequency {frequency!r}")
