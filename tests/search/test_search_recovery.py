"""Search → recover, end to end: a backed-up sandbox user's file found by item search, downloaded as a zip."""

from __future__ import annotations

import zipfile
from typing import Any

import pytest

from recovery.fixtures import CONTENT, back_up


@pytest.mark.django_db(transaction=True)
def test_item_found_by_author_and_name_downloads_byte_identical(
    client: Any, admin: Any, sandbox: Any
) -> None:
    from boxvault.jobs import services as jobs
    from boxvault.jobs.models import Job
    from boxvault.recovery.handlers import exports_dir

    backed = back_up(client, admin, sandbox)
    url = f"/api/v1/tasks/{backed.task.pk}/search/"
    login = backed.user["login"]
    by_author = client.get(url, {"author": login, "box_user_id": backed.user["box_user_id"]}).json()
    assert {r["path"] for r in by_author["results"]} >= {f"Proj/{rel}" for rel in CONTENT}
    found = client.get(url, {"q": '"c txt"', "author": login.split("@")[0]}).json()["results"]
    assert [r["path"] for r in found] == ["Proj/Sub/c.txt"]
    item = found[0]
    assert item["snapshot"] == backed.snapshot and item["valid_until"] is None
    assert item["size"] == len(CONTENT["Sub/c.txt"]) and item["type"] == "file"

    response = client.post(
        "/api/v1/exports/",
        {"snapshot": item["snapshot"], "paths": [item["path"]], "target": {"kind": "zip"}},
        content_type="application/json",
    )
    assert response.status_code == 201, response.content
    job_id = response.json()["id"]
    assert jobs.run(job_id) == "succeeded"
    job = Job.objects.get(pk=job_id)
    with zipfile.ZipFile(exports_dir() / job.result["file"]) as archive:
        files = [n for n in archive.namelist() if not n.endswith("/") and not n.startswith(".boxvault")]
        assert [n.rsplit("/", 1)[-1] for n in files] == ["c.txt"]
        assert archive.read(files[0]) == CONTENT["Sub/c.txt"]
