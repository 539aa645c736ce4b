"""Export targets are a tenant's URLs: held to the egress guard, written with the tenant's credentials only
(issue 11). The server's own credentials are set in the environment here (fake AWS keys, a fake Google
service account whose token endpoint is a loopback recorder) to show none of them is ever used."""

from __future__ import annotations

import json
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from recovery.fixtures import back_up
from support.loopback import SECRET, recorder


def _service_account(path: Any, token_uri: str) -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    path.write_text(
        json.dumps(
            {
                "type": "service_account",
                "project_id": "operator-project",
                "private_key_id": "1",
                "private_key": pem,
                "client_email": "operator@operator-project.iam.gserviceaccount.com",
                "client_id": "1",
                "token_uri": token_uri,
            }
        )
    )
    return str(path)


@pytest.mark.django_db(transaction=True)
def test_export_targets_pass_the_guard_and_use_only_the_tenants_credentials(
    client: Any, admin: Any, sandbox: Any, settings: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    from boxvault.jobs.models import Job

    backed = back_up(client, admin, sandbox)

    def export(target: dict[str, Any]) -> Any:
        return client.post(
            "/api/v1/exports/",
            {"snapshot": backed.snapshot, "paths": [backed.proj], "target": target},
            content_type="application/json",
        )

    with recorder() as hostile, recorder() as google_tokens:
        # the server's own (fake) credentials, which a tenant's target must never borrow
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIASERVERSOWNKEY")
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "server-secret")
        monkeypatch.setenv("AWS_PROFILE", "operator")
        monkeypatch.setenv(
            "GOOGLE_APPLICATION_CREDENTIALS",
            _service_account(tmp_path / "sa.json", google_tokens.url + "/token"),
        )
        s3 = {
            "kind": "s3",
            "location": f"s3:{hostile.url}/bucket/x",
            "access_key_id": "tenant-key",
            "secret_access_key": "tenant-secret",
        }

        # 1. loopback, not allowed by the operator: refused before any connection
        settings.BOXVAULT_EGRESS_ALLOW = []
        response = export(s3)
        assert response.status_code == 400
        assert "endpoint not allowed: loopback address" in response.json()["detail"]
        assert hostile.connections[0] == 0

        # 2. the operator allows loopback (as for an emulator); the server there redirects writes to its
        # secrets and answers reads with them: no redirect followed, nothing echoed
        settings.BOXVAULT_EGRESS_ALLOW = ["127.0.0.1/32"]
        response = export(s3)
        assert response.status_code == 400
        detail = response.json()["detail"]
        assert (
            "redirect" in detail
            and SECRET not in detail
            and "302" not in detail
            and "meta-data" not in detail
        )
        assert hostile.methods == ["PUT"]  # the probe's write only: no GET of the Location
        assert hostile.seen[0].headers["authorization"].startswith("AWS4-HMAC-SHA256 Credential=tenant-key/")

        # 3. missing credentials: refused before any connection, never filled from the environment
        hostile.seen.clear()
        before = hostile.connections[0]
        missing = [
            {**s3, "access_key_id": "", "secret_access_key": ""},
            {"kind": "gcs", "location": "gs:bucket:/x", "endpoint": hostile.url},
            {"kind": "gcs", "location": "gs:bucket:/x"},
            {"kind": "azure", "location": "azure:box:/x", "account_name": "acct", "endpoint": hostile.url},
        ]
        for target in missing:
            response = export(target)
            assert response.status_code == 400, (target, response.content)
        assert hostile.connections[0] == before and google_tokens.connections[0] == 0

        # 4. an Azure/GCS endpoint outside the operator's networks is refused, public or not
        settings.BOXVAULT_EGRESS_ALLOW = ["127.0.0.1/32"]
        for endpoint in ("http://8.8.8.8:10000/acct", "http://169.254.169.254/", "http://10.0.0.1/"):
            azure = {
                "kind": "azure",
                "location": "azure:box:/x",
                "account_name": "acct",
                "account_key": "a2V5",
                "endpoint": endpoint,
            }
            response = export(azure)
            assert response.status_code == 400 and "endpoint not allowed" in response.json()["detail"]

        # 5. GCS with the tenant's token at an allowed endpoint: that token, and no service account
        response = export(
            {"kind": "gcs", "location": "gs:bucket:/x", "endpoint": hostile.url, "access_token": "t0k"}
        )
        assert response.status_code == 400  # the recorder is no GCS
        assert SECRET not in response.json()["detail"]
        assert hostile.seen and {s.headers.get("authorization") for s in hostile.seen} == {"Bearer t0k"}
        assert google_tokens.connections[0] == 0
        # (OpenDAL follows redirects, which is why an Azure/GCS endpoint must lie in a network the operator
        # vouches for: docs/operations.md, Egress)
    assert not Job.objects.filter(kind="export").exists()
