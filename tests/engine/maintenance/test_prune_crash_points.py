"""prune interrupted after every one of its storage writes and deletes, deterministically.

The random kill -9 test (test_maint_crash.py) samples moments; this one stops prune right before each
mutating storage operation in turn (writes and deletes, locks aside), then requires that restic checks the
repository clean, that a new prune completes, and that the data is intact.
"""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from maint_support import fast_repo, open_repo, restic

from boxvault.engine.check import check
from boxvault.engine.forget import ExpirePolicy
from boxvault.engine.forget_run import forget
from boxvault.engine.localdir import backup
from boxvault.engine.maint_io import PackBuilder
from boxvault.engine.prune import prune
from support import require_binary


class Crash(Exception):
    pass


class CrashingBackend:
    """Delegates to a backend, failing at the n-th mutating call (locks do not count)."""

    def __init__(self, inner: object, crash_at: int | None) -> None:
        self.inner = inner
        self.crash_at = crash_at
        self.calls: list[str] = []

    def __getattr__(self, name: str) -> object:
        return getattr(self.inner, name)

    def _count(self, what: str, name: str) -> None:
        if name.startswith("locks/"):
            return
        if self.crash_at is not None and len(self.calls) == self.crash_at:
            raise Crash(f"crash before {what} {name}")
        self.calls.append(f"{what} {name}")

    def write(self, name: str, data: bytes) -> None:
        self._count("write", name)
        self.inner.write(name, data)  # type: ignore[attr-defined]

    def delete(self, name: str) -> None:
        self._count("delete", name)
        self.inner.delete(name)  # type: ignore[attr-defined]

    def list(self, directory: str) -> Iterator[tuple[str, int]]:
        return self.inner.list(directory)  # type: ignore[attr-defined, no-any-return]


def _files(root: Path, seed: int, names: range) -> None:
    for i in names:
        p = root / f"f{i:02d}.bin"
        p.write_bytes(hashlib.shake_256(f"{seed}-{i}".encode()).digest(250_000))


@pytest.fixture(scope="module")
def garbage_repo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A repository with unused packs, partly used packs and an unindexed pack."""
    base = tmp_path_factory.mktemp("crashpoints")
    src = base / "src"
    src.mkdir()
    repo = fast_repo(base / "repo")
    for round_no in range(3):
        _files(src, round_no, range(round_no * 3, 12))  # later rounds change a few files
        with repo.writer(pack_size=2**20) as w:
            backup(repo, w, [str(src)], hostname="h", tags=[])
    forget(repo, ExpirePolicy(last=1))
    orphan = PackBuilder(repo, 2**20)  # a pack no index mentions, as a killed backup leaves it
    orphan.add_plain("data", b"orphan " * 10_000)
    orphan.finish()
    return base / "repo", src


def test_prune_interrupted_at_every_step(garbage_repo: tuple[Path, Path], tmp_path: Path) -> None:
    require_binary("restic")
    pristine, src = garbage_repo
    probe_path = tmp_path / "probe"
    shutil.copytree(pristine, probe_path)
    probe = open_repo(probe_path)
    counter = CrashingBackend(probe.backend, None)
    probe.backend = counter  # type: ignore[assignment]
    result = prune(probe, max_unused="0%", pack_size=2**20)
    assert result.plan.remove and result.plan.repack, "the fixture must need removal and repacking"
    steps = counter.calls
    assert len(result.plan.remove_first) == 1
    kinds = [c.split()[0] + " " + c.split()[1].split("/")[0] for c in steps]
    # restic's order: unindexed packs, new packs, the new index, old index files, obsolete packs
    assert kinds[0] == "delete data" and result.plan.remove_first.pop() in steps[0]
    order = ["write data", "write index", "delete index", "delete data"]
    assert kinds[1:] == sorted(kinds[1:], key=order.index)
    assert set(kinds) == set(order)

    # every step is a crash point (at most 12, spread evenly, to bound the run time)
    points = (
        sorted({round(i * (len(steps) - 1) / 11) for i in range(12)})
        if len(steps) > 12
        else range(len(steps))
    )
    for k in points:
        path = tmp_path / f"crash{k}"
        shutil.copytree(pristine, path)
        repo = open_repo(path)
        repo.backend = CrashingBackend(repo.backend, k)  # type: ignore[assignment]
        with pytest.raises(Crash):
            prune(repo, max_unused="0%", pack_size=2**20)
        checked = restic(path, "check", "--no-lock", check=False)
        assert checked.returncode == 0, (
            f"crash before step {k} ({steps[k]}):\n{checked.stdout}\n{checked.stderr}"
        )
        again = open_repo(path)
        assert check(again).ok
        prune(again, max_unused="0%", pack_size=2**20)  # completes, whatever the interrupted one left
        report = check(open_repo(path), read_data=True)
        assert report.ok, (k, report.errors)
    restic(path, "unlock")
    out = tmp_path / "out"
    restic(path, "restore", "latest", "--target", str(out))
    for f in src.iterdir():
        assert (out / str(f).lstrip("/")).read_bytes() == f.read_bytes()
