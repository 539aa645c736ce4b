"""Recovery pages show people readable times and short snapshot ids, not ISO strings and 64 hex digits."""

from __future__ import annotations

import re
from typing import Any

import pytest

from recovery.fixtures import back_up


@pytest.mark.django_db(transaction=True)
def test_snapshot_list_and_tree_are_readable(client: Any, admin: Any, sandbox: Any) -> None:
    backed = back_up(client, admin, sandbox)
    task, user = backed.task.pk, backed.user["box_user_id"]
    full_id = backed.snapshot.split(":", 1)[1]
    for path in (f"/recovery/tasks/{task}/users/{user}/", f"/recovery/snapshots/{backed.snapshot}/"):
        html = client.get(path).content.decode()
        visible = re.sub(r"<[^>]+>", " ", html)  # text only: links and data attributes may carry the ref
        assert not re.search(r"\d{4}-\d\d-\d\dT\d\d:\d\d", visible), path
        assert len(full_id) == 64 and full_id not in visible, path
        assert re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d", visible), path
