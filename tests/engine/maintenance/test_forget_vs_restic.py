"""Our keep rules against the restic binary's own decisions (`restic forget --dry-run --json`).

Hypothesis generates snapshot lists (times over years, hosts, tags, paths) and policies; each example is
written as real snapshot files and both implementations decide. restic here is 0.14, so the comparison uses
``keep_oldest=False`` (the 0.14 rule set).
"""

from __future__ import annotations

import secrets
import shutil
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from maint_support import fast_repo, open_repo, restic_json, snapshot_doc

from boxvault.engine import gojson
from boxvault.engine.forget import Duration, ExpirePolicy, apply_policy, group_snapshots
from boxvault.engine.maint_io import load_snapshots
from support import require_binary

BASE = datetime(2024, 6, 1, tzinfo=UTC)

snapshot_st = st.tuples(
    st.integers(min_value=0, max_value=3 * 365 * 24 * 60),  # minutes before BASE
    st.sampled_from(["h1", "h2"]),
    st.sampled_from([(), ("a",), ("a", "b"), ("b",)]),
    st.sampled_from([("/data",), ("/data", "/etc")]),
    st.sampled_from([0, 2, -5]),  # UTC offset in hours: bucketing happens in the stored wall-clock time
)
durations = st.one_of(
    st.just(""),
    st.builds(lambda y, m, d, h: f"{y}y{m}m{d}d{h}h", *(st.integers(0, n) for n in (1, 14, 40, 50))),
)
policy_st = st.fixed_dictionaries(
    {
        "last": st.integers(0, 5),
        "hourly": st.integers(0, 5),
        "daily": st.integers(0, 8),
        "weekly": st.integers(0, 5),
        "monthly": st.integers(0, 8),
        "yearly": st.integers(0, 3),
        "within": durations,
        "within_daily": durations,
        "within_monthly": durations,
        "tags": st.sampled_from([(), (("a",),), (("a", "b"), ("",))]),
        "group_by": st.sampled_from(["host,paths", "host", "tags", "", "host,paths,tags"]),
    }
)


def _flags(p: dict[str, Any]) -> list[str]:
    flags: list[str] = []
    for name in ("last", "hourly", "daily", "weekly", "monthly", "yearly"):
        if p[name]:
            flags += [f"--keep-{name}", str(p[name])]
    for name, flag in (("within", "--keep-within"), ("within_daily", "--keep-within-daily"),
                       ("within_monthly", "--keep-within-monthly")):  # fmt: skip
        if p[name]:
            flags += [flag, p[name]]
    for tag_list in p["tags"]:
        flags += ["--keep-tag", ",".join(tag_list)]
    return [*flags, "--group-by", p["group_by"]]


def _policy(p: dict[str, Any]) -> ExpirePolicy:
    return ExpirePolicy(
        p["last"], p["hourly"], p["daily"], p["weekly"], p["monthly"], p["yearly"],
        within=Duration.parse(p["within"]), within_daily=Duration.parse(p["within_daily"]),
        within_monthly=Duration.parse(p["within_monthly"]), tags=p["tags"], keep_oldest=False,
    )  # fmt: skip


_REPO: dict[str, Path] = {}


def _shared_repo() -> Path:
    """One repository for all examples (key derivation is slow); the snapshots are replaced per example."""
    if "path" not in _REPO:
        _REPO["path"] = Path(tempfile.mkdtemp(prefix="forget-vs-restic-")) / "repo"
        fast_repo(_REPO["path"])
    return _REPO["path"]


@pytest.fixture(scope="module", autouse=True)
def _cleanup() -> Iterator[None]:
    yield
    if "path" in _REPO:
        shutil.rmtree(_REPO.pop("path").parent, ignore_errors=True)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(snapshot_st, min_size=1, max_size=30, unique_by=lambda s: s[0]), policy_st)
def test_forget_decisions_match_restic(snaps: list[tuple[Any, ...]], policy: dict[str, Any]) -> None:
    require_binary("restic")
    path = _shared_repo()
    for old in (path / "snapshots").iterdir():
        old.unlink()
    repo = open_repo(path)
    tree = secrets.token_hex(32)  # forget never reads trees
    for minutes, host, tags, paths, offset in snaps:
        t = BASE - timedelta(minutes=minutes)
        text = gojson.format_time_ns(gojson.datetime_to_ns(t), offset * 3600)
        repo.save_json("snapshots", snapshot_doc(text, host, list(paths), list(tags), tree))

    theirs = restic_json(path, "forget", "--dry-run", *_flags(policy)) or []
    ours_policy = _policy(policy)
    snapshots, errors = load_snapshots(repo)
    assert not errors and len(snapshots) == len(snaps)
    ours = group_snapshots(snapshots, policy["group_by"])

    if ours_policy.empty:
        assert theirs == []
        return
    assert len(theirs) == len(ours)
    for group in theirs:
        match = [
            k for k in ours
            if k.hostname == group["host"] and list(k.paths or []) == (group["paths"] or [])
            and list(k.tags or []) == (group["tags"] or [])
        ]  # fmt: skip
        assert len(match) == 1, (group["host"], group["paths"], group["tags"], list(ours))
        result = apply_policy(ours[match[0]], ours_policy)
        assert [s.id for s in result.keep] == [s["id"] for s in group["keep"] or []]
        assert [s.id for s in result.remove] == [s["id"] for s in group["remove"] or []]
        assert [r.matches for r in result.reasons] == [r["matches"] for r in group["reasons"] or []]
