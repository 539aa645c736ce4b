"""The task settings form's numbers: limits the browser knows and messages people can read."""

from __future__ import annotations

from typing import Any

import pytest

from portal.fixtures import login

BODY = {"name": "Renamed", "frequency": "weekly", "hour_utc": "5", "archived_retention_days": "30"}


def test_the_browser_knows_the_limits(client: Any, admin: Any, make_task: Any) -> None:
    task = make_task(users=0)
    login(client, admin.user)
    page = client.get(f"/tasks/{task.pk}/").content.decode()
    field = next(line for line in page.split("<input") if 'name="archived_retention_days"' in line)
    assert 'min="1"' in field and 'max="3650"' in field


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("0", "greater than or equal to 1"),
        ("99999999999999999999999", "less than or equal to 3650"),
        ("-5", "greater than or equal to 1"),
    ],
)
def test_bad_retention_is_a_readable_message(
    client: Any, admin: Any, make_task: Any, value: str, message: str
) -> None:
    from boxvault.backups.models import Task

    task = make_task(users=0)
    login(client, admin.user)
    response = client.post(f"/tasks/{task.pk}/", {**BODY, "archived_retention_days": value})
    text = response.content.decode()
    assert response.status_code == 200 and message in text
    assert "9223372036854775807" not in text and "archived_retention_days" not in text.split("<form")[0]
    assert Task.objects.get(pk=task.pk).archived_retention_days == 90
