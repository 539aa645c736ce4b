"""The scheduler's periodic tasks run the pass and the pruning."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest


@pytest.mark.django_db
def test_periodic_task_runs_the_pass(smtp: Any, admin: Any) -> None:
    from huey.contrib.djhuey import HUEY

    from boxvault.accounts.access import for_user
    from boxvault.accounts.models import Account
    from boxvault.core import clock
    from boxvault.notifications import services
    from boxvault.notifications.tasks import prune_notifications, send_due_notifications

    periodic = {getattr(t, "__name__", "") for t in HUEY._registry._periodic_tasks}
    assert {"send_due_notifications", "prune_notifications"} <= periodic
    Account.objects.filter(pk=admin.account_id).update(created_at=datetime(2026, 1, 1, tzinfo=UTC))
    services.add_recipient(for_user(admin.user), email="ops@example.org", types=["summary"])
    with clock.frozen_at(datetime(2026, 3, 3, 7, 1, tzinfo=UTC)):
        send_due_notifications.call_local()
        send_due_notifications.call_local()
    assert [m["Subject"] for m in smtp.take()] == ["[boxvault] Backup report, 2026-03-02 to 2026-03-03"]
    with clock.frozen_at(datetime(2026, 3, 3, 7, 1, tzinfo=UTC) + timedelta(days=181)):
        prune_notifications.call_local()


@pytest.mark.django_db
def test_prune_keeps_recent_and_pending(admin: Any, make_task: Callable[..., Any]) -> None:
    from boxvault.core import clock
    from boxvault.notifications import outbox
    from boxvault.notifications.dispatch import prune
    from boxvault.notifications.models import Delivery, Event

    start = datetime(2026, 1, 1, tzinfo=UTC)
    with clock.frozen_at(start):
        sent = outbox.queue(admin.account, "exceptions", "exceptions:1", "old", {})
        waiting = outbox.queue(admin.account, "recovery", "job:1", "still trying", {})
        recent = outbox.queue(admin.account, "recovery", "job:2", "recent", {})
    assert sent and waiting and recent
    Delivery.objects.filter(pk=sent.pk).update(status="sent")
    Delivery.objects.filter(pk=recent.pk).update(status="sent", created_at=start + timedelta(days=170))
    Event.objects.create(account=admin.account, type="exceptions", created_at=start, delivery=sent)
    outcome = prune(start + timedelta(days=181))
    assert outcome["deliveries"] == 1 and outcome["events"] == 1
    assert set(Delivery.objects.values_list("key", flat=True)) == {"job:1", "job:2"}
    assert not Event.objects.exists()
