"""`check` on damaged repositories: a flipped byte in a pack, a deleted pack, a truncated index.

Each damage is made on a fresh copy of one repository written by boxvault (two snapshots, small packs). check
must fail, name the damaged blobs, the snapshots and the file paths they affect; restore of every undamaged
file must still work and give the original bytes.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest
from maint_support import PASSWORD, fast_repo, open_repo, restic

from boxvault.engine.check import check, select_subset
from boxvault.engine.localdir import backup
from boxvault.engine.maint_io import list_ids, load_json, pack_name, parse_index, read_blob
from boxvault.engine.reader import restore
from boxvault.engine.tree import decode_tree
from support import run_cli

ENV = {"RESTIC_PASSWORD": PASSWORD}

PACK = 2**20  # the writer's minimum; files below 512 KiB are one blob each


def _write_files(root: Path, names: dict[str, int], seed: int) -> None:
    for i, (name, size) in enumerate(names.items()):
        p = root / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(hashlib.shake_256(f"{seed}-{i}-{name}".encode()).digest(size))


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, list[str]]:
    base = tmp_path_factory.mktemp("damage")
    src = base / "src"
    _write_files(src, {f"docs/file{i:02d}.bin": 300_000 + i * 1000 for i in range(12)}, seed=1)
    _write_files(src, {"Ünïcødé/ファイル.txt": 5000, "deep/a/b/c/leaf.bin": 70_000}, seed=2)
    repo = fast_repo(base / "repo")
    snaps = []
    with repo.writer(pack_size=PACK) as w:
        snaps.append(backup(repo, w, [str(src)], hostname="h", tags=[])[0])
    _write_files(src, {f"later/new{i}.bin": 400_000 for i in range(4)}, seed=3)
    with repo.writer(pack_size=PACK) as w:
        snaps.append(backup(repo, w, [str(src)], hostname="h", tags=[])[0])
    return base / "repo", src, snaps


def _copy(pristine: tuple[Path, Path, list[str]], tmp_path: Path) -> Path:
    dst = tmp_path / "repo"
    shutil.copytree(pristine[0], dst)
    return dst


def _index(repo_path: Path) -> dict[tuple[str, bytes], list[tuple[str, str]]]:
    """blob -> [(pack id, index file id)]"""
    repo = open_repo(repo_path)
    out: dict[tuple[str, bytes], list[tuple[str, str]]] = {}
    for index_id, _ in list_ids(repo, "index"):
        records, _ = parse_index(load_json(repo, f"index/{index_id}"), index_id)
        for r in records:
            out.setdefault((r.kind, r.blob_id), []).append((r.pack_id, index_id))
    return out


def _blob_of(path: Path) -> bytes:
    # files below 512 KiB are a single chunk: the blob id is the SHA-256 of the content
    return hashlib.sha256(path.read_bytes()).digest()


def _restore_except(repo_path: Path, snapshot_id: str, src: Path, damaged: set[str], out: Path) -> int:
    """Restore every file check did not name, with boxvault, and compare with the source."""
    repo = open_repo(repo_path)
    snap = repo.find_snapshot(snapshot_id)
    wanted = []
    for p in sorted(src.rglob("*")):
        if p.is_file() and str(p) not in damaged:
            wanted.append(str(p))
    restore(repo, snap, str(out), wanted)
    for name in wanted:
        assert (out / name.lstrip("/")).read_bytes() == Path(name).read_bytes(), name
    return len(wanted)


def test_pristine_repository_checks_clean(pristine: tuple[Path, Path, list[str]]) -> None:
    report = check(open_repo(pristine[0]), read_data=True)
    assert report.ok, report.errors
    assert report.packs_read == report.packs > 5
    assert not report.damaged and not report.affected


def test_flipped_byte_in_pack_names_blob_snapshots_and_file(
    pristine: tuple[Path, Path, list[str]], tmp_path: Path
) -> None:
    repo_path = _copy(pristine, tmp_path)
    src, snaps = pristine[1], pristine[2]
    blob = _blob_of(src / "docs/file03.bin")
    pack_id = _index(repo_path)[("data", blob)][0][0]
    pack_file = repo_path / pack_name(pack_id)
    data = bytearray(pack_file.read_bytes())
    data[100] ^= 0x01  # inside the first blob of the pack
    pack_file.write_bytes(bytes(data))

    # without --read-data the pack still looks right (same size, intact header)
    assert check(open_repo(repo_path)).ok
    proc = run_cli(["repo", "-r", str(repo_path), "check", "--read-data", "--json"],
                   env={"RESTIC_PASSWORD": PASSWORD}, check=False)  # fmt: skip
    assert proc.returncode == 1, proc.stderr
    report = json.loads(proc.stdout)
    assert not report["ok"]
    damaged_ids = {b["id"] for b in report["damaged_blobs"]}
    affected = {(a["snapshot"], a["path"]) for a in report["affected"]}
    # only the blob at offset 0 of that pack is damaged; every file made of it is named in both snapshots
    repo = open_repo(repo_path)
    first = next(
        r for i, _ in list_ids(repo, "index")
        for r in parse_index(load_json(repo, f"index/{i}"), i)[0] if r.pack_id == pack_id and r.offset == 0
    )  # fmt: skip
    assert damaged_ids == {first.blob_id.hex()}
    first_blob_files = {str(p) for p in src.rglob("*") if p.is_file() and _blob_of(p) == first.blob_id}
    assert first_blob_files and {a["path"] for a in report["affected"]} == first_blob_files
    for path in first_blob_files:
        assert {(snaps[0], path), (snaps[1], path)} <= affected
    assert any(pack_id in e for e in report["errors"])

    # the human output names the same files
    text = run_cli(["repo", "-r", str(repo_path), "check", "--read-data"], env={"RESTIC_PASSWORD": PASSWORD},
                   check=False)  # fmt: skip
    assert text.returncode == 1
    for path in first_blob_files:
        assert path in text.stderr
    assert "repository contains errors" in text.stdout

    restored = _restore_except(repo_path, snaps[1], src, first_blob_files, tmp_path / "out")
    assert restored >= 15
    assert not restic(repo_path, "check", "--read-data", check=False).returncode == 0


def test_deleted_pack_is_reported_without_read_data(
    pristine: tuple[Path, Path, list[str]], tmp_path: Path
) -> None:
    repo_path = _copy(pristine, tmp_path)
    src, snaps = pristine[1], pristine[2]
    victim = src / "deep/a/b/c/leaf.bin"
    pack_id = _index(repo_path)[("data", _blob_of(victim))][0][0]
    in_pack = {k for k, v in _index(repo_path).items() if any(p == pack_id for p, _ in v)}
    (repo_path / pack_name(pack_id)).unlink()

    report = check(open_repo(repo_path))
    assert not report.ok
    assert any(pack_id in e and "missing" in e for e in report.errors)
    assert set(report.damaged) == in_pack
    named = report.damaged_paths()
    assert str(victim) in named[snaps[0]] and str(victim) in named[snaps[1]]
    expected = {str(p) for p in src.rglob("*") if p.is_file() and ("data", _blob_of(p)) in in_pack}
    assert set(named[snaps[1]]) == expected
    _restore_except(repo_path, snaps[1], src, expected, tmp_path / "out")


def test_truncated_index_is_reported(pristine: tuple[Path, Path, list[str]], tmp_path: Path) -> None:
    repo_path = _copy(pristine, tmp_path)
    src, snaps = pristine[1], pristine[2]
    # the index written by the second backup describes only what was new then: later/*.bin and new trees
    index = _index(repo_path)
    victim = src / "later/new2.bin"
    index_id = index[("data", _blob_of(victim))][0][1]
    index_file = repo_path / "index" / index_id
    index_file.write_bytes(index_file.read_bytes()[: index_file.stat().st_size // 2])

    report = check(open_repo(repo_path))
    assert not report.ok
    assert any(index_id in e for e in report.errors)
    named = report.damaged_paths()
    # the second snapshot's root tree was in that index: nothing of it restores until the index is
    # rebuilt, and the files whose data went with it are named one by one
    assert snaps[1] in named
    assert {str(src / f"later/new{i}.bin") for i in range(4)} <= set(named[snaps[1]])
    assert snaps[0] not in named  # the first snapshot is fully indexed elsewhere
    # unlike restic 0.14, boxvault's reader skips the damaged index with a warning naming it, so the snapshot
    # that other index files fully describe restores without a repair first
    proc = run_cli(["repo", "-r", str(repo_path), "restore", snaps[0], "--target", str(tmp_path / "out0")],
                   env={"RESTIC_PASSWORD": PASSWORD}, check=False)  # fmt: skip
    assert proc.returncode == 0 and index_id in proc.stderr and "Traceback" not in proc.stderr, proc.stderr
    assert (tmp_path / "out0" / str(src).lstrip("/")).is_dir()
    # the second snapshot's root tree was only in the damaged index: a clear error, no traceback
    proc = run_cli(["repo", "-r", str(repo_path), "restore", snaps[1], "--target", str(tmp_path / "out1")],
                   env={"RESTIC_PASSWORD": PASSWORD}, check=False)  # fmt: skip
    assert proc.returncode != 0 and "Traceback" not in proc.stderr, proc.stderr

    # the remedy: rebuild the index from the pack headers; then everything restores again
    repaired = json.loads(
        run_cli(["repo", "-r", str(repo_path), "repair", "index", "--json"], env=ENV).stdout
    )
    assert repaired["damaged_index_files"] == [index_id] and repaired["packs_read"] >= 1
    assert check(open_repo(repo_path), read_data=True).ok
    assert "no errors were found" in restic(repo_path, "check", "--read-data").stdout
    _restore_except(repo_path, snaps[1], src, set(), tmp_path / "out")


def test_read_data_subset_selection() -> None:
    packs = {f"{i:02x}" + "0" * 62: 1000 for i in range(256)}
    one = select_subset(packs, "1/4")
    assert len(one) == 64 and all(int(p[:2], 16) % 4 == 0 for p in one)
    assert set().union(*(select_subset(packs, f"{n}/4") for n in range(1, 5))) == set(packs)
    assert len(select_subset(packs, "10%")) == 26
    assert 5 <= len(select_subset(packs, "5k")) <= 6
    for bad in ("0/4", "5/4", "abc", "0%", "101%"):
        with pytest.raises(ValueError):
            select_subset(packs, bad)


def test_check_read_data_subset_cli(pristine: tuple[Path, Path, list[str]]) -> None:
    reports = [
        json.loads(
            run_cli(
                ["repo", "-r", str(pristine[0]), "check", "--read-data-subset", f"{n}/2", "--json"],
                env={"RESTIC_PASSWORD": PASSWORD},
            ).stdout
        )
        for n in (1, 2)
    ]
    # which packs fall in which half depends on their (random) ids; the two halves read each pack once
    assert all(r["ok"] for r in reports)
    assert reports[0]["packs_read"] + reports[1]["packs_read"] == reports[0]["packs"] > 1
    bad = run_cli(["repo", "-r", str(pristine[0]), "check", "--read-data-subset", "7/3"],
                  env={"RESTIC_PASSWORD": PASSWORD}, check=False)  # fmt: skip
    assert bad.returncode != 0 and "Traceback" not in bad.stderr


def test_damaged_tree_and_snapshot_files(pristine: tuple[Path, Path, list[str]], tmp_path: Path) -> None:
    repo_path = _copy(pristine, tmp_path)
    src, snaps = pristine[1], pristine[2]
    repo = open_repo(repo_path)
    trees = [
        r
        for i, _ in list_ids(repo, "index")
        for r in parse_index(load_json(repo, f"index/{i}"), i)[0]
        if r.kind == "tree"
    ]
    # the tree of directory "deep/a/b/c" in the second snapshot (node times differ between the snapshots, so
    # each has its own copy): damage its bytes
    leaf_path = str(src / "deep/a/b/c")
    subtree = next(n.subtree for p, n in repo.walk(repo.find_snapshot(snaps[1])) if p == leaf_path)
    leaf_dir = next(r for r in trees if r.blob_id == subtree)
    assert [n.name for n in decode_tree(read_blob(repo, leaf_dir))] == ["leaf.bin"]
    pack_file = repo_path / pack_name(leaf_dir.pack_id)
    data = bytearray(pack_file.read_bytes())
    data[leaf_dir.offset + 20] ^= 0xFF
    pack_file.write_bytes(bytes(data))
    # and one snapshot file: its name no longer matches its content
    snap_file = repo_path / "snapshots" / snaps[0]
    snap_file.write_bytes(snap_file.read_bytes()[:-1] + b"\0")

    report = check(open_repo(repo_path))  # trees are read by the structure check, no --read-data needed
    assert not report.ok
    assert any(snaps[0] in e for e in report.errors)
    assert ("tree", leaf_dir.blob_id) in report.damaged
    named = report.damaged_paths()
    assert named == {snaps[1]: [str(src / "deep/a/b/c")]}
    assert report.affected[0].kind == "tree"
