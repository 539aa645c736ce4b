"""restic's location syntax as open_backend understands it."""

from __future__ import annotations

import pytest

from boxvault.engine.storage import LocalBackend, Location, StorageError, open_backend, parse_location


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("/srv/repo", Location("local", "/srv/repo")),
        ("relative/repo", Location("local", "relative/repo")),
        ("local:/srv/repo", Location("local", "/srv/repo")),
        ("s3:http://127.0.0.1:9000/bkt", Location("s3", "", "bkt", "http://127.0.0.1:9000")),
        ("s3:https://minio.example.com/bkt/a/b/", Location("s3", "a/b", "bkt", "https://minio.example.com")),
        ("s3:minio.example.com:9000/bkt/p", Location("s3", "p", "bkt", "https://minio.example.com:9000")),
        ("s3:s3.amazonaws.com/bkt/p", Location("s3", "p", "bkt", "")),
        ("azure:backups:/", Location("azure", "", "backups")),
        ("azure:backups:/tenant/7", Location("azure", "tenant/7", "backups")),
        ("gs:bkt:/", Location("gs", "", "bkt")),
        ("gs:bkt:/x/y", Location("gs", "x/y", "bkt")),
    ],
)
def test_parse(text: str, expected: Location) -> None:
    assert parse_location(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty"),
        ("local:", "empty path"),
        ("s3:http://host", "expected s3:"),
        ("s3:", "expected s3:"),
        ("azure:container", "expected azure:"),
        ("gs::/p", "expected gs:"),
        ("sftp:user@host:/srv", "no sftp backend"),
        ("rest:http://host/", "no rest backend"),
    ],
)
def test_bad_locations_are_clear_errors(text: str, message: str) -> None:
    with pytest.raises(StorageError, match=message):
        open_backend(text)


def test_local_keeps_spelling(tmp_path: object) -> None:
    spelled = f"local:{tmp_path}/repo"
    backend = open_backend(spelled)
    assert isinstance(backend, LocalBackend)
    assert backend.location == spelled


def test_s3_options_from_restic_environment() -> None:
    from boxvault.engine.storage.credentials import operator_options

    env = {"AWS_ACCESS_KEY_ID": "id", "AWS_SECRET_ACCESS_KEY": "secret", "AWS_SESSION_TOKEN": "tok"}
    scheme, options = operator_options(parse_location("s3:http://127.0.0.1:9000/bkt/a/b"), env)
    assert scheme == "s3"
    assert options["endpoint"] == "http://127.0.0.1:9000"
    assert (options["bucket"], options["root"], options["region"]) == ("bkt", "/a/b/", "us-east-1")
    assert (options["access_key_id"], options["secret_access_key"], options["session_token"]) == (
        "id",
        "secret",
        "tok",
    )
    assert "enable_virtual_host_style" not in options
    _, aws = operator_options(parse_location("s3:s3.amazonaws.com/bkt"), {"AWS_DEFAULT_REGION": "eu-west-3"})
    assert aws["endpoint"] == "https://s3.eu-west-3.amazonaws.com"
    assert aws["enable_virtual_host_style"] == "true"
    assert aws["root"] == "/"


def test_azure_and_gcs_options_from_restic_environment() -> None:
    from boxvault.engine.storage.credentials import operator_options

    azure_env = {"AZURE_ACCOUNT_NAME": "acct", "AZURE_ACCOUNT_SAS": "?sv=1&sig=x"}
    scheme, options = operator_options(parse_location("azure:cont:/p"), azure_env)
    assert scheme == "azblob"
    assert options["endpoint"] == "https://acct.blob.core.windows.net"
    assert (options["container"], options["root"], options["sas_token"]) == ("cont", "/p/", "sv=1&sig=x")
    suffix = {**azure_env, "AZURE_ENDPOINT_SUFFIX": "core.chinacloudapi.cn"}
    assert operator_options(parse_location("azure:c:/"), suffix)[1]["endpoint"] == (
        "https://acct.blob.core.chinacloudapi.cn"
    )
    scheme, options = operator_options(
        parse_location("gs:bkt:/"), {"GOOGLE_APPLICATION_CREDENTIALS": "/etc/sa.json"}
    )
    assert (scheme, options["credential_path"], options["root"]) == ("gcs", "/etc/sa.json", "/")
    _, emulated = operator_options(parse_location("gs:bkt:/x"), {"STORAGE_EMULATOR_HOST": "localhost:9023"})
    assert emulated["endpoint"] == "http://localhost:9023"
    assert emulated["skip_signature"] == "true"
