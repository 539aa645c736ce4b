"""Box metadata beyond the file itself rides in the nodes: metadata instances, comments, shared links,
collaborations, web links; an unchanged item reuses its capture instead of asking again."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from box_sdk_gen.managers.comments import CreateCommentItem, CreateCommentItemTypeField
from box_sdk_gen.managers.file_metadata import CreateFileMetadataByIdScope
from box_sdk_gen.managers.shared_links_files import (
    AddShareLinkToFileSharedLink,
    AddShareLinkToFileSharedLinkAccessField,
)
from box_sdk_gen.managers.web_links import CreateWebLinkParent
from boxcheck import PASSWORD, Sandbox, sdk_client, sdk_files

from support import run_cli

pytestmark = pytest.mark.slow


def _nodes(repo: str, snapshot_prefix: str) -> dict[str, tuple[str, str, dict[str, bytes], bytes | None]]:
    """box.id -> (path, node type, xattrs, content for small files) read with the engine."""
    from boxvault.engine.repository import Repository
    from boxvault.engine.storage import open_backend

    r = Repository.open(open_backend(repo), PASSWORD)
    try:
        out = {}
        for path, node in r.walk(r.find_snapshot(snapshot_prefix)):
            attrs = dict(node.extended_attributes)
            data = r.open_file(node).read() if node.type == "file" and node.size < 4096 else None
            out[attrs.get("box.id", b"").decode()] = (path, node.type, attrs, data)
        return out
    finally:
        r.close()


def test_metadata_comments_links_collaborations(
    box_sandbox: Callable[..., Sandbox], repo_env: dict[str, str]
) -> None:
    sandbox = box_sandbox(users=2, files_per_user=20, large_files=0, seed=9)
    creds = sandbox.creds
    uid = creds["users"][0]["id"]
    client = sdk_client(sandbox.url, creds, uid)
    fid = sorted(sdk_files(client))[0]
    client.file_metadata.create_file_metadata_by_id(
        fid, CreateFileMetadataByIdScope.GLOBAL, "properties", {"project": "Apollo ✓"}
    )
    client.comments.create_comment(
        "Looks good", CreateCommentItem(id=fid, type=CreateCommentItemTypeField.FILE)
    )
    client.shared_links_files.add_share_link_to_file(
        fid,
        "shared_link",
        shared_link=AddShareLinkToFileSharedLink(access=AddShareLinkToFileSharedLinkAccessField.OPEN),
    )
    link = client.web_links.create_web_link(
        "https://example.com/ünï", CreateWebLinkParent(id="0"), name="Example", description="a link"
    )

    def backup() -> dict[str, Any]:
        proc = run_cli(
            ["box", "backup", *sandbox.cli_args(), "--json", "--init", "--user", uid, "--rate-per-user", "0"],
            env=repo_env,
        )
        report: dict[str, Any] = json.loads(proc.stdout)
        assert report["status"] == "succeeded", report
        return report

    first = backup()
    nodes = _nodes(repo_env["RESTIC_REPOSITORY"], first["users"][0]["snapshot_id"])
    _, kind, attrs, _ = nodes[fid]
    assert kind == "file"
    meta = json.loads(attrs["box.metadata"])
    assert any(m.get("project") == "Apollo ✓" and m.get("$template") == "properties" for m in meta)
    assert [c["message"] for c in json.loads(attrs["box.comments"])] == ["Looks good"]
    assert json.loads(attrs["box.shared_link"])["access"] == "open"
    path, kind, attrs, data = nodes[link.id]
    assert kind == "file" and attrs["box.type"] == b"web_link"
    assert path.endswith("/Example") and attrs["box.url"] == "https://example.com/ünï".encode()
    assert data is not None and json.loads(data)["url"] == "https://example.com/ünï"
    collaborated = [a for _, k, a, _ in nodes.values() if k == "dir" and "box.collaborations" in a]
    assert collaborated, "the seed's shared folders carry their collaborations"
    assert all(json.loads(a["box.collaborations"]) for a in collaborated)
    assert first["users"][0]["web_links"] == 1

    # nothing changed: the captured data is reused (no metadata/comment/collaboration requests) and kept
    sandbox.reset_stats()
    second = backup()
    routes = sandbox.stats()["requests"]
    assert not [r for r in routes if "metadata" in r or "comments" in r or "collaborations" in r], routes
    again = _nodes(repo_env["RESTIC_REPOSITORY"], second["users"][0]["snapshot_id"])
    assert again[fid][2]["box.metadata"] == attrs_of(nodes, fid)["box.metadata"]
    assert again[fid][2]["box.comments"] == attrs_of(nodes, fid)["box.comments"]


def attrs_of(
    nodes: dict[str, tuple[str, str, dict[str, bytes], bytes | None]], item_id: str
) -> dict[str, bytes]:
    return nodes[item_id][2]
