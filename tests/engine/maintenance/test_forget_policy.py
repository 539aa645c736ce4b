"""restic's keep rules as pure functions: hand-checked cases and properties over generated snapshot lists."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from boxvault.engine.forget import (
    Duration,
    ExpirePolicy,
    PolicyError,
    apply_policy,
    group_snapshots,
    parse_group_by,
    parse_tag_list,
)

NOW = datetime(2026, 1, 1, tzinfo=UTC)


@dataclass
class Snap:
    time: datetime
    hostname: str = "h"
    paths: list[str] = field(default_factory=lambda: ["/data"])
    tags: list[str] = field(default_factory=list)
    name: str = ""


def snaps(*stamps: str) -> list[Snap]:
    return [Snap(datetime.fromisoformat(s).replace(tzinfo=UTC), name=s) for s in stamps]


def names(items: list[Snap]) -> list[str]:
    return [s.name for s in items]


def test_duration_parse_and_format() -> None:
    assert Duration.parse("1y2m3d4h") == Duration(1, 2, 3, 4)
    assert Duration.parse(" 5d ") == Duration(days=5)
    assert str(Duration.parse("2m1y")) == "1y2m"
    assert Duration.parse("").zero
    for bad in ("5", "d", "5x", "1y2"):
        with pytest.raises(PolicyError):
            Duration.parse(bad)


def test_duration_before_normalises_like_go_adddate() -> None:
    # Go: 31 March minus one month is "31 February", normalised to 3 March (2021 is not a leap year).
    t = datetime(2021, 3, 31, 12, tzinfo=UTC)
    assert Duration(months=1).before(t) == datetime(2021, 3, 3, 12, tzinfo=UTC)
    assert Duration(years=1, days=1, hours=13).before(t) == datetime(2020, 3, 29, 23, tzinfo=UTC)
    assert Duration(years=3000).before(t) is None


def test_keep_last_and_daily() -> None:
    group = snaps(
        "2025-01-01T10:00", "2025-01-01T12:00", "2025-01-02T09:00", "2025-01-03T09:00", "2025-01-04T09:00"
    )
    r = apply_policy(group, ExpirePolicy(last=2, keep_oldest=False), now=NOW)
    assert names(r.keep) == ["2025-01-04T09:00", "2025-01-03T09:00"]
    assert len(r.remove) == 3
    # daily keeps the newest snapshot of each day: the 12:00 one on the 1st
    r = apply_policy(group, ExpirePolicy(daily=10, keep_oldest=False), now=NOW)
    assert "2025-01-01T10:00" in names(r.remove) and "2025-01-01T12:00" in names(r.keep)
    assert r.reasons[0].matches == ["daily snapshot"] and r.reasons[0].counters["daily"] == 9


def test_keep_oldest_rule_of_newer_restic() -> None:
    group = snaps("2025-01-01T10:00", "2025-01-01T12:00")
    old = apply_policy(group, ExpirePolicy(daily=5, keep_oldest=False), now=NOW)
    new = apply_policy(group, ExpirePolicy(daily=5), now=NOW)
    assert names(old.keep) == ["2025-01-01T12:00"]
    assert names(new.keep) == ["2025-01-01T12:00", "2025-01-01T10:00"]
    assert new.reasons[1].matches == ["oldest daily snapshot"]
    # once the bucket is used up the oldest goes
    assert names(apply_policy(group, ExpirePolicy(daily=1), now=NOW).keep) == ["2025-01-01T12:00"]


def test_unlimited_count() -> None:
    group = snaps("2025-01-01T10:00", "2025-01-02T12:00", "2025-01-02T13:00")
    r = apply_policy(group, ExpirePolicy(daily=-1, keep_oldest=False), now=NOW)
    assert names(r.keep) == ["2025-01-02T13:00", "2025-01-01T10:00"]
    with pytest.raises(PolicyError):
        ExpirePolicy(daily=-2)


def test_weekly_uses_iso_weeks_and_local_offset() -> None:
    # 2024-12-30 is ISO week 1 of 2025, like 2025-01-03; 2024-12-29 is week 52 of 2024.
    group = snaps("2024-12-29T10:00", "2024-12-30T10:00", "2025-01-03T10:00")
    r = apply_policy(group, ExpirePolicy(weekly=5, keep_oldest=False), now=NOW)
    assert names(r.keep) == ["2025-01-03T10:00", "2024-12-29T10:00"]
    # bucketing happens on the stored wall clock: 23:30 at +02:00 is still "that day"
    plus2 = timezone(timedelta(hours=2))
    a = Snap(datetime(2025, 5, 1, 23, 30, tzinfo=plus2), name="a")
    b = Snap(datetime(2025, 5, 1, 22, 0, tzinfo=UTC), name="b")  # 2 May 00:00 at +02:00, but 1 May in UTC
    assert names(apply_policy([a, b], ExpirePolicy(daily=5, keep_oldest=False), now=NOW).keep) == ["b"]


def test_keep_within_and_within_buckets() -> None:
    group = snaps("2025-03-31T12:00", "2025-03-03T12:01", "2025-03-03T11:59", "2025-03-02T00:00")
    r = apply_policy(group, ExpirePolicy(within=Duration(months=1), keep_oldest=False), now=NOW)
    # cut-off is 3 March 12:00 (Go normalisation), strictly after is kept
    assert names(r.keep) == ["2025-03-31T12:00", "2025-03-03T12:01"]
    r = apply_policy(group, ExpirePolicy(within_daily=Duration(days=28), keep_oldest=False), now=NOW)
    assert names(r.keep) == ["2025-03-31T12:00", "2025-03-03T12:01"]
    assert r.reasons[0].matches == ["daily within 28d"]


def test_keep_within_ignores_future_snapshots_as_anchor() -> None:
    group = snaps("2030-01-01T00:00", "2025-12-01T00:00", "2025-10-01T00:00")
    r = apply_policy(group, ExpirePolicy(within=Duration(months=1), keep_oldest=False), now=NOW)
    assert names(r.keep) == ["2030-01-01T00:00", "2025-12-01T00:00"]


def test_keep_tag() -> None:
    a = Snap(NOW - timedelta(days=3), tags=["x", "y"], name="a")
    b = Snap(NOW - timedelta(days=2), tags=["x"], name="b")
    c = Snap(NOW - timedelta(days=1), tags=[], name="c")
    policy = ExpirePolicy(tags=(parse_tag_list("x, y"),), keep_oldest=False)
    assert names(apply_policy([a, b, c], policy, now=NOW).keep) == ["a"]
    policy = ExpirePolicy(tags=(("",),), keep_oldest=False)  # the empty tag matches untagged snapshots
    assert names(apply_policy([a, b, c], policy, now=NOW).keep) == ["c"]


def test_empty_policy_keeps_everything() -> None:
    group = snaps("2025-01-01T10:00", "2025-01-02T10:00")
    r = apply_policy(group, ExpirePolicy(), now=NOW)
    assert len(r.keep) == 2 and not r.remove


def test_grouping() -> None:
    a = Snap(NOW, hostname="h1", paths=["/b", "/a"], tags=["t2", "t1"])
    b = Snap(NOW, hostname="h1", paths=["/a", "/b"], tags=["t1"])
    c = Snap(NOW, hostname="h2", paths=["/a", "/b"], tags=["t1", "t2"])
    assert len(group_snapshots([a, b, c], "host,paths")) == 2
    assert len(group_snapshots([a, b, c], "paths")) == 1
    groups = group_snapshots([a, b, c], "tags")
    assert sorted(len(v) for v in groups.values()) == [1, 2]
    key = next(k for k, v in groups.items() if len(v) == 2)
    assert key.to_json() == {"hostname": "", "paths": None, "tags": ["t1", "t2"]}
    assert len(group_snapshots([a, b, c], "")) == 1
    assert parse_group_by("hosts,tag") == (True, False, True)
    with pytest.raises(PolicyError):
        parse_group_by("host,colour")


times = st.datetimes(min_value=datetime(2019, 1, 1), max_value=datetime(2025, 12, 31)).map(
    lambda d: d.replace(microsecond=0, tzinfo=UTC)
)
counts = st.integers(min_value=0, max_value=6)


@settings(max_examples=200, deadline=None)
@given(st.lists(times, min_size=1, max_size=40, unique=True), counts, counts, counts, counts, counts, counts)
def test_policy_properties(
    stamps: list[datetime], last: int, hourly: int, daily: int, weekly: int, monthly: int, yearly: int
) -> None:
    group = [Snap(t, name=t.isoformat()) for t in stamps]
    policy = ExpirePolicy(last, hourly, daily, weekly, monthly, yearly, keep_oldest=False)
    r = apply_policy(group, policy, now=NOW)
    assert sorted(names(r.keep) + names(r.remove)) == sorted(names(group))
    assert len(r.reasons) == len(r.keep)
    if policy.empty:
        assert not r.remove
        return
    newest_first = sorted(group, key=lambda s: s.time, reverse=True)
    # every keep-bucket count bounds what it alone may keep; together they bound the total
    assert len(r.keep) <= last + hourly + daily + weekly + monthly + yearly
    assert names(newest_first[: min(last, len(group))]) == names(r.keep[: min(last, len(group))])
    if daily:
        days = sorted({s.time.date() for s in group}, reverse=True)[:daily]
        for d in days:  # the newest snapshot of each of the newest `daily` days is kept
            assert max((s for s in group if s.time.date() == d), key=lambda s: s.time).name in names(r.keep)
    # the newer rule keeps a superset: at most the oldest one in addition
    newer = apply_policy(group, ExpirePolicy(last, hourly, daily, weekly, monthly, yearly), now=NOW)
    extra = set(names(newer.keep)) - set(names(r.keep))
    assert extra <= {newest_first[-1].name}
