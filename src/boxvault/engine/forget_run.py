"""Carrying out `forget` on a repository: filter, group, apply the policy, delete snapshot files.

The decisions are the pure functions of ``forget``; this module adds restic's filters (``--host``, ``--tag``,
``--path``), explicit snapshot ids, the exclusive lock and restic's ``forget --json`` output shape.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .errors import EngineError
from .forget import (
    ExpirePolicy,
    GroupKey,
    PolicyResult,
    apply_policy,
    group_snapshots,
    group_sort_key,
    has_tags,
)
from .maint_io import SnapshotDoc, load_snapshots
from .storage.objectlock import check_deletable


@dataclass
class ForgetGroup:
    key: GroupKey
    result: PolicyResult

    def to_json(self) -> dict[str, Any]:
        """restic's ForgetGroup: tags, host, paths, keep, remove, reasons (null when empty, as Go writes)."""
        key = self.key.to_json()
        return {
            "tags": key["tags"],
            "host": key["hostname"],
            "paths": key["paths"],
            "keep": [s.to_json() for s in self.result.keep] or None,
            "remove": [s.to_json() for s in self.result.remove] or None,
            "reasons": [
                {
                    "snapshot": r.snapshot.doc,
                    "matches": r.matches,
                    "counters": {k: v for k, v in r.counters.items() if v},
                }
                for r in self.result.reasons
            ]
            or None,
        }


@dataclass
class ForgetResult:
    dry_run: bool
    groups: list[ForgetGroup] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)

    def to_json(self) -> list[dict[str, Any]]:
        return [g.to_json() for g in self.groups]


def select(
    snapshots: list[SnapshotDoc], hosts: list[str], tag_lists: list[tuple[str, ...]], paths: list[str]
) -> list[SnapshotDoc]:
    """restic's filter: any of the hosts, any of the tag lists (each fully present), all the paths."""
    out = []
    for sn in snapshots:
        if hosts and sn.hostname not in hosts:
            continue
        if tag_lists and not any(has_tags(sn.tags, tl) for tl in tag_lists):
            continue
        if paths and not all(p in sn.paths for p in paths):
            continue
        out.append(sn)
    return out


def forget(
    repo: Any,
    policy: ExpirePolicy,
    *,
    group_by: str = "host,paths",
    hosts: list[str] | None = None,
    tag_lists: list[tuple[str, ...]] | None = None,
    paths: list[str] | None = None,
    snapshot_ids: list[str] | None = None,
    dry_run: bool = False,
    lock: bool = True,
) -> ForgetResult:
    """Remove the snapshots the policy (or the explicit ids) does not keep; the caller may prune next."""

    def run() -> ForgetResult:
        snapshots, errors = load_snapshots(repo)
        if errors:
            raise EngineError("cannot load every snapshot: " + "; ".join(errors))
        chosen = select(snapshots, hosts or [], tag_lists or [], paths or [])
        result = ForgetResult(dry_run)
        remove: list[str] = []
        if snapshot_ids:
            for ref in snapshot_ids:
                matches = [s.id for s in chosen if s.id.startswith(ref.lower())]
                if not matches:
                    raise EngineError(f"no snapshot matches {ref!r}")
                if len(matches) > 1:
                    raise EngineError(f"snapshot id prefix {ref!r} is ambiguous")
                remove.append(matches[0])
        elif not policy.empty:
            groups = group_snapshots(chosen, group_by)
            for key in sorted(groups, key=group_sort_key):
                decided = apply_policy(groups[key], policy)
                result.groups.append(ForgetGroup(key, decided))
                remove += [s.id for s in decided.remove]
        if not dry_run:
            # object lock: refuse the whole forget, before any delete, while a snapshot file is locked
            check_deletable(repo.backend, [f"snapshots/{sid}" for sid in remove])
            for sid in remove:
                repo.backend.delete(f"snapshots/{sid}")
        result.removed = remove
        return result

    if not lock:
        return run()
    with repo.lock(exclusive=True):
        return run()
