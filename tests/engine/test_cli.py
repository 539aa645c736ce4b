"""`boxvault repo` end to end as a subprocess, compared with restic's view of the same repository."""

from __future__ import annotations

import json
from pathlib import Path

from support import run_cli
from support.restic import PASSWORD, make_corpus, restic, restic_json, tree_digest


def test_init_backup_snapshots_ls_restore_key_cat(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    src = make_corpus(tmp_path / "src")
    pw_file = tmp_path / "pw"
    pw_file.write_text(PASSWORD + "\n")
    env = {"RESTIC_REPOSITORY": str(repo), "RESTIC_PASSWORD_FILE": str(pw_file)}

    assert "created restic repository" in run_cli(["repo", "init"], env=env).stdout
    out = run_cli(["repo", "backup", str(src), "--tag", "a,b", "--host", "cli-host"], env=env).stdout
    assert "snapshot" in out and "saved" in out
    run_cli(["repo", "backup", str(src), "--host", "cli-host", "--json"], env=env)

    ours = json.loads(run_cli(["repo", "snapshots", "--json"], env=env).stdout)
    theirs = restic_json(repo, "snapshots")
    assert [s["id"] for s in ours] == [s["id"] for s in theirs]
    keys = ("time", "tree", "paths", "hostname", "username", "tags", "id", "short_id", "parent")
    assert [{k: s.get(k) for k in keys} for s in ours] == [{k: s.get(k) for k in keys} for s in theirs]
    tagged = json.loads(run_cli(["repo", "snapshots", "--json", "--tag", "b"], env=env).stdout)
    assert [s["id"] for s in tagged] == [theirs[0]["id"]]

    lines = [json.loads(x) for x in run_cli(["repo", "ls", "latest", "--json"], env=env).stdout.splitlines()]
    assert lines[0]["struct_type"] == "snapshot" and lines[0]["id"] == theirs[-1]["id"]
    paths = {x["path"] for x in lines[1:]}
    restic_paths = {
        json.loads(x).get("path") for x in restic(repo, "ls", "latest", "--json").stdout.splitlines()
    }
    assert paths == restic_paths - {None}

    target = tmp_path / "restored"
    run_cli(["repo", "restore", "latest", "--target", str(target)], env=env)
    assert tree_digest(target / str(src).lstrip("/")) == tree_digest(src)
    partial = tmp_path / "partial"
    run_cli(["repo", "restore", theirs[0]["short_id"], "--target", str(partial), "--include", f"{src}/dup"],
            env=env)  # fmt: skip
    assert sorted(p.name for p in (partial / str(src).lstrip("/")).iterdir()) == ["dup"]

    new_pw = tmp_path / "new-pw"
    new_pw.write_text("another password\n")
    run_cli(["repo", "key", "add", "--new-password-file", str(new_pw)], env=env)
    assert len(restic_json(repo, "key", "list")) == 2
    restic(repo, "snapshots", password="another password")
    listed = run_cli(["repo", "key", "list", "--json"], env=env).stdout
    assert sum(k["current"] for k in json.loads(listed)) == 1

    config = json.loads(run_cli(["repo", "cat", "config"], env=env).stdout)
    assert config == restic_json(repo, "cat", "config")
    snap = json.loads(run_cli(["repo", "cat", "snapshot", theirs[0]["id"][:10]], env=env).stdout)
    assert snap["tree"] == theirs[0]["tree"]
    tree = run_cli(["repo", "cat", "blob", theirs[0]["tree"]], env=env).stdout
    assert json.loads(tree)["nodes"][0]["name"] == "tmp"
    assert "no errors were found" in restic(repo, "check", "--read-data").stdout
