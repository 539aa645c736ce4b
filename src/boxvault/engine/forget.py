"""Snapshot retention: restic's keep rules and grouping as pure functions over snapshot lists.

Semantics follow restic's `ExpirePolicy`/`ApplyPolicy` and `GroupSnapshots`
(internal/restic/snapshot_policy.go, snapshot_group.go). One behaviour changed between restic versions:
restic >= 0.15 also keeps the *oldest* snapshot of a group while a keep-bucket still has counts left.
``ExpirePolicy.keep_oldest`` switches that rule (default: the newer behaviour; False is restic 0.14).
-1 ("unlimited") for the counts is accepted as in restic >= 0.15.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol, TypeVar


class PolicyError(ValueError):
    """A retention option that cannot be understood (bad duration, unknown grouping)."""


class SnapshotLike(Protocol):
    @property
    def time(self) -> datetime: ...
    @property
    def hostname(self) -> str: ...
    @property
    def paths(self) -> Sequence[str]: ...
    @property
    def tags(self) -> Sequence[str]: ...


S = TypeVar("S", bound=SnapshotLike)

_DURATION_PART = re.compile(r"(-?)(\d*)(.?)")


@dataclass(frozen=True)
class Duration:
    """restic's calendar duration `1y2m3d4h` (years, months, days, hours; no minutes)."""

    years: int = 0
    months: int = 0
    days: int = 0
    hours: int = 0

    @classmethod
    def parse(cls, text: str) -> Duration:
        rest = text.strip()
        values = {"y": 0, "m": 0, "d": 0, "h": 0}
        while rest:
            negative = rest.startswith("-")
            if negative:
                rest = rest[1:]
            digits = len(rest) - len(rest.lstrip("0123456789"))
            if digits == 0:
                raise PolicyError(f"invalid duration {text!r}: no number found")
            number = int(rest[:digits]) * (-1 if negative else 1)
            rest = rest[digits:]
            if not rest:
                raise PolicyError(f"invalid duration {text!r}: no unit found after number {number}")
            unit, rest = rest[0], rest[1:]
            if unit not in values:
                raise PolicyError(f"invalid duration {text!r}: invalid unit {unit!r} after number {number}")
            values[unit] = number
        return cls(values["y"], values["m"], values["d"], values["h"])

    @property
    def zero(self) -> bool:
        return not (self.years or self.months or self.days or self.hours)

    def __str__(self) -> str:
        return "".join(
            f"{v}{u}"
            for v, u in ((self.years, "y"), (self.months, "m"), (self.days, "d"), (self.hours, "h"))
            if v
        )

    def before(self, t: datetime) -> datetime | None:
        """t minus this duration, computed as Go's `t.AddDate(-y, -m, -d).Add(-h hours)`.

        Go normalises out-of-range days (31 March minus one month is 3 March, not 28 February), so the day
        offset is added to the first of the target month. None means "before year 1": every time is after it.
        """
        month0 = t.month - 1 - self.months
        year = t.year - self.years + month0 // 12
        month = month0 % 12 + 1
        try:
            first = t.replace(year=year, month=month, day=1)
            return first + timedelta(days=t.day - 1 - self.days, hours=-self.hours)
        except (ValueError, OverflowError):
            if year < 1 or (year == 1 and self.days > 0):
                return None
            return datetime.max.replace(tzinfo=UTC)


def parse_tag_list(text: str) -> tuple[str, ...]:
    """`--keep-tag a,b` -> ("a", "b"); whitespace around each tag is dropped, as restic does."""
    return tuple(t.strip() for t in text.split(","))


@dataclass(frozen=True)
class ExpirePolicy:
    last: int = 0
    hourly: int = 0
    daily: int = 0
    weekly: int = 0
    monthly: int = 0
    yearly: int = 0
    within: Duration = field(default_factory=Duration)
    within_hourly: Duration = field(default_factory=Duration)
    within_daily: Duration = field(default_factory=Duration)
    within_weekly: Duration = field(default_factory=Duration)
    within_monthly: Duration = field(default_factory=Duration)
    within_yearly: Duration = field(default_factory=Duration)
    tags: tuple[tuple[str, ...], ...] = ()
    keep_oldest: bool = True

    def __post_init__(self) -> None:
        for name in ("last", "hourly", "daily", "weekly", "monthly", "yearly"):
            value = getattr(self, name)
            if value < -1:
                raise PolicyError(f"--keep-{name} must be -1 (unlimited), 0 or positive, got {value}")

    @property
    def empty(self) -> bool:
        counts = (self.last, self.hourly, self.daily, self.weekly, self.monthly, self.yearly)
        durations = (
            self.within,
            self.within_hourly,
            self.within_daily,
            self.within_weekly,
            self.within_monthly,
            self.within_yearly,
        )
        return not any(counts) and all(d.zero for d in durations) and not self.tags

    def __str__(self) -> str:
        counts = [
            (self.last, "latest"),
            (self.hourly, "hourly"),
            (self.daily, "daily"),
            (self.weekly, "weekly"),
            (self.monthly, "monthly"),
            (self.yearly, "yearly"),
        ]
        keeps = [f"{n} {what}" if n > 0 else f"all {what}" for n, what in counts if n]
        text = f"{', '.join(keeps)} snapshots" if keeps else ""
        for d, what in (
            (self.within_hourly, "hourly"),
            (self.within_daily, "daily"),
            (self.within_weekly, "weekly"),
            (self.within_monthly, "monthly"),
            (self.within_yearly, "yearly"),
        ):
            if not d.zero:
                text += (", " if text else "") + f"{what} snapshots within {d}"
        if self.tags:
            text += (
                (" and " if text else "")
                + "all snapshots with tags "
                + " ".join(_tag_list_str(t) for t in self.tags)
            )
        if not self.within.zero:
            text += (" and " if text else "") + f"all snapshots within {self.within} of the newest"
        return "keep " + text if text else "remove"


def _tag_list_str(tags: tuple[str, ...]) -> str:
    return "[" + ", ".join(tags) + "]"


def has_tags(snapshot_tags: Sequence[str], wanted: Iterable[str]) -> bool:
    """restic's Snapshot.HasTags: every wanted tag present; the empty tag matches an untagged snapshot."""
    for tag in wanted:
        if tag == "" and not snapshot_tags:
            return True
        if tag not in snapshot_tags:
            return False
    return True


@dataclass
class KeepReason:
    snapshot: Any
    matches: list[str]
    counters: dict[str, int]


@dataclass
class PolicyResult:
    keep: list[Any]
    remove: list[Any]
    reasons: list[KeepReason]


# Bucket keys: two snapshots fall into the same hour/day/week/month/year when these values are equal. They are
# computed on the snapshot's own wall-clock time (its stored UTC offset), as Go does.
def _hour(t: datetime) -> int:
    return ((t.year * 100 + t.month) * 100 + t.day) * 100 + t.hour


def _day(t: datetime) -> int:
    return (t.year * 100 + t.month) * 100 + t.day


def _week(t: datetime) -> int:
    iso = t.isocalendar()
    return iso.year * 100 + iso.week


def _month(t: datetime) -> int:
    return t.year * 100 + t.month


def _year(t: datetime) -> int:
    return t.year


_BUCKETERS = (_hour, _day, _week, _month, _year)
_COUNT_NAMES = ("last", "hourly", "daily", "weekly", "monthly", "yearly")


def _latest(snapshots: Sequence[SnapshotLike], now: datetime) -> datetime | None:
    # The newest snapshot that is not in the future anchors the keep-within rules.
    latest: datetime | None = None
    for sn in snapshots:
        if sn.time < now and (latest is None or sn.time > latest):
            latest = sn.time
    return latest


def _after(t: datetime, cutoff: datetime | None) -> bool:
    return cutoff is None or t > cutoff


def _within_cutoff(latest: datetime | None, d: Duration) -> datetime | None:
    # Go starts from the zero time (year 1) when no snapshot qualifies, so everything is "after".
    return None if latest is None else d.before(latest)


def sort_newest_first(snapshots: Iterable[S]) -> list[S]:
    """restic sorts stably by time, newest first; equal times keep their listing order."""
    return sorted(snapshots, key=lambda s: s.time.timestamp(), reverse=True)


def apply_policy(
    snapshots: Iterable[S], policy: ExpirePolicy, *, now: datetime | None = None
) -> PolicyResult:
    """Split one group of snapshots into kept and removed ones, with the reasons for each kept one."""
    ordered = sort_newest_first(snapshots)
    if policy.empty:
        reasons = [KeepReason(sn, ["policy is empty"], {}) for sn in ordered]
        return PolicyResult(list(ordered), [], reasons)
    if not ordered:
        return PolicyResult([], [], [])

    counts = [policy.last, policy.hourly, policy.daily, policy.weekly, policy.monthly, policy.yearly]
    count_reasons = [
        "last snapshot",
        "hourly snapshot",
        "daily snapshot",
        "weekly snapshot",
        "monthly snapshot",
        "yearly snapshot",
    ]
    last_seen: list[int | None] = [None] * 6
    within = [
        policy.within_hourly,
        policy.within_daily,
        policy.within_weekly,
        policy.within_monthly,
        policy.within_yearly,
    ]
    within_reasons = ["hourly within", "daily within", "weekly within", "monthly within", "yearly within"]
    within_seen: list[int | None] = [None] * 5

    latest = _latest(ordered, now or datetime.now(UTC))
    within_all = None if policy.within.zero else _within_cutoff(latest, policy.within)
    within_cutoffs = [None if d.zero else _within_cutoff(latest, d) for d in within]

    result = PolicyResult([], [], [])
    final = len(ordered) - 1
    for nr, sn in enumerate(ordered):
        matches: list[str] = []
        for tag_list in policy.tags:
            if has_tags(sn.tags, tag_list):
                matches.append(f"has tags {_tag_list_str(tag_list)}")
        if not policy.within.zero and _after(sn.time, within_all):
            matches.append(f"within {policy.within}")

        for i in range(6):
            if counts[i] > 0 or counts[i] == -1:
                value = nr if i == 0 else _BUCKETERS[i - 1](sn.time)
                oldest = policy.keep_oldest and nr == final
                if value != last_seen[i] or oldest:
                    reason = count_reasons[i]
                    if value == last_seen[i] and oldest:
                        reason = f"oldest {reason}"
                    last_seen[i] = value
                    if counts[i] > 0:
                        counts[i] -= 1
                    matches.append(reason)

        for i, d in enumerate(within):
            if d.zero or not _after(sn.time, within_cutoffs[i]):
                continue
            value = _BUCKETERS[i](sn.time)
            oldest = policy.keep_oldest and nr == final
            if value != within_seen[i] or oldest:
                reason = within_reasons[i]
                if value == within_seen[i] and oldest:
                    reason = f"oldest {reason}"
                within_seen[i] = value
                matches.append(f"{reason} {d}")

        if matches:
            result.keep.append(sn)
            result.reasons.append(KeepReason(sn, matches, dict(zip(_COUNT_NAMES, counts, strict=True))))
        else:
            result.remove.append(sn)
    return result


@dataclass(frozen=True)
class GroupKey:
    hostname: str
    paths: tuple[str, ...] | None
    tags: tuple[str, ...] | None

    def to_json(self) -> dict[str, Any]:
        """restic's SnapshotGroupKey: absent criteria are JSON null."""
        return {
            "hostname": self.hostname,
            "paths": None if self.paths is None else list(self.paths),
            "tags": None if self.tags is None else list(self.tags),
        }

    def __str__(self) -> str:
        parts = []
        if self.hostname:
            parts.append(f"host [{self.hostname}]")
        if self.tags is not None:
            parts.append(f"tags [{', '.join(self.tags)}]")
        if self.paths is not None:
            parts.append(f"paths [{', '.join(self.paths)}]")
        return ", ".join(parts) or "all snapshots"


def parse_group_by(text: str) -> tuple[bool, bool, bool]:
    """`host,paths,tags` (singular or plural, any subset, '' for no grouping) -> (host, paths, tags)."""
    host = paths = tags = False
    for option in text.split(","):
        option = option.strip()
        if option in ("host", "hosts"):
            host = True
        elif option in ("path", "paths"):
            paths = True
        elif option in ("tag", "tags"):
            tags = True
        elif option:
            raise PolicyError(f"unknown grouping option: {option!r}")
    return host, paths, tags


def group_snapshots(snapshots: Iterable[S], group_by: str = "host,paths") -> dict[GroupKey, list[S]]:
    """restic's GroupSnapshots: tags and paths are compared as sorted lists."""
    host, paths, tags = parse_group_by(group_by)
    groups: dict[GroupKey, list[S]] = {}
    for sn in snapshots:
        # An empty tag/path list and an absent one (Go nil) serialise to the same JSON null key in restic.
        key = GroupKey(
            hostname=sn.hostname if host else "",
            paths=(tuple(sorted(sn.paths)) or None) if paths else None,
            tags=(tuple(sorted(sn.tags)) or None) if tags else None,
        )
        groups.setdefault(key, []).append(sn)
    return groups


def group_sort_key(key: GroupKey) -> str:
    """restic iterates groups in Go map order (random); we sort them by their JSON key for stable output."""
    return json.dumps(key.to_json(), sort_keys=True)
