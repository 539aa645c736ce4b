"""`--versions` keeps Box's previous versions of each file; a previous version is downloaded once, ever."""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Callable
from typing import Any

import pytest
from box_sdk_gen.managers.uploads import UploadFileVersionAttributes
from boxcheck import PASSWORD, Sandbox, sdk_client, sdk_files

from support import run_cli

pytestmark = pytest.mark.slow


def _versions_in_snapshot(repo: str, snapshot: str) -> dict[tuple[str, str], tuple[str, str]]:
    """(file id, version id) -> (path, sha1 of the content read back) for every kept previous version."""
    from boxvault.engine.repository import Repository
    from boxvault.engine.storage import open_backend

    r = Repository.open(open_backend(repo), PASSWORD)
    try:
        out = {}
        for path, node in r.walk(r.find_snapshot(snapshot)):
            attrs = dict(node.extended_attributes)
            if attrs.get("box.type") == b"file_version":
                digest = hashlib.sha1(r.open_file(node).read()).hexdigest()
                out[(attrs["box.id"].decode(), attrs["box.version_id"].decode())] = (path, digest)
        return out
    finally:
        r.close()


def test_previous_versions_are_kept_and_fetched_once(
    box_sandbox: Callable[..., Sandbox], repo_env: dict[str, str]
) -> None:
    sandbox = box_sandbox(users=1, files_per_user=40, large_files=0, seed=12)
    uid = sandbox.creds["users"][0]["id"]
    client = sdk_client(sandbox.url, sandbox.creds, uid)
    expected: dict[tuple[str, str], str] = {}
    for fid in sdk_files(client):
        for v in client.file_versions.get_file_versions(fid).entries or []:
            expected[(fid, v.id)] = v.raw_data.get("sha1") or v.to_dict().get("sha1")
    assert expected, "the seed has files with several versions"

    def backup() -> dict[str, Any]:
        proc = run_cli(
            [
                "box",
                "backup",
                *sandbox.cli_args(),
                "--json",
                "--init",
                "--user",
                uid,
                "--versions",
                "--rate-per-user",
                "0",
            ],
            env=repo_env,
        )
        report: dict[str, Any] = json.loads(proc.stdout)
        assert report["status"] == "succeeded", report
        return report

    first = backup()
    kept = _versions_in_snapshot(repo_env["RESTIC_REPOSITORY"], first["users"][0]["snapshot_id"])
    assert {k: sha for k, (_, sha) in kept.items()} == expected
    assert all(
        path.startswith(f"/{first['users'][0]['login']}/.box-versions/{fid}/")
        for (fid, _), (path, _) in kept.items()
    )
    assert first["users"][0]["versions"] == len(expected)

    sandbox.reset_stats()
    backup()
    routes = sandbox.stats()["requests"]
    assert not [r for r in routes if "versions" in r or "/content" in r], routes  # nothing asked again

    fid = next(iter(sdk_files(client)))
    before = sdk_files(client)[fid]
    client.uploads.upload_file_version(
        fid, UploadFileVersionAttributes(name=before.name), io.BytesIO(b"a brand new version\n")
    )
    sandbox.reset_stats()
    third = backup()
    stats = sandbox.stats()
    assert set(stats["downloads"]) == {fid}  # the new current version only; the old current is reused
    assert sum(stats["downloads"].values()) == 1
    kept = _versions_in_snapshot(repo_env["RESTIC_REPOSITORY"], third["users"][0]["snapshot_id"])
    assert kept[(fid, before.version_id)][1] == before.sha1
