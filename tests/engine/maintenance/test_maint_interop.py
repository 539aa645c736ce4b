"""forget + prune and rewrite + prune by boxvault, judged by the restic binary; check on restic's repos."""

from __future__ import annotations

import hashlib
import json
import re
import shutil
from pathlib import Path

import pytest
from maint_support import PASSWORD, fast_repo, open_repo, restic, restic_json

from boxvault.engine.check import check
from boxvault.engine.localdir import backup
from boxvault.engine.maint_io import decode_blob, list_ids, load_json, pack_name, parse_index
from boxvault.engine.pack import read_header
from boxvault.engine.prune import plan
from boxvault.engine.repository import Repository
from boxvault.engine.storage import LocalBackend
from support import require_binary, run_cli
from support.restic import PASSWORD as RESTIC_PASSWORD
from support.restic import make_corpus, tree_digest
from support.restic import restic as own_restic

ENV = {"RESTIC_PASSWORD": PASSWORD}


@pytest.fixture(autouse=True)
def _restic() -> None:
    require_binary("restic")


def _backup(repo_path: Path, src: Path, tags: list[str] | None = None) -> str:
    repo = open_repo(repo_path)
    with repo.writer(pack_size=2**20) as w:
        snapshot_id, job = backup(repo, w, [str(src)], hostname="maint", tags=tags or [])
    assert job.errors == []
    return snapshot_id


def _all_stored_blobs(repo_path: Path) -> tuple[set[bytes], set[bytes], list[bytes]]:
    """(ids in any index, ids in any pack header, plaintext of every tree blob in every pack)."""
    repo = open_repo(repo_path)
    indexed: set[bytes] = set()
    for index_id, _ in list_ids(repo, "index"):
        indexed |= {r.blob_id for r in parse_index(load_json(repo, f"index/{index_id}"), index_id)[0]}
    packed: set[bytes] = set()
    trees: list[bytes] = []
    for pack_id, _ in list_ids(repo, "data"):
        data = (repo_path / pack_name(pack_id)).read_bytes()
        blobs, _ = read_header(repo.key, data, len(data))
        for b in blobs:
            packed.add(b.blob_id)
            if b.kind == 1:
                raw = data[b.offset : b.offset + b.length]
                trees.append(decode_blob(repo.key, "tree", b.blob_id, raw, b.uncompressed_length, pack_id))
    return indexed, packed, trees


def test_forget_prune_then_restic_checks_and_restores(tmp_path: Path) -> None:
    src = make_corpus(tmp_path / "src")
    repo_path = tmp_path / "repo"
    fast_repo(repo_path)
    gone = src / "random/2mib.bin"
    ids = [_backup(repo_path, src, ["first"])]
    gone.unlink()
    (src / "hello.txt").write_bytes(b"second version\n")
    ids.append(_backup(repo_path, src, ["second"]))
    (src / "text/more.txt").write_bytes(b"third " * 5000)
    ids.append(_backup(repo_path, src, ["third"]))
    before = sum(1 for _ in (repo_path / "data").rglob("*") if _.is_file())

    proc = run_cli(["repo", "-r", str(repo_path), "forget", "--keep-last", "1", "--prune", "--json"], env=ENV)
    groups = json.loads(proc.stdout)
    assert [s["id"] for s in groups[0]["keep"]] == [ids[2]]
    assert sorted(s["id"] for s in groups[0]["remove"]) == sorted(ids[:2])
    assert [s["id"] for s in restic_json(repo_path, "snapshots")] == [ids[2]]

    assert "no errors were found" in restic(repo_path, "check", "--read-data").stdout
    out = tmp_path / "out"
    restic(repo_path, "restore", "latest", "--target", str(out))
    assert tree_digest(out / str(src).lstrip("/")) == tree_digest(src)
    # the deleted 2 MiB file's data is gone from storage, and nothing else is unused
    after = sum(1 for _ in (repo_path / "data").rglob("*") if _.is_file())
    assert after < before
    indexed, packed, _ = _all_stored_blobs(repo_path)
    assert indexed == packed
    p, _index = plan(open_repo(repo_path), max_unused="0%")
    assert p.stats.unused_blobs == 0 and p.changes_nothing
    assert check(open_repo(repo_path), read_data=True).ok


def test_rewrite_exclude_then_prune_erases_the_bytes(tmp_path: Path) -> None:
    src = make_corpus(tmp_path / "src")
    secret = src / "Ünïcødé" / "customer-secret.txt"
    secret_data = b"GDPR: erase me " + hashlib.sha256(b"unique").hexdigest().encode()
    secret.write_bytes(secret_data)
    repo_path = tmp_path / "repo"
    fast_repo(repo_path)
    first = _backup(repo_path, src, ["one"])
    (src / "hello.txt").write_bytes(b"changed\n")
    second = _backup(repo_path, src, ["two"])
    secret_blob = hashlib.sha256(secret_data).digest()
    indexed, packed, trees = _all_stored_blobs(repo_path)
    assert secret_blob in indexed and secret_blob in packed
    assert any(b"customer-secret" in t for t in trees)

    dry = run_cli(
        ["repo", "-r", str(repo_path), "rewrite", "--exclude", "customer-secret.txt", "--dry-run"], env=ENV
    )
    assert "would rewrite" in dry.stdout and str(secret) in dry.stdout
    assert sorted(s["id"] for s in restic_json(repo_path, "snapshots")) == sorted([first, second])

    args = ["rewrite", "--exclude", "/**/customer-secret.txt", "--forget", "--prune", "--json"]
    proc = run_cli(["repo", "-r", str(repo_path), *args], env=ENV)
    result = json.loads(proc.stdout)
    assert {c["old"] for c in result["changed"]} == {first, second}
    assert all(c["removed"] == [str(secret)] for c in result["changed"])
    listed = restic_json(repo_path, "snapshots")
    assert len(listed) == 2
    assert {s["original"] for s in listed} == {first, second}
    assert {tuple(s.get("tags") or []) for s in listed} == {("one",), ("two",)}

    # erased: no index entry, no pack entry, no tree naming it; the rest intact for restic
    indexed, packed, trees = _all_stored_blobs(repo_path)
    assert secret_blob not in indexed and secret_blob not in packed
    assert not any(b"customer-secret" in t for t in trees)
    for f in (repo_path / "data").rglob("*"):
        if f.is_file():
            assert secret_data not in f.read_bytes()
    assert "no errors were found" in restic(repo_path, "check", "--read-data").stdout
    out = tmp_path / "out"
    newest = max(listed, key=lambda s: s["time"])["id"]
    restic(repo_path, "restore", newest, "--target", str(out))
    expected = tree_digest(src)
    del expected[str(secret.relative_to(src))]
    assert tree_digest(out / str(src).lstrip("/")) == expected
    assert check(open_repo(repo_path), read_data=True).ok
    # stable: a further prune finds nothing to do (rewritten trees are stored compressed, as restic wants)
    again, _ = plan(open_repo(repo_path), max_unused="0%")
    assert again.changes_nothing, again.to_json()


def test_rewrite_without_forget_keeps_original_and_tags(tmp_path: Path) -> None:
    src = tmp_path / "src"
    (src / "keep").mkdir(parents=True)
    (src / "keep/a.txt").write_bytes(b"a")
    (src / "drop").mkdir()
    (src / "drop/b.log").write_bytes(b"b")
    repo_path = tmp_path / "repo"
    fast_repo(repo_path)
    first = _backup(repo_path, src)
    run_cli(["repo", "-r", str(repo_path), "rewrite", "-e", "*.log"], env=ENV)
    listed = restic_json(repo_path, "snapshots")
    assert len(listed) == 2
    new = next(s for s in listed if s["id"] != first)
    assert new["original"] == first and new["tags"] == ["rewrite"]
    files = [
        json.loads(line) for line in restic(repo_path, "ls", "--json", new["id"]).stdout.splitlines()[1:]
    ]
    paths = {f["path"] for f in files}
    assert (
        str(src / "keep/a.txt") in paths
        and str(src / "drop") in paths
        and str(src / "drop/b.log") not in paths
    )
    # a second run changes nothing: the rewritten snapshot has no match left, the original is rewritten again
    # to the same tree
    again = json.loads(run_cli(["repo", "-r", str(repo_path), "rewrite", "-e", "*.log", new["id"], "--json"],
                               env=ENV).stdout)  # fmt: skip
    assert again["changed"] == [] and again["unchanged"] == [new["id"]]
    bad = run_cli(["repo", "-r", str(repo_path), "rewrite", "-e", "[unclosed"], env=ENV, check=False)
    assert bad.returncode != 0 and "Traceback" not in bad.stderr


def test_check_and_prune_plan_on_restic_repository(tmp_path: Path) -> None:
    src = make_corpus(tmp_path / "src")
    repo_path = tmp_path / "restic-repo"
    own_restic(repo_path, "init")
    own_restic(repo_path, "backup", str(src), "--host", "h")
    (src / "dup/a.bin").write_bytes(b"edited")
    shutil.rmtree(src / "random")
    own_restic(repo_path, "backup", str(src), "--host", "h")
    own_restic(repo_path, "backup", str(src / "text"), "--host", "h")
    own_restic(repo_path, "forget", "--keep-last", "1", "--group-by", "host")
    # restic's own decision, then ours, on the same repository
    dry = own_restic(repo_path, "prune", "--dry-run", "-vv").stdout
    repo = Repository.open(LocalBackend(repo_path), RESTIC_PASSWORD)
    ours, _ = plan(repo)
    theirs_remove = _ids_after(dry, "Would have removed the following no longer used packs:")
    theirs_repack = _ids_after(dry, "Would have repacked and removed the following packs:")
    assert {p[:8] for p in ours.remove} == theirs_remove
    assert {p[:8] for p in ours.repack} == theirs_repack
    assert ours.remove  # the forgotten snapshots left whole packs unused

    own_restic(repo_path, "prune")
    report = check(repo, read_data=True)
    assert report.ok, report.errors
    assert report.packs_read == report.packs > 0


def _ids_after(text: str, heading: str) -> set[str]:
    if heading not in text:
        return set()
    block = text.split(heading, 1)[1].split("\n\n", 1)[0]
    return {m[:8] for m in re.findall(r"[0-9a-f]{8,64}", block)}
