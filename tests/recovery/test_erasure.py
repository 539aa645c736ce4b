"""GDPR erasure, end to end: a file held by 30 daily snapshots is erased through the API and its job; stock
restic then finds it nowhere, every blob of every pack (decrypted) and every byte on disk lacks its content
and name, search finds nothing, the zip export lost it, the rest restores byte-identically, and the receipt
(JSON and PDF) lists all 30 rewritten snapshots."""

from __future__ import annotations

import filecmp
import json
import os
import shutil
import subprocess
import zipfile
from pathlib import Path
from typing import Any

import pytest

from recovery.fixtures import back_up, find, upload
from support import require_binary

SECRET_NAME = "erase-me-7f3a9c.txt"
DAYS = 30
needs_restic = pytest.mark.skipif(
    shutil.which("restic") is None and not os.environ.get("BOXVAULT_TEST_REQUIRE_SERVICES"),
    reason="restic is not installed",
)


def _restic(task: Any, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    from boxvault.backups import repository

    env = {**os.environ, "RESTIC_PASSWORD": repository.password(task), "RESTIC_CACHE_DIR": os.devnull}
    return subprocess.run(
        ["restic", "-r", task.repository, "--no-cache", *args],
        env=env, capture_output=True, text=True, check=check, timeout=300,
    )  # fmt: skip


def _restore(task: Any, snapshot_id: str, target: Path) -> Path:
    _restic(task, "restore", snapshot_id, "--target", str(target))
    return target


def _tree_files(root: Path) -> dict[str, Path]:
    return {str(p.relative_to(root)): p for p in root.rglob("*") if p.is_file()}


def _all_plaintext_blobs(task: Any) -> list[bytes]:
    """Every blob of every pack file, decrypted (pack headers read by the engine, not the index)."""
    from boxvault.backups.repository import open_repository
    from boxvault.engine.maint_io import list_ids, read_blob
    from boxvault.engine.repair import _read_pack_header

    out = []
    with open_repository(task) as repo:
        for pack_id, size in list(list_ids(repo, "data")):
            for rec in _read_pack_header(repo, pack_id, size):
                out.append(read_blob(repo, rec))
    return out


def _jobs_run(job_id: int) -> str | None:
    from boxvault.jobs import services as jobs

    return jobs.run(job_id)


@needs_restic
@pytest.mark.django_db(transaction=True)
def test_erase_a_file_from_30_daily_snapshots(client: Any, admin: Any, sandbox: Any, tmp_path: Path) -> None:
    from boxvault.backups.models import CatalogVersion
    from boxvault.jobs.models import Job
    from boxvault.recovery.models import Erasure
    from boxvault.security.models import AuditEvent

    secret = os.urandom(40_000) + b"unique-erasure-marker-5d1e"

    def prepare(user_client: Any, _other: Any) -> None:
        upload(user_client, str(find(user_client, "Proj").id), SECRET_NAME, secret)

    # one run a day for 30 days (the runs follow each other here; each is a snapshot of its own)
    backed = back_up(client, admin, sandbox, prepare)
    task, uid = backed.task, backed.user["box_user_id"]
    for _day in range(1, DAYS):
        started = client.post(
            f"/api/v1/tasks/{task.pk}/users/actions/",
            {"action": "backup_now", "box_user_ids": [uid]},
            content_type="application/json",
        ).json()
        assert _jobs_run(started["jobs"][0]["id"]) == "succeeded"
    before = json.loads(_restic(task, "snapshots", "--json", "--tag", f"user:{uid}").stdout)
    assert len(before) == DAYS
    old_ids = {s["id"] for s in before}
    secret_path = f"{backed.proj}/{SECRET_NAME}"
    found = json.loads(_restic(task, "find", "--json", SECRET_NAME).stdout)
    assert sum(len(f.get("matches") or []) for f in found) == DAYS  # the test can fail: it is there now
    probe, name = secret[1000:1064], SECRET_NAME.encode()
    blobs = _all_plaintext_blobs(task)
    assert any(probe in b for b in blobs) and any(name in b for b in blobs)  # the byte search works
    search_url = f"/api/v1/tasks/{task.pk}/search/?q=erase-me-7f3a9c"
    assert client.get(search_url).json()["results"], "search must find it before the erasure"

    # a zip export of Proj that holds it
    export = client.post(
        "/api/v1/exports/",
        {"snapshot": backed.snapshot, "paths": [backed.proj], "target": {"kind": "zip"}},
        content_type="application/json",
    ).json()
    assert _jobs_run(export["id"]) == "succeeded"
    zip_name = Job.objects.get(pk=export["id"]).result["file"]

    # what every other file looks like before: the first and the last snapshot, restored by restic
    first, last = before[0]["id"], before[-1]["id"]
    was_first = _restore(task, first, tmp_path / "before-first")
    was_last = _restore(task, last, tmp_path / "before-last")

    # ---- the erasure
    response = client.post(
        "/api/v1/erasures/",
        {"task": task.pk, "box_user_id": uid, "paths": [secret_path], "reason": "data subject request #42"},
        content_type="application/json",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["status"] == "requested" and body["job"]["kind"] == "erasure"
    assert client.get(f"/api/v1/erasures/{body['id']}/receipt/").status_code == 409  # not yet
    assert _jobs_run(body["job"]["id"]) == "succeeded"
    done = client.get(f"/api/v1/erasures/{body['id']}/").json()
    assert done["status"] == "completed", done

    # no snapshot lists it (stock restic over every snapshot), and there are still 30 of them
    after = json.loads(_restic(task, "snapshots", "--json", "--tag", f"user:{uid}").stdout)
    assert len(after) == DAYS
    assert not {s["id"] for s in after} & old_ids
    found = json.loads(_restic(task, "find", "--json", SECRET_NAME).stdout)
    assert not any(f.get("matches") for f in found)

    # neither content nor name in any decrypted blob (engine, every pack's header) ...
    blobs = _all_plaintext_blobs(task)
    assert blobs and not any(probe in b or name in b for b in blobs)
    # ... nor in any blob restic lists and decrypts itself ...
    listed = _restic(task, "list", "blobs").stdout.split()
    for kind, blob_id in zip(listed[::2], listed[1::2], strict=True):
        data = subprocess.run(
            ["restic", "-r", task.repository, "--no-cache", "cat", "blob", blob_id],
            env={**os.environ, "RESTIC_PASSWORD": _password(task)}, capture_output=True, check=True,
        ).stdout  # fmt: skip
        assert probe not in data and name not in data, (kind, blob_id)
    # ... nor raw anywhere on disk in the repository
    for path in Path(task.repository).rglob("*"):
        if path.is_file():
            raw = path.read_bytes()
            assert probe not in raw and name not in raw, path

    # the catalog and the search index have forgotten it
    assert not CatalogVersion.objects.filter(task=task, name=SECRET_NAME).exists()
    results = client.get(search_url).json()["results"]
    assert results == []

    # the zip export no longer holds it (nor its manifest line); the rest of it is still there
    from boxvault.recovery.handlers import exports_dir

    with zipfile.ZipFile(exports_dir() / zip_name) as z:
        names = z.namelist()
        manifest = z.read(".boxvault-manifest.json")
    assert not any(SECRET_NAME in n for n in names) and SECRET_NAME.encode() not in manifest
    assert "Proj/b.bin" in names

    # restic is content, and everything else restores byte-identically
    check = _restic(task, "check", "--read-data", check=False)
    assert check.returncode == 0, check.stdout + check.stderr
    new_by_time = {s["time"]: s["id"] for s in after}
    now_first = _restore(task, new_by_time[before[0]["time"]], tmp_path / "after-first")
    now_last = _restore(task, new_by_time[before[-1]["time"]], tmp_path / "after-last")
    for was, now in ((was_first, now_first), (was_last, now_last)):
        expected = {k: v for k, v in _tree_files(was).items() if not k.endswith(SECRET_NAME)}
        got = _tree_files(now)
        assert set(got) == set(expected) and len(expected) >= 6
        for rel, path in expected.items():
            assert filecmp.cmp(path, got[rel], shallow=False), rel

    # the receipt: all 30 snapshots old -> new, JSON and PDF
    receipt = client.get(f"/api/v1/erasures/{body['id']}/receipt/").json()
    rewritten = receipt["snapshots_rewritten"]
    assert {r["old"] for r in rewritten} == old_ids
    assert {r["new"] for r in rewritten} == {s["id"] for s in after}
    assert receipt["requested"] == {
        "paths": [secret_path], "whole_user": False, "reason": "data subject request #42",
        "by": admin.user.email, "at": receipt["requested"]["at"],
    }  # fmt: skip
    assert receipt["storage"]["bytes_removed"] > len(secret) // 2 and receipt["bytes_left_storage_at"]
    assert receipt["zip_exports_cleaned"] == 1
    pdf = client.get(f"/api/v1/erasures/{body['id']}/receipt/?format=pdf")
    assert pdf.status_code == 200 and pdf["Content-Type"] == "application/pdf"
    text = _pdftotext(pdf.content, tmp_path)
    assert "data subject request #42" in text and secret_path in text
    for old in old_ids:
        assert old[:32] in text, old

    # audit row, System Activity row; the receipt outlives the job row
    assert AuditEvent.objects.filter(activity=AuditEvent.Activity.ERASURE, account=task.account).count() == 1
    from boxvault.activity.models import ActivityEvent

    assert ActivityEvent.objects.filter(job_id=body["job"]["id"], status="succeeded").exists()
    Job.objects.filter(pk=body["job"]["id"]).delete()
    assert Erasure.objects.get(pk=body["id"]).receipt["erasure_id"] == body["id"]
    assert client.get(f"/api/v1/erasures/{body['id']}/receipt/").status_code == 200


def _password(task: Any) -> str:
    from boxvault.backups import repository

    return repository.password(task)


def _pdftotext(data: bytes, tmp: Path) -> str:
    source = tmp / "receipt.pdf"
    source.write_bytes(data)
    pdftotext = require_binary("pdftotext")  # poppler-utils
    return subprocess.run(
        [pdftotext, "-layout", str(source), "-"], capture_output=True, text=True, check=True
    ).stdout
