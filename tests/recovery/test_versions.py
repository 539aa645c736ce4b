"""Previous versions of a file: listed from a backup, and each way of putting one back into Box (Box's
promote, an upload of the stored bytes when Box no longer has it, a copy beside the file, the file itself
when it is gone), checked through the official SDK; bad input refused with a sentence."""

from __future__ import annotations

import io
from typing import Any

import pytest

from recovery.fixtures import back_up, run_job, sha1, upload

V1, V2, V3 = b"plan, first draft\n" * 40, b"plan, second draft\n" * 40, b"plan, final\n" * 40


def _restore_version(client: Any, body: dict[str, Any]) -> dict[str, Any]:
    return run_job(client, "/api/v1/restores/versions/", body)


def _content(sdk: Any, file_id: str) -> bytes:
    return bytes(sdk.downloads.download_file(file_id).read())


@pytest.mark.django_db(transaction=True)
def test_a_file_restored_to_its_second_of_three_versions_and_every_other_way(
    client: Any, admin: Any, sandbox: Any
) -> None:
    from box_sdk_gen.managers.uploads import UploadFileVersionAttributes

    from boxvault.security.models import AuditEvent

    made: dict[str, str] = {}

    def three_versions(sdk: Any, _other: Any) -> None:
        from boxvault.backups.models import Task

        task = Task.objects.filter(account=admin.account).latest("id")
        assert (
            client.patch(
                f"/api/v1/tasks/{task.pk}/", {"capture_versions": True}, content_type="application/json"
            ).status_code
            == 200
        )
        made["id"] = upload(sdk, "0", "plan.txt", V1)
        for data in (V2, V3):
            sdk.uploads.upload_file_version(
                made["id"], UploadFileVersionAttributes("plan.txt"), io.BytesIO(data)
            )

    backed = back_up(client, admin, sandbox, prepare=three_versions)
    sdk, file_id = backed.client, made["id"]
    path = f"/{backed.user['login']}/plan.txt"

    listed = client.get(f"/api/v1/snapshots/{backed.snapshot}/versions/", {"path": path}).json()
    assert listed["file"]["sha1"] == sha1(V3)
    assert [(v["number"], v["sha1"], v["size"]) for v in listed["versions"]] == [
        (2, sha1(V2), len(V2)),
        (1, sha1(V1), len(V1)),
    ]
    second, first = (v["id"] for v in listed["versions"])

    # 1. the second version as the current one: Box still has it, so it is promoted (nothing uploaded)
    done = _restore_version(client, {"snapshot": backed.snapshot, "path": path, "version_id": second})
    assert done["result"]["action"] == "promoted" and done["result"]["file_id"] == file_id
    assert _content(sdk, file_id) == V2
    assert sdk.files.get_file_by_id(file_id, fields=["sha1"]).sha_1 == sha1(V2)
    assert done["job"].message.startswith(f"Version {second} made current again")
    assert AuditEvent.objects.filter(
        account=admin.account, activity=AuditEvent.Activity.RESTORE, description__contains="version 2"
    ).exists()

    # 2. Box no longer has the first version (deleted there): the stored bytes are uploaded instead
    sdk.file_versions.delete_file_version_by_id(file_id, first)
    done = _restore_version(
        client, {"snapshot": backed.snapshot, "path": path, "version_id": first, "as": "current"}
    )
    assert done["result"]["action"] == "new_version" and _content(sdk, file_id) == V1

    # the Recovery page: the file's row links to its versions, which can be restored from there
    from boxvault.jobs import services as jobs
    from boxvault.jobs.models import Job

    home = f"/{backed.user['login']}"
    browse = client.get(f"/recovery/snapshots/{backed.snapshot}/", {"path": home}).content.decode()
    assert browse.count('class="versions-link"') == 1  # plan.txt only: the Proj files have one version
    assert "/versions/?path=" + home.replace("@", "%40") + "/plan.txt" in browse
    page = client.get(f"/recovery/snapshots/{backed.snapshot}/versions/", {"path": path}).content.decode()
    assert page.count('name="version_id"') == 2 and f'data-version="{second}"' in page
    refused = client.post(
        f"/recovery/snapshots/{backed.snapshot}/versions/", {"path": path, "version_id": second, "as": "up"}
    )
    assert refused.status_code == 400 and "as must be current or copy" in refused.content.decode()

    # 3. as a copy beside the file (from the page); the file itself is left as it is
    started = client.post(
        f"/recovery/snapshots/{backed.snapshot}/versions/", {"path": path, "version_id": second, "as": "copy"}
    )
    assert started.status_code == 302 and "/jobs/" in started["Location"]
    job = Job.objects.filter(kind="restore").latest("id")
    assert jobs.run(job.pk) == "succeeded"
    done = {"result": Job.objects.get(pk=job.pk).result}
    copy_id = done["result"]["file_id"]
    assert copy_id != file_id and _content(sdk, copy_id) == V2 and _content(sdk, file_id) == V1
    assert sdk.files.get_file_by_id(copy_id).name == "plan (version 2).txt"

    # 4. the file is gone from Box: the version brings it back at its path
    sdk.files.delete_file_by_id(file_id)
    done = _restore_version(client, {"snapshot": backed.snapshot, "path": path, "version_id": second})
    assert done["result"]["action"] == "created"
    back = next(i for i in sdk.folders.get_folder_items("0").entries if i.name == "plan.txt")
    assert str(back.id) != file_id and _content(sdk, str(back.id)) == V2


@pytest.mark.django_db(transaction=True)
def test_bad_version_requests_get_a_sentence_and_no_job(client: Any, admin: Any, sandbox: Any) -> None:
    from boxvault.jobs.models import Job

    backed = back_up(client, admin, sandbox)
    file_path = f"{backed.proj}/a.txt"
    before = Job.objects.count()
    cases = [
        ({"path": file_path, "version_id": "123456"}, "is not in this backup"),  # no versions captured
        ({"path": backed.proj, "version_id": "1"}, "is not a file"),
        ({"path": f"{backed.proj}/nope.txt", "version_id": "1"}, "is not in this snapshot"),
        ({"path": file_path, "version_id": "1", "as": "sideways"}, "as must be current or copy"),
        ({"path": file_path}, "version_id"),
    ]
    for body, sentence in cases:
        response = client.post(
            "/api/v1/restores/versions/",
            {"snapshot": backed.snapshot, **body},
            content_type="application/json",
        )
        assert response.status_code == 400 and sentence in response.json()["detail"], (body, response.content)
    assert Job.objects.count() == before
    listed = client.get(f"/api/v1/snapshots/{backed.snapshot}/versions/", {"path": backed.proj})
    assert listed.status_code == 400 and "is not a file" in listed.json()["detail"]


@pytest.mark.django_db(transaction=True)
def test_versions_from_the_cli(client: Any, admin: Any, sandbox: Any) -> None:
    import json

    from box_sdk_gen.managers.uploads import UploadFileVersionAttributes
    from typer.testing import CliRunner

    from boxvault.recovery.cli import app

    made: dict[str, str] = {}

    def two_versions(sdk: Any, _other: Any) -> None:
        from boxvault.backups.models import Task

        Task.objects.filter(account=admin.account).update(capture_versions=True)
        made["id"] = upload(sdk, "0", "memo.md", V1)
        sdk.uploads.upload_file_version(made["id"], UploadFileVersionAttributes("memo.md"), io.BytesIO(V2))

    backed = back_up(client, admin, sandbox, prepare=two_versions)
    path, email = f"/{backed.user['login']}/memo.md", admin.user.email
    runner = CliRunner()

    def call(*args: str) -> Any:
        return runner.invoke(app, list(args), catch_exceptions=False)

    listed = call("versions", backed.snapshot, "--path", path, "--email", email, "--json")
    assert listed.exit_code == 0, listed.output
    (only,) = json.loads(listed.stdout)["versions"]
    assert only["sha1"] == sha1(V1)
    done = call(
        "restore-version", backed.snapshot, "--path", path, "--version", only["id"], "--as", "copy",
        "--email", email, "--wait", "--json",
    )  # fmt: skip
    assert done.exit_code == 0, done.output
    copy_id = json.loads(done.stdout)["result"]["file_id"]
    assert _content(backed.client, copy_id) == V1 and _content(backed.client, made["id"]) == V2
    refused = call("restore-version", backed.snapshot, "--path", path, "--version", "1", "--email", email)
    assert refused.exit_code == 2 and "is not in this backup" in refused.output
