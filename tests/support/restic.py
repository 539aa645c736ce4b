"""Running the restic binary against a repository, and a corpus of awkward files for interop tests."""

from __future__ import annotations

import hashlib
import json
import os
import stat
import subprocess
from pathlib import Path
from typing import Any

import numpy as np

from . import require_binary

PASSWORD = "correct horse battery staple"


def restic_env(repo: str | Path, password: str = PASSWORD) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RESTIC_")}
    env.update({"RESTIC_REPOSITORY": str(repo), "RESTIC_PASSWORD": password, "RESTIC_CACHE_DIR": "",
                "HOME": env.get("HOME", "/tmp")})  # fmt: skip
    return env


def restic(
    repo: str | Path, *args: str, password: str = PASSWORD, check: bool = True, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    binary = require_binary("restic")
    proc = subprocess.run([binary, "--no-cache", *args], env=restic_env(repo, password), capture_output=True,
                          text=True, timeout=timeout)  # fmt: skip
    if check and proc.returncode != 0:
        raise AssertionError(
            f"restic {' '.join(args)} exited {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
        )
    return proc


def restic_json(repo: str | Path, *args: str, password: str = PASSWORD) -> Any:
    return json.loads(restic(repo, *args, "--json", password=password).stdout)


def restic_bytes(repo: str | Path, *args: str, password: str = PASSWORD) -> bytes:
    binary = require_binary("restic")
    proc = subprocess.run([binary, "--no-cache", *args], env=restic_env(repo, password), capture_output=True,
                          timeout=300)  # fmt: skip
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")
    return proc.stdout


def make_corpus(root: Path, *, seed: int = 7, big_size: int = 0) -> Path:
    """Unicode and odd names, empty files and folders, deep paths, identical files, a symlink, and (if
    ``big_size``) one large random file. Small otherwise: a few MiB."""
    rng = np.random.default_rng(seed)
    root.mkdir(parents=True, exist_ok=True)

    def put(rel: str, data: bytes) -> None:
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data)

    put("hello.txt", b"hello world\n")
    put("empty.bin", b"")
    (root / "empty folder").mkdir()
    put("Ünïcødé/日本語のファイル.txt", "こんにちは\n".encode())
    put("Ünïcødé/emoji 🎉 file.md", "# 🎉\n".encode())
    put('odd/quote " and backslash \\ and <tag> & amp', b"odd names\n")
    put("odd/tab\tand newline\nname", b"control characters\n")
    put("odd/ leading and trailing space ", b"spaces\n")
    deep = "/".join(f"level{i:02d}" for i in range(30))
    put(f"deep/{deep}/bottom.txt", b"deep\n")
    same = rng.bytes(700_000)
    put("dup/a.bin", same)
    put("dup/b.bin", same)
    put("dup/sub/c.bin", same)
    put("random/2mib.bin", rng.bytes(2 * 2**20 + 123))
    put("text/lorem.txt", b"lorem ipsum dolor sit amet " * 40_000)
    os.symlink("hello.txt", root / "link-to-hello")
    os.chmod(root / "hello.txt", 0o640)
    os.chmod(root / "random/2mib.bin", 0o600)
    os.utime(root / "text/lorem.txt", ns=(1_600_000_000_123_456_789, 1_600_000_000_987_654_321))
    if big_size:
        with open(root / "big.bin", "wb") as f:
            left = big_size
            while left:
                n = min(left, 8 * 2**20)
                f.write(rng.bytes(n))
                left -= n
    return root


def tree_digest(root: Path, *, with_mtime: bool = True) -> dict[str, tuple[Any, ...]]:
    """Relative path -> (type, content hash or link target, permission bits[, mtime ns]) of a directory."""
    out: dict[str, tuple[Any, ...]] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            p = Path(dirpath) / name
            rel = str(p.relative_to(root))
            st = os.lstat(p)
            if stat.S_ISLNK(st.st_mode):
                out[rel] = ("symlink", os.readlink(p))
            elif stat.S_ISDIR(st.st_mode):
                out[rel] = ("dir", stat.S_IMODE(st.st_mode))
            else:
                h = hashlib.sha256()
                with open(p, "rb") as f:
                    for block in iter(lambda: f.read(2**20), b""):
                        h.update(block)
                entry: tuple[Any, ...] = ("file", h.hexdigest(), stat.S_IMODE(st.st_mode))
                if with_mtime:
                    entry += (st.st_mtime_ns,)
                out[rel] = entry
    return out


def reopen(path: str | Path, password: str = PASSWORD) -> Any:
    """Open a repository with boxvault (a fresh Repository, so nothing cached from the writer is reused)."""
    from boxvault.engine.repository import Repository
    from boxvault.engine.storage import LocalBackend

    return Repository.open(LocalBackend(path), password)
