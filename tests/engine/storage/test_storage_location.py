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
