"""Export to the customer's storage: moto (S3), Azurite (Azure Blob), gcp-storage-emulator (GCS)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import opendal
import pytest

from recovery.fixtures import CONTENT, back_up, sha1


def _target(kind: str, emulator: Any, prefix: str) -> dict[str, str]:
    env = emulator.env
    if kind == "s3":
        return {
            "kind": "s3",
            "location": emulator.location(prefix),
            "access_key_id": env["AWS_ACCESS_KEY_ID"],
            "secret_access_key": env["AWS_SECRET_ACCESS_KEY"],
            "region": "us-east-1",
        }
    if kind == "azure":
        return {
            "kind": "azure",
            "location": emulator.location(prefix),
            "account_name": env["AZURE_ACCOUNT_NAME"],
            "account_key": env["AZURE_ACCOUNT_KEY"],
            "endpoint": env["BOXVAULT_AZURE_ENDPOINT"],
        }
    return {
        "kind": "gcs",
        "location": emulator.location(prefix),
        "endpoint": env["STORAGE_EMULATOR_HOST"],
        "access_token": "tenant-token",  # the emulator does not check it; required all the same
    }


def _reader(emulator: Any, prefix: str) -> opendal.Operator:
    """The operator's own view of the emulator's bucket, to read back what the export wrote."""
    from boxvault.engine.storage.credentials import operator_options
    from boxvault.engine.storage.location import parse_location

    scheme, options = operator_options(parse_location(emulator.location(prefix)), emulator.env)
    return opendal.Operator(scheme, **options)


@pytest.fixture(autouse=True)
def emulators_allowed(settings: Any) -> None:
    """The emulators listen on loopback: the operator allows that network (docs/operations.md, Egress)."""
    settings.BOXVAULT_EGRESS_ALLOW = ["127.0.0.0/8"]


@pytest.fixture(scope="module")
def stores() -> Iterator[dict[str, Any]]:
    from support.emulators import azurite_blob, gcs_emulator, moto_s3

    with moto_s3() as s3, azurite_blob() as azure, gcs_emulator() as gcs:
        yield {"s3": s3, "azure": azure, "gcs": gcs}


@pytest.mark.django_db(transaction=True)
def test_export_to_s3_azure_gcs_byte_identical_and_credentials_checked_first(
    client: Any, admin: Any, sandbox: Any, stores: dict[str, Any], caplog: Any
) -> None:
    from boxvault.jobs import services as jobs
    from boxvault.jobs.models import Job

    backed = back_up(client, admin, sandbox)
    for kind, emulator in stores.items():
        target = _target(kind, emulator, f"exports/{kind}")
        response = client.post(
            "/api/v1/exports/",
            {"snapshot": backed.snapshot, "paths": [backed.proj], "target": target},
            content_type="application/json",
        )
        assert response.status_code == 201, (kind, response.content)
        job_id = response.json()["id"]
        secret = target.get("secret_access_key") or target.get("account_key")
        if secret:
            assert secret not in json.dumps(Job.objects.get(pk=job_id).params)  # sealed, not stored in clear
            assert secret not in response.content.decode()  # and never shown again
        assert jobs.run(job_id) == "succeeded", kind
        job = Job.objects.get(pk=job_id)
        assert "sealed_target" not in job.params and job.params.get("target_wiped")  # wiped when it ended
        op = _reader(emulator, f"exports/{kind}")
        for rel, content in CONTENT.items():
            assert bytes(op.read(f"Proj/{rel}")) == content, (kind, rel)
        manifest = json.loads(bytes(op.read(".boxvault-manifest.json")))
        assert manifest["snapshot"] == backed.snapshot
        assert {f["path"]: (f["size"], f["sha1"]) for f in manifest["files"]} == {
            f"Proj/{rel}": (len(c), sha1(c)) for rel, c in CONTENT.items()
        }
        assert all(f["box_id"] and f["snapshot"] == backed.snapshot for f in manifest["files"])
        if secret:
            assert secret not in json.dumps(job.result) and secret not in "".join(
                job.log.values_list("message", flat=True)
            )

    # wrong credentials (Azurite checks the key) and a bucket that does not exist: refused, no job
    before = Job.objects.filter(kind="export").count()
    wrong = [
        {**_target("azure", stores["azure"], "x"), "account_key": "d3Jvbmcta2V5LXdyb25nLWtleS13cm9uZy1rZXk="},
        {
            **_target("s3", stores["s3"], "x"),
            "location": stores["s3"].location("x").replace("boxvault-test", "nope"),
        },
        {**_target("s3", stores["s3"], "x"), "location": "azure:box:/x"},
        {"kind": "dropbox"},
    ]
    for target in wrong:
        response = client.post(
            "/api/v1/exports/",
            {"snapshot": backed.snapshot, "paths": [backed.proj], "target": target},
            content_type="application/json",
        )
        assert response.status_code == 400, (target, response.content)
        assert response.json()["detail"]
    assert Job.objects.filter(kind="export").count() == before
    assert "d3Jvbmcta2V5" not in caplog.text


@pytest.mark.django_db(transaction=True)
def test_export_dialog_shows_a_form_error_for_wrong_credentials(
    client: Any, admin: Any, sandbox: Any, stores: dict[str, Any]
) -> None:
    from boxvault.jobs.models import Job

    backed = back_up(client, admin, sandbox)
    target = {**_target("azure", stores["azure"], "x"), "account_key": "bm90LXRoZS1rZXk="}
    page = client.post(
        f"/recovery/snapshots/{backed.snapshot}/act/",
        {"action": "export", "confirm": "1", "paths": [backed.proj], **target},
    )
    assert page.status_code == 400 and b"refused a test write" in page.content
    assert b"bm90LXRoZS1rZXk=" not in page.content  # the secret is not shown again
    assert not Job.objects.filter(kind="export").exists()
    ok = client.post(
        f"/recovery/snapshots/{backed.snapshot}/act/",
        {
            "action": "export",
            "confirm": "1",
            "paths": [backed.proj],
            **_target("gcs", stores["gcs"], "dialog"),
        },
    )
    assert ok.status_code == 302 and Job.objects.filter(kind="export").count() == 1
