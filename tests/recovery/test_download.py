"""Zip export: the job, the e-mail with its link, Download Results, expiry on a fake clock, tampering."""

from __future__ import annotations

import io
import json
import zipfile
from datetime import timedelta
from typing import Any

import pytest

from recovery.fixtures import CONTENT, back_up, sha1


@pytest.mark.django_db(transaction=True)
def test_zip_download_byte_identical_with_signed_link(
    client: Any, admin: Any, sandbox: Any, mailoutbox: Any
) -> None:
    from boxvault.core import clock
    from boxvault.jobs import services as jobs
    from boxvault.jobs.models import Job

    backed = back_up(client, admin, sandbox)
    response = client.post(
        "/api/v1/exports/",
        {"snapshot": backed.snapshot, "paths": [backed.proj], "target": {"kind": "zip"}},
        content_type="application/json",
    )
    assert response.status_code == 201, response.content
    job_id = response.json()["id"]
    assert jobs.run(job_id) == "succeeded"
    job = Job.objects.get(pk=job_id)
    url = job.result["download_url"]
    assert job.result["files"] == len(CONTENT) and job.result["failed"] == 0

    # the e-mail: summary and the link
    mails = [m for m in mailoutbox if "Export" in m.subject]
    assert len(mails) == 1 and mails[0].to == [admin.user.email]
    assert url in mails[0].body and f"Items: {job.result['items']}" in mails[0].body
    # a finished export no longer says it is exporting, on the card or in the e-mail
    assert "exporting" not in job.message and "exporting" not in mails[0].body
    assert job.message == f"Exported {job.result['items']} item(s) into a zip file"

    # the job card offers Download Results; the API shows the same URL
    assert url.encode() in client.get("/jobs/").content
    assert client.get(f"/api/v1/jobs/{job_id}/").json()["result"]["download_url"] == url

    download = client.get(url)
    assert download.status_code == 200 and download["Content-Disposition"].startswith("attachment")
    data = b"".join(download.streaming_content)
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        for rel, content in CONTENT.items():
            assert archive.read(f"Proj/{rel}") == content, rel
        manifest = json.loads(archive.read(".boxvault-manifest.json"))
        assert "Proj/Sub/" in archive.namelist()
    assert manifest["snapshot"] == backed.snapshot
    by_path = {f["path"]: f for f in manifest["files"]}
    assert set(by_path) == {f"Proj/{rel}" for rel in CONTENT}
    for rel, content in CONTENT.items():
        row = by_path[f"Proj/{rel}"]
        assert row["size"] == len(content) and row["sha1"] == sha1(content) and row["box_id"]

    # a tampered link is refused with a clear page
    token = url.rstrip("/").rsplit("/", 1)[1]
    bad = url.replace(token, token[:-3] + ("AAA" if not token.endswith("AAA") else "BBB"))
    refused = client.get(bad)
    assert refused.status_code == 410 and b"not valid" in refused.content
    # expired after 72 hours (fake clock), still valid just before
    with clock.frozen_at(clock.now() + timedelta(hours=71)):
        assert client.get(url).status_code == 200
    with clock.frozen_at(clock.now() + timedelta(hours=73)):
        expired = client.get(url)
    assert expired.status_code == 410 and b"expired" in expired.content
    # signed out: the link alone is not enough
    client.logout()
    assert client.get(url).status_code == 302
    # a script with an API token fetches it, through the same permission checks
    from boxvault.accounts.access import for_user
    from boxvault.accounts.services import add_member
    from boxvault.api.tokens import create_token
    from portal.fixtures import PASSWORD

    _, key = create_token(admin.user, "script")
    by_token = client.get(url, HTTP_AUTHORIZATION=f"Token {key}")
    assert by_token.status_code == 200 and b"".join(by_token.streaming_content) == data
    assert client.get(url, HTTP_AUTHORIZATION="Token bvt_not-a-key").status_code == 401
    viewer = add_member(for_user(admin.user), email="viewer@a.example", password=PASSWORD, services=["box"])
    _, viewer_key = create_token(viewer.user, "script")
    assert client.get(url, HTTP_AUTHORIZATION=f"Token {viewer_key}").status_code == 403  # no EXPORT


@pytest.mark.django_db(transaction=True)
def test_zip_link_refused_for_another_tenant(client: Any, admin: Any, outsider: Any, sandbox: Any) -> None:
    from boxvault.jobs import services as jobs
    from boxvault.jobs.models import Job
    from portal.fixtures import login

    backed = back_up(client, admin, sandbox)
    job_id = client.post(
        "/api/v1/exports/",
        {"snapshot": backed.snapshot, "paths": [f"{backed.proj}/a.txt"], "target": {"kind": "zip"}},
        content_type="application/json",
    ).json()["id"]
    assert jobs.run(job_id) == "succeeded"
    url = Job.objects.get(pk=job_id).result["download_url"]
    login(client, outsider.user)
    assert client.get(url).status_code == 404


def test_expired_zip_files_are_purged() -> None:
    import os
    import time

    from boxvault.recovery.handlers import exports_dir, purge_expired_exports

    old, fresh = exports_dir() / "old.zip", exports_dir() / "fresh.zip"
    old.write_bytes(b"x")
    fresh.write_bytes(b"y")
    stale = time.time() - 80 * 3600
    os.utime(old, (stale, stale))
    assert purge_expired_exports() == 1
    assert not old.exists() and fresh.exists()
