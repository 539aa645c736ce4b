"""The maintenance commands' CLI contract: dry runs change nothing, bad input is a clear error, exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from maint_support import PASSWORD, fast_repo, open_repo, snapshot_doc

from boxvault.engine import gojson
from boxvault.engine.localdir import backup
from support import run_cli

ENV = {"RESTIC_PASSWORD": PASSWORD}


@pytest.fixture(scope="module")
def repo_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("maintcli")
    src = base / "src"
    src.mkdir()
    (src / "a.txt").write_bytes(b"a" * 1000)
    repo = fast_repo(base / "repo")
    with repo.writer(pack_size=2**20) as w:
        backup(repo, w, [str(src)], hostname="cli-host", tags=["x"])
    (src / "a.txt").write_bytes(b"b" * 1000)
    with repo.writer(pack_size=2**20) as w:
        backup(repo, w, [str(src)], hostname="cli-host", tags=["x"])
    return base / "repo"


def _state(path: Path) -> set[str]:
    return {str(p.relative_to(path)) for p in path.rglob("*") if p.is_file() and "locks" not in p.parts}


def test_dry_runs_change_nothing(repo_path: Path) -> None:
    before = _state(repo_path)
    out = run_cli(
        ["repo", "-r", str(repo_path), "forget", "--keep-last", "1", "--dry-run", "--prune"], env=ENV
    )
    assert "would remove 1 snapshots" in out.stdout and "dry run" in out.stdout
    out = run_cli(["repo", "-r", str(repo_path), "prune", "--dry-run", "--json"], env=ENV)
    assert json.loads(out.stdout)["dry_run"] is True
    out = run_cli(["repo", "-r", str(repo_path), "rewrite", "-e", "a.txt", "--dry-run", "--forget"], env=ENV)
    assert "would rewrite" in out.stdout
    assert _state(repo_path) == before


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["forget", "--keep-within", "5x"], "invalid unit"),
        (["forget", "--keep-daily", "-3"], "--keep-daily"),
        (["forget", "--group-by", "colour"], "unknown grouping option"),
        (["forget", "--keep-last", "1", "--max-unused", "150%"], "below 100%"),
        (["forget", "nosuchid"], "no snapshot matches"),
        (["prune", "--max-unused", "lots"], "--max-unused"),
        (["prune", "--max-repack-size", "1Q"], "invalid size"),
        (["check", "--read-data-subset", "0/5"], "1 <= n <= t"),
        (["rewrite"], "at least one --exclude"),
        (["rewrite", "-e", "x", "--prune"], "--prune needs --forget"),
        (["rewrite", "-e", "x", "--exclude-file", "/nonexistent/file"], "cannot read exclude file"),
        (["rewrite", "-e", "x", "deadbeef"], "no snapshot matches"),
    ],
)
def test_bad_input_is_a_clear_error(repo_path: Path, args: list[str], message: str) -> None:
    proc = run_cli(["repo", "-r", str(repo_path), *args], env=ENV, check=False)
    assert proc.returncode != 0
    assert message in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr


def test_wrong_password_and_missing_repo(repo_path: Path, tmp_path: Path) -> None:
    proc = run_cli(["repo", "-r", str(repo_path), "check"], env={"RESTIC_PASSWORD": "nope"}, check=False)
    assert proc.returncode != 0 and "wrong password" in proc.stderr
    proc = run_cli(["repo", "-r", str(tmp_path / "none"), "prune"], env=ENV, check=False)
    assert proc.returncode != 0 and "Traceback" not in proc.stderr


def test_forget_human_output_and_groups(tmp_path: Path) -> None:
    path = tmp_path / "repo"
    repo = fast_repo(path)
    tree = "00" * 32
    for day in range(1, 6):
        for host in ("a", "b"):
            t = gojson.format_time_ns(
                gojson.datetime_to_ns(gojson.parse_datetime(f"2025-03-0{day}T10:00:00Z"))
            )
            repo.save_json("snapshots", snapshot_doc(t, host, ["/d"], [], tree))
    out = run_cli(["repo", "-r", str(path), "forget", "--keep-daily", "2", "--no-keep-oldest"], env=ENV)
    assert "Applying Policy: keep 2 daily snapshots" in out.stdout
    assert out.stdout.count("keep 2 snapshots:") == 2 and "removed 6 snapshots" in out.stdout
    left = open_repo(path).list_snapshots()
    assert sorted((s.hostname, s.time[:10]) for s in left) == [
        ("a", "2025-03-04"), ("a", "2025-03-05"), ("b", "2025-03-04"), ("b", "2025-03-05"),
    ]  # fmt: skip
    out = run_cli(
        ["repo", "-r", str(path), "forget", "--keep-last", "1", "--group-by", "", "--json"], env=ENV
    )
    groups = json.loads(out.stdout)
    assert len(groups) == 1 and groups[0]["host"] == "" and len(groups[0]["remove"]) == 3
    assert len(open_repo(path).list_snapshots()) == 1
