"""A summary report rendered without sending or claiming anything (CLI `notifications preview`)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from boxvault.notifications import outbox, periods
from boxvault.notifications.dispatch import SUBJECTS, summary_for
from boxvault.notifications.models import Delivery
from boxvault.notifications.services import settings_for


def render_preview(account: Any, now: datetime, *, name: str = "") -> tuple[str, str, str]:
    conf = settings_for(account)
    end = periods.latest_slot(conf.frequency, conf.hour_utc, now)
    start = periods.previous_slot(conf.frequency, end)
    report = summary_for(account, conf, start, end)
    unsaved = Delivery(
        account=account,
        type="summary",
        key="preview",
        subject=f"{SUBJECTS[conf.report_format]}, {start:%Y-%m-%d} to {end:%Y-%m-%d} (preview)",
        context={**report["context"], "attach_csv": True},
        period_start=start,
        period_end=end,
        created_at=now,
    )
    text, html = outbox.render(unsaved, name=name)
    return text, html, report["csv"]
