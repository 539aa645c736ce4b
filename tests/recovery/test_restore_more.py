"""Restore details: big files through chunked upload, collaborations and metadata reapplied, partial
success with each item's outcome in the log, cancellation between items."""

from __future__ import annotations

import hashlib
import io
import random
from typing import Any

import pytest

from recovery.fixtures import back_up, find, upload

BIG = random.Random(7).randbytes(21 * 2**20)  # above the 20 MiB chunked-upload threshold


def _prepare(sdk: Any, other: dict[str, str]) -> None:
    from box_sdk_gen.managers.file_metadata import CreateFileMetadataByIdScope
    from box_sdk_gen.managers.folders import CreateFolderParent
    from box_sdk_gen.managers.user_collaborations import (
        CreateCollaborationAccessibleBy,
        CreateCollaborationAccessibleByTypeField,
        CreateCollaborationItem,
        CreateCollaborationItemTypeField,
        CreateCollaborationRole,
    )

    team = sdk.folders.create_folder("Team", CreateFolderParent(id="0"))
    sdk.user_collaborations.create_collaboration(
        CreateCollaborationItem(type=CreateCollaborationItemTypeField.FOLDER, id=str(team.id)),
        CreateCollaborationAccessibleBy(
            type=CreateCollaborationAccessibleByTypeField.USER, id=other["box_user_id"]
        ),
        CreateCollaborationRole.EDITOR,
    )
    tagged = upload(sdk, str(team.id), "tagged.txt", b"with metadata")
    sdk.file_metadata.create_file_metadata_by_id(
        tagged, CreateFileMetadataByIdScope.GLOBAL, "properties", {"project": "apollo"}
    )
    big = sdk.chunked_uploads.upload_big_file(io.BytesIO(BIG), "big.bin", len(BIG), str(team.id))
    assert big.id


@pytest.mark.django_db(transaction=True)
def test_big_file_collaborations_metadata_partial_and_cancel(client: Any, admin: Any, sandbox: Any) -> None:
    from boxvault.jobs import services as jobs
    from boxvault.jobs.models import Job

    backed = back_up(client, admin, sandbox, prepare=_prepare)
    sdk = backed.client
    sdk.folders.delete_folder_by_id(str(find(sdk, "Team").id), recursive=True)
    # a file now sits where the backup has the folder Proj/Sub: that part cannot come back in place
    sub = find(sdk, "Proj/Sub")
    sdk.folders.delete_folder_by_id(str(sub.id), recursive=True)
    upload(sdk, str(find(sdk, "Proj").id), "Sub", b"in the way")

    response = client.post(
        "/api/v1/restores/",
        {
            "snapshot": backed.snapshot,
            "paths": [f"/{backed.user['login']}/Team", backed.proj],
            "mode": "bypass",
            "collaborations": True,
            "metadata": True,
        },
        content_type="application/json",
    )
    assert response.status_code == 201, response.content
    job_id = response.json()["id"]
    assert jobs.run(job_id) == "partially_succeeded"
    job = Job.objects.get(pk=job_id)
    log = list(job.log.values_list("message", flat=True))
    assert any(line.startswith("failed: Proj/Sub:") and "in the way" in line for line in log), log
    assert any(line.startswith("created: Team/big.bin") for line in log)
    assert any(line.startswith("skipped: Proj/a.txt") for line in log)
    assert job.result["failed"] >= 1 and job.items_failed == job.result["failed"]

    team = find(sdk, "Team")
    big = sdk.files.get_file_by_id(str(find(sdk, "Team/big.bin").id), fields=["sha1", "size"])
    assert big.sha_1 == hashlib.sha1(BIG, usedforsecurity=False).hexdigest() and big.size == len(BIG)
    collabs = sdk.list_collaborations.get_folder_collaborations(str(team.id)).entries or []
    assert backed.other["box_user_id"] in {str(c.accessible_by.id) for c in collabs}
    tagged = find(sdk, "Team/tagged.txt")
    instance = sdk.file_metadata.get_file_metadata_by_id(str(tagged.id), "global", "properties")
    assert "apollo" in str(instance.to_dict())


@pytest.mark.django_db(transaction=True)
def test_cancel_stops_between_items(client: Any, admin: Any, sandbox: Any) -> None:
    from boxvault.accounts.access import for_user
    from boxvault.box.restore import BoxRestorer, Mode, Options
    from boxvault.recovery.snapshots import locate

    backed = back_up(client, admin, sandbox)
    located = locate(for_user(admin.user), backed.snapshot)
    seen: list[str] = []
    with located.repo:
        restorer = BoxRestorer(
            backed.client,
            located.repo.open_file,
            Options(mode=Mode.NON_DESTRUCTIVE, restored_folder_name="Cancelled restore"),
            on_item=lambda outcome: seen.append(outcome.path),
            cancelled=lambda: len(seen) >= 2,
        )
        report = restorer.run(located.repo.walk(located.snapshot, [backed.proj]), located.root)
    assert report.cancelled and report.items == 2 and seen == ["Proj", "Proj/Sub"]
    assert find(backed.client, "Cancelled restore/Proj/a.txt") is None


@pytest.mark.django_db(transaction=True)
def test_restore_rides_out_rate_limits_and_server_errors(client: Any, admin: Any, sandbox: Any) -> None:
    from boxvault.jobs import services as jobs
    from boxvault.jobs.models import Job
    from recovery.fixtures import CONTENT, folder_items, sha1

    backed = back_up(client, admin, sandbox)
    response = client.post(
        "/api/v1/restores/",
        {"snapshot": backed.snapshot, "paths": [backed.proj], "mode": "non_destructive"},
        content_type="application/json",
    )
    assert response.status_code == 201
    # uploads answer 429 (Retry-After), 503 and 500 before they work: the SDK must send the whole body again
    sandbox.set_faults(fail_next=[429, 503, 500], retry_after=1, paths=["/api/2.0/files/content"])
    try:
        assert jobs.run(response.json()["id"]) == "succeeded"
        assert sandbox.control("GET", "faults")["fail_next"] == []  # every injected failure was met
    finally:
        sandbox.clear_faults()
    job = Job.objects.get(pk=response.json()["id"])
    assert job.result["failed"] == 0
    sdk = backed.client
    restored = next(name for name in folder_items(sdk, "0") if name.startswith("Restored "))
    for rel, data in CONTENT.items():
        item = find(sdk, f"{restored}/Proj/{rel}")
        assert sdk.files.get_file_by_id(str(item.id), fields=["sha1"]).sha_1 == sha1(data), rel


@pytest.mark.django_db(transaction=True)
def test_name_taken_after_the_listing_is_resolved_from_the_409(client: Any, admin: Any, sandbox: Any) -> None:
    from box_sdk_gen.managers.folders import CreateFolderParent

    from boxvault.accounts.access import for_user
    from boxvault.box.restore import BoxRestorer, Mode, Options
    from boxvault.recovery.snapshots import locate
    from recovery.fixtures import CONTENT, sha1

    backed = back_up(client, admin, sandbox)
    sdk = backed.client
    proj = str(find(sdk, "Proj").id)
    sdk.files.delete_file_by_id(str(find(sdk, "Proj/a.txt").id))
    sdk.folders.delete_folder_by_id(str(find(sdk, "Proj/Sub").id), recursive=True)
    located = locate(for_user(admin.user), backed.snapshot)
    outcomes: dict[str, Any] = {}
    with located.repo:
        restorer = BoxRestorer(
            sdk,
            located.repo.open_file,
            Options(mode=Mode.REPLACE),
            on_item=lambda outcome: outcomes.__setitem__(outcome.path, outcome),
        )
        restorer._listing("0")
        restorer._listing(proj)  # the listings say a.txt and Sub are missing ...
        sdk.folders.create_folder("Sub", CreateFolderParent(id=proj))  # ... then someone makes them
        upload(sdk, proj, "a.txt", b"made by someone else meanwhile")
        report = restorer.run(located.repo.walk(located.snapshot, [backed.proj]), located.root)
    assert report.failed == 0, [o for o in outcomes.values() if o.error]
    assert outcomes["Proj/Sub"].action == "merged"
    assert outcomes["Proj/a.txt"].action == "new_version"
    a = sdk.files.get_file_by_id(str(find(sdk, "Proj/a.txt").id), fields=["sha1"])
    assert a.sha_1 == sha1(CONTENT["a.txt"])
    assert find(sdk, "Proj/Sub/c.txt") is not None


@pytest.mark.django_db(transaction=True)
def test_a_file_with_damaged_content_fails_alone(client: Any, admin: Any, sandbox: Any) -> None:
    """A byte of one file's blob flipped in its pack: the engine's check fails that file with its message
    while the restore reads it, and every other item still comes back."""
    import os
    from pathlib import Path

    from boxvault.accounts.access import for_user
    from boxvault.box.restore import BoxRestorer, Mode, Options
    from boxvault.engine.maint_io import pack_name
    from boxvault.recovery.snapshots import locate
    from recovery.fixtures import CONTENT, sha1

    backed = back_up(client, admin, sandbox)
    sdk = backed.client
    located = locate(for_user(admin.user), backed.snapshot)
    damaged = located.repo.node_at(located.snapshot.tree, f"{backed.proj}/b.bin")
    assert damaged is not None and damaged.content
    loc = located.repo.lookup(damaged.content[0])
    assert loc is not None
    pack_id = loc.pack_id.hex()
    pack = Path(located.repo.backend.root) / pack_name(pack_id)
    os.chmod(pack, 0o600)
    raw = bytearray(pack.read_bytes())
    raw[loc.offset + 40] ^= 0xFF
    pack.write_bytes(bytes(raw))

    outcomes: dict[str, Any] = {}
    with located.repo:
        report = BoxRestorer(
            sdk,
            located.repo.open_file,
            Options(mode=Mode.NON_DESTRUCTIVE, restored_folder_name="Partly damaged"),
            on_item=lambda outcome: outcomes.__setitem__(outcome.path, outcome),
        ).run(located.repo.walk(located.snapshot, [backed.proj]), located.root)
    assert report.failed == 1 and outcomes["Proj/b.bin"].action == "failed"
    assert outcomes["Proj/b.bin"].error.startswith("CorruptObject: "), outcomes["Proj/b.bin"].error
    assert pack_id in outcomes["Proj/b.bin"].error
    assert find(sdk, "Partly damaged/Proj/b.bin") is None
    for rel, data in CONTENT.items():
        if rel != "b.bin":
            item = find(sdk, f"Partly damaged/Proj/{rel}")
            assert sdk.files.get_file_by_id(str(item.id), fields=["sha1"]).sha_1 == sha1(data), rel
    assert report.items == len(outcomes)
