"""Cancel in the middle of a real backup: the job ends Canceled within seconds, the repository stays valid."""

from __future__ import annotations

import os
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from support import require_binary, wait_for


@pytest.mark.django_db(transaction=True)
def test_cancel_a_running_backup(admin: Any, client: Any, tmp_path: Path) -> None:
    require_binary("restic")
    from django.db import connection

    from boxvault.accounts.access import for_user
    from boxvault.backups import repository, services
    from boxvault.backups.models import TaskUser
    from boxvault.jobs import services as jobs
    from boxvault.jobs.models import Job
    from support.sandbox import running_sandbox

    if connection.vendor == "sqlite":
        pytest.skip("in-memory SQLite test databases lock per table across threads; PostgreSQL runs this")
    access = for_user(admin.user)
    with running_sandbox(tmp_path, users=1, files_per_user=400, seed=3) as sandbox:
        task = services.create_ccg_task(
            access,
            name="Cancel me",
            client_id=sandbox.client_id,
            client_secret=sandbox.client_secret,
            enterprise_id=sandbox.enterprise_id,
            api_url=sandbox.url,
        )
        user = sandbox.users[0]["id"]
        services.user_action(access, task, "activate", [user])
        sandbox.set_faults(latency_ms=40)  # slow enough to be caught in the middle
        services.user_action(access, task, "backup_now", [user])
        job = Job.objects.get(task_id=task.pk)
        result: list[Any] = []

        def work() -> None:
            try:
                result.append(jobs.run(job.pk))
            finally:
                connection.close()

        worker = threading.Thread(target=work)
        worker.start()
        wait_for(
            lambda: Job.objects.get(pk=job.pk).items_done >= 20, timeout=60, what="the backup to get going"
        )
        # the card shows where the run is (the user and the folder) while it goes
        login_ = sandbox.users[0]["login"]
        assert Job.objects.get(pk=job.pk).message.startswith(f"{login_}: /")
        from portal.fixtures import login

        login(client, admin.user)
        card = client.get(f"/jobs/{job.pk}/card/", HTTP_HX_REQUEST="true").content.decode()
        assert f"{login_}: /" in card
        started = time.monotonic()
        jobs.cancel(access, Job.objects.get(pk=job.pk))
        worker.join(timeout=30)
        elapsed = time.monotonic() - started
        sandbox.clear_faults()
    assert result == ["canceled"] and elapsed < 5, (result, elapsed)
    job.refresh_from_db()
    assert job.status == "canceled" and job.items_done < 400
    row = TaskUser.objects.get(task=task, box_user_id=user)
    assert row.status == "active" and row.last_backup_at is None
    check = subprocess.run(
        ["restic", "-r", task.repository, "--no-cache", "check", "--read-data"],
        env={**os.environ, "RESTIC_PASSWORD": repository.password(task)}, capture_output=True, text=True,
    )  # fmt: skip
    assert check.returncode == 0, check.stdout + check.stderr
