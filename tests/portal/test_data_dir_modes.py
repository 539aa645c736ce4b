"""The data directory (database, queue, secret key, exports, repositories) is readable by its owner only."""

from __future__ import annotations

import stat
from pathlib import Path

from support import run_cli


def test_everything_in_the_data_directory_is_owner_only(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir(mode=0o755)
    old = data / "left-by-an-older-release.sqlite3"
    old.write_text("x")
    old.chmod(0o644)
    (data / "exports").mkdir(mode=0o755)
    run_cli(["manage", "migrate", "-v", "0"], env={"BOXVAULT_DATA": str(data), "DATABASE_URL": ""})
    found = [data, *data.rglob("*")]
    assert any(p.name.endswith(".sqlite3") and p != old for p in found), found  # the database was created
    for path in found:
        mode = stat.S_IMODE(path.lstat().st_mode)
        assert mode & 0o077 == 0, f"{path}: {oct(mode)}"
