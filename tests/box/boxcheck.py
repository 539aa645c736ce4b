"""Independent views for the Box tests: the tree as the official SDK shows it, and as restic restores it."""

from __future__ import annotations

import hashlib
import json
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from box_sdk_gen.box.ccg_auth import BoxCCGAuth, CCGConfig
from box_sdk_gen.client import BoxClient
from box_sdk_gen.networking.base_urls import BaseUrls
from box_sdk_gen.networking.network import NetworkSession

from support.sandbox import SandboxServer


@dataclass(frozen=True)
class SdkFile:
    id: str
    name: str
    sha1: str
    size: int
    version_id: str


def sdk_client(url: str, creds: dict[str, Any], user_id: str) -> BoxClient:
    auth = BoxCCGAuth(
        CCGConfig(
            client_id=creds["client_id"],
            client_secret=creds["client_secret"],
            enterprise_id=creds["enterprise_id"],
        )
    )
    session = NetworkSession(
        base_urls=BaseUrls(base_url=url, upload_url=url + "/api", oauth_2_url=url + "/api/oauth2")
    )
    return BoxClient(auth=auth, network_session=session).with_as_user_header(user_id)


def sdk_files(client: BoxClient) -> dict[str, SdkFile]:
    """Every file (by id) in the user's All Files, listed with the SDK's typed managers."""
    out: dict[str, SdkFile] = {}
    todo = ["0"]
    while todo:
        folder = todo.pop()
        offset = 0
        while True:
            page = client.folders.get_folder_items(
                folder,
                fields=["id", "type", "name", "sha1", "size", "file_version"],
                offset=offset,
                limit=1000,
            )
            entries = page.raw_data["entries"]
            assert len(entries) == len(page.entries or [])
            for raw in entries:
                if raw["type"] == "folder":
                    todo.append(raw["id"])
                elif raw["type"] == "file":
                    out[raw["id"]] = SdkFile(
                        raw["id"], raw["name"], raw["sha1"], raw["size"], raw["file_version"]["id"]
                    )
            offset += len(entries)
            if not entries or offset >= (page.total_count or 0):
                break
    return out


def sdk_sha1(client: BoxClient, file_id: str) -> str:
    stream = client.downloads.download_file(file_id)
    digest = hashlib.sha1()
    assert stream is not None
    while True:
        chunk = stream.read(1 << 20)
        if not chunk:
            break
        digest.update(chunk)
    return digest.hexdigest()


def restic(env: dict[str, str], *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        ["restic", "--no-cache", *args], env=env, capture_output=True, text=True, timeout=600
    )
    if check and proc.returncode != 0:
        raise AssertionError(
            f"restic {' '.join(args)} exited {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
        )
    return proc


def restic_snapshots(env: dict[str, str]) -> list[dict[str, Any]]:
    data: list[dict[str, Any]] = json.loads(restic(env, "snapshots", "--json").stdout)
    return data


def file_sha1(path: Path) -> str:
    digest = hashlib.sha1()
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def snapshot_nodes(
    repo_path: str, password: str, snapshot_id: str, *, trash: bool = False
) -> dict[str, tuple[str, dict[str, bytes]]]:
    """box.id -> (path, extended attributes) of every file node, read with the engine's reader; those
    under `.box-trash` (the user's Box trash) only with `trash`, and then only those."""
    from boxvault.engine.repository import Repository
    from boxvault.engine.storage import open_backend

    repo = Repository.open(open_backend(repo_path), password)
    try:
        snap = repo.find_snapshot(snapshot_id)
        out: dict[str, tuple[str, dict[str, bytes]]] = {}
        for path, node in repo.walk(snap):
            attrs = dict(node.extended_attributes)
            if "/.box-trash/" in path and not trash or trash and "/.box-trash/" not in path:
                continue
            if node.type == "file" and attrs.get("box.type") == b"file":
                out[attrs["box.id"].decode()] = (path, attrs)
        return out
    finally:
        repo.close()


PASSWORD = "box-test-password"


class Sandbox:
    """The shared `SandboxServer` plus what these tests use often."""

    def __init__(self, server: SandboxServer) -> None:
        self.server = server
        self.url = server.url
        self.creds: dict[str, Any] = server.seed_info

    def call(self, method: str, path: str, body: Any = None) -> Any:
        assert path.startswith("/_sandbox/")
        return self.server.control(method, path[len("/_sandbox/") :], body)

    def stats(self) -> dict[str, Any]:
        return self.server.stats()

    def reset_stats(self) -> None:
        self.server.reset_stats()

    def set_faults(self, **faults: Any) -> None:
        self.server.set_faults(**faults)

    def clear_faults(self) -> None:
        self.server.clear_faults()

    def mutate(self, fraction: float, seed: int = 1) -> dict[str, Any]:
        return self.server.mutate(fraction, seed)

    def cli_args(self) -> list[str]:
        c = self.creds
        return [
            "--api-url",
            self.url,
            "--client-id",
            c["client_id"],
            "--client-secret",
            c["client_secret"],
            "--enterprise-id",
            c["enterprise_id"],
        ]
