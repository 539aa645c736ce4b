"""Erasing an item also erases its copies in the kept Box trash (later snapshots), and erasing something in
the kept trash erases it where it lived before it was trashed (earlier snapshots): no copy survives."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from boxvault.engine.builder import NodeMeta
from boxvault.engine.repository import Repository
from boxvault.engine.storage import LocalBackend
from boxvault.recovery.erasing import erase

PASSWORD = "erase-trash"
SECRET = b"salary list, not to be kept\n" * 20
T = datetime(2026, 12, 1, tzinfo=UTC)


def _meta(box_id: str, **more: str) -> NodeMeta:
    attrs = {"box.type": "folder" if box_id.startswith("d") else "file", "box.id": box_id, **more}
    return NodeMeta(mtime=T, extended_attributes={k: v.encode() for k, v in attrs.items()})


def _two_snapshots(repo: Repository) -> None:
    """Day 1: /u/HR/pay.txt live. Day 2: HR in the user's Box trash, kept under /u/.box-trash/HR."""
    with repo.writer() as w:
        for day, base in ((1, "/u/HR"), (2, "/u/.box-trash/HR")):
            b = w.snapshot(hostname="box-1", paths=["/u"], tags=["box", "user:7"], time=T.replace(day=day))
            b.add_dir("/u", meta=_meta("0"))
            extra = {"box.trashed_at": "2026-12-01T10:00:00Z", "box.original_path": "HR"} if day == 2 else {}
            b.add_dir(base, meta=_meta("d1", **extra))
            with b.add_file(f"{base}/pay.txt", meta=_meta("f1")) as f:
                f.write(SECRET)
            with b.add_file("/u/keep.txt", meta=_meta("f2")) as f:
                f.write(b"stays")
            b.commit()


def _paths(repo: Repository) -> set[str]:
    return {p for s in repo.list_snapshots(tags=["user:7"]) for p, _ in repo.walk(s)}


def test_erasing_a_live_path_erases_its_trash_copy_and_the_reverse(tmp_path: Path) -> None:
    for chosen, other in (("/u/HR/pay.txt", "/u/.box-trash/HR/pay.txt"), ("/u/.box-trash/HR", "/u/HR")):
        where = LocalBackend(tmp_path / chosen.replace("/", "_"))
        _two_snapshots(Repository.init(where, PASSWORD))
        repo = Repository.open(where, PASSWORD)
        assert {chosen, other} <= _paths(repo)  # the test can fail
        out = erase(repo, "7", [chosen], whole_user=False, log=lambda _line: None)
        assert other in out.targets, out.targets
        repo.close()
        repo = Repository.open(where, PASSWORD)  # the index as prune left it
        left = _paths(repo)
        assert not any(p.startswith(chosen) or p.startswith(other) for p in left), left
        assert "/u/keep.txt" in left
        assert not any(
            SECRET[:40] in repo.load_blob(b)
            for s in repo.list_snapshots()
            for _p, n in repo.walk(s)
            for b in (n.content or [])
        )
        repo.close()
