"""Helpers for the maintenance tests: fast repositories (cheap scrypt), restic runs, snapshot documents."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

from boxvault.engine import gojson
from boxvault.engine.keys import new_key_file
from boxvault.engine.repository import Repository
from boxvault.engine.storage import LocalBackend

PASSWORD = "maint-test-password"


def fast_repo(path: Path) -> Repository:
    """A new repository whose only key uses small scrypt parameters, so restic opens it in milliseconds."""
    repo = Repository.init(LocalBackend(str(path), str(path)), PASSWORD)
    old = repo.key_id
    key_id, raw = new_key_file(repo.key, PASSWORD, n=1024, r=8, p=1)
    repo.backend.write(f"keys/{key_id}", raw)
    repo.backend.delete(f"keys/{old}")
    repo.key_id = key_id
    return repo


def open_repo(path: Path) -> Repository:
    return Repository.open(LocalBackend(str(path), str(path)), PASSWORD)


def restic_env(path: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(RESTIC_REPOSITORY=str(path), RESTIC_PASSWORD=PASSWORD, RESTIC_CACHE_DIR=str(path) + ".cache")
    env.pop("RESTIC_PASSWORD_FILE", None)
    return env


def restic(
    path: Path, *args: str, check: bool = True, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        ["restic", "--no-cache", *args], env=restic_env(path), capture_output=True, text=True, timeout=timeout
    )
    if check and proc.returncode != 0:
        raise AssertionError(
            f"restic {' '.join(args)} exited {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
        )
    return proc


def restic_json(path: Path, *args: str) -> Any:
    out = restic(path, "--json", *args).stdout
    # restic may print progress lines before the JSON document
    for line in reversed(out.strip().splitlines()):
        if line.startswith(("[", "{")):
            return json.loads(line)
    return None


def snapshot_doc(time: str, hostname: str, paths: list[str], tags: list[str], tree: str) -> dict[str, Any]:
    doc: dict[str, Any] = {"time": time, "tree": tree, "paths": paths, "hostname": hostname, "username": "t"}
    if tags:
        doc["tags"] = tags
    gojson.parse_time(time)
    return doc
