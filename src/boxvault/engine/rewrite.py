"""`rewrite --exclude`: remove chosen paths from snapshots (GDPR erasure), as restic >= 0.16's rewrite does.

Each affected snapshot gets new trees without the excluded nodes (unchanged subtrees keep their ids), then a
new snapshot document that records the old one in ``original``; with ``forget`` the old snapshot is deleted,
otherwise the new one is tagged ``rewrite``. Order: new tree packs, their index, the new snapshot, then the
old snapshot's deletion, so a crash never loses a snapshot. The erased content stays in packs until
``prune --max-unused 0`` repacks every pack that still holds an unused blob (``rewrite --prune`` does so).

Exclude patterns follow restic's filter.Match: an absolute pattern matches a path prefix, a relative one
matches any run of path components; ``*``, ``?`` and ``[...]`` work within a component, ``**`` spans any
number of components.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from .maint_io import PackBuilder, SnapshotDoc, load_snapshots, read_blob, write_index
from .prune import LoadedIndex, load_all_indexes
from .storage.objectlock import check_deletable, lock_enabled
from .tree import Node, decode_tree, encode_tree

Progress = Callable[[str, int, int], None]
TREE_PACK_SIZE = 4 * 2**20


class RewriteError(Exception):
    """A bad pattern or an unreadable tree; nothing has been changed when it is raised before writing."""


# --- restic's filter patterns -----------------------------------------------------------------------------


def _split(path: str) -> list[str]:
    parts = [p for p in path.split("/") if p not in ("", ".")]
    return (["/"] if path.startswith("/") else []) + parts


@lru_cache(maxsize=1024)
def _component_regex(part: str) -> re.Pattern[str]:
    """Go's filepath.Match for one component: * ? [...] ([^...] negates) and backslash escapes."""
    out = []
    i = 0
    while i < len(part):
        c = part[i]
        if c == "\\" and i + 1 < len(part):
            out.append(re.escape(part[i + 1]))
            i += 2
            continue
        if c == "*":
            out.append("[^/]*")
        elif c == "?":
            out.append("[^/]")
        elif c == "[":
            end = part.find("]", i + 2)
            if end < 0:
                raise RewriteError(f"invalid pattern component {part!r}: unclosed [")
            body = part[i + 1 : end]
            if body.startswith("^"):
                body = "^" + body[1:].replace("\\", "\\\\")
            else:
                body = body.replace("\\", "\\\\")
            out.append(f"[{body}]")
            i = end
        else:
            out.append(re.escape(c))
        i += 1
    return re.compile("".join(out) + r"\Z", re.DOTALL)


def _match_parts(pattern: list[str], strs: list[str]) -> bool:
    if "**" in pattern:
        pos = pattern.index("**")
        rest = pattern[pos + 1 :]
        # expand '**' into 0..n single-component wildcards
        for n in range(0, len(strs) - len(pattern) + 2):
            if _match_parts(pattern[:pos] + ["*"] * n + rest, strs):
                return True
        return False
    if not pattern:
        return not strs
    if len(pattern) > len(strs):
        return False
    max_offset = len(strs) - len(pattern)
    min_offset = 0
    if pattern[0] == "/":
        max_offset = 0
    elif strs and strs[0] == "/":
        min_offset = 1
    for offset in range(max_offset, min_offset - 1, -1):
        if all(
            (p == s if p == "/" else _component_regex(p).match(s) is not None)
            for p, s in zip(pattern, strs[offset : offset + len(pattern)], strict=True)
        ):
            return True
    return False


def match(pattern: str, path: str) -> bool:
    """restic's filter.Match(pattern, path)."""
    if not pattern:
        return True
    return _match_parts(_split(pattern), _split(path))


def validate_patterns(patterns: Iterable[str]) -> list[str]:
    out = []
    for p in patterns:
        p = p.strip()
        if not p:
            continue
        for part in _split(p):
            if part not in ("/", "**"):
                _component_regex(part)
        out.append(p)
    return out


# --- rewriting ----------------------------------------------------------------------------------------------


@dataclass
class SnapshotChange:
    old_id: str
    new_id: str | None  # None in a dry run
    removed_paths: list[str]

    def to_json(self) -> dict[str, Any]:
        return {"old": self.old_id, "new": self.new_id, "removed": self.removed_paths}


@dataclass
class RewriteResult:
    dry_run: bool
    changed: list[SnapshotChange] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    forgotten: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "dry_run": self.dry_run,
            "changed": [c.to_json() for c in self.changed],
            "unchanged": self.unchanged,
            "forgotten": self.forgotten,
        }


class _TreeRewriter:
    def __init__(
        self, repo: Any, index: LoadedIndex, patterns: list[str], builder: PackBuilder | None
    ) -> None:
        self.repo = repo
        self.index = index
        self.patterns = patterns
        self.builder = builder  # None: dry run, nothing is written
        self.memo: dict[tuple[bytes, str], tuple[bytes, list[str]]] = {}
        self.saved: set[bytes] = set()

    def excluded(self, path: str) -> bool:
        return any(match(p, path) for p in self.patterns)

    def load(self, tree_id: bytes) -> list[Node]:
        rec = self.index.first.get(("tree", tree_id))
        if rec is None:
            raise RewriteError(f"tree {tree_id.hex()} is in no index; run check first")
        try:
            return decode_tree(read_blob(self.repo, rec))
        except Exception as e:
            raise RewriteError(f"tree {tree_id.hex()} cannot be loaded: {e}") from e

    def rewrite(self, tree_id: bytes, prefix: str) -> tuple[bytes, list[str]]:
        """(new tree id, removed paths) for the tree found at ``prefix`` ('' for the root)."""
        key = (tree_id, prefix)
        if key in self.memo:
            return self.memo[key]
        nodes = self.load(tree_id)
        kept: list[Node] = []
        removed: list[str] = []
        changed = False
        for node in nodes:
            path = f"{prefix}/{node.name}"
            if self.excluded(path):
                removed.append(path)
                changed = True
                continue
            if node.type == "dir" and node.subtree is not None:
                new_sub, sub_removed = self.rewrite(node.subtree, path)
                if new_sub != node.subtree:
                    node.subtree = new_sub
                    changed = True
                removed += sub_removed
            kept.append(node)
        new_id = tree_id
        if changed:
            data = encode_tree(kept)
            new_id = hashlib.sha256(data).digest()
            if (
                self.builder is not None
                and new_id not in self.saved
                and ("tree", new_id) not in self.index.first
            ):
                # always compressed in v2: prune repacks tree packs holding uncompressed blobs
                self.builder.add_plain("tree", data, compress=self._compress(), always=True)
                self.saved.add(new_id)
        self.memo[key] = (new_id, removed)
        return new_id, removed

    def _compress(self) -> bool:
        return int(getattr(getattr(self.repo, "config", None), "version", 2)) >= 2


def _select(
    snapshots: list[SnapshotDoc], ids: list[str], host: str | None, tags: list[str], paths: list[str]
) -> list[SnapshotDoc]:
    chosen = []
    for sn in snapshots:
        if ids and not any(sn.id.startswith(i) for i in ids):
            continue
        if host is not None and sn.hostname != host:
            continue
        if tags and not all(t in sn.tags for t in tags):
            continue
        if paths and not all(p in sn.paths for p in paths):
            continue
        chosen.append(sn)
    return chosen


def rewrite(
    repo: Any,
    excludes: list[str],
    *,
    snapshot_ids: list[str] | None = None,
    host: str | None = None,
    tags: list[str] | None = None,
    paths: list[str] | None = None,
    forget: bool = False,
    dry_run: bool = False,
    lock: bool = True,
    progress: Progress | None = None,
) -> RewriteResult:
    """Rewrite every selected snapshot without the paths matching ``excludes``."""
    patterns = validate_patterns(excludes)
    if not patterns:
        raise RewriteError("nothing to do: give at least one --exclude pattern")

    def run() -> RewriteResult:
        result = RewriteResult(dry_run)
        snapshots, errors = load_snapshots(repo)
        if errors:
            raise RewriteError("cannot load every snapshot: " + "; ".join(errors))
        for ref in snapshot_ids or []:
            if not any(sn.id.startswith(ref.lower()) for sn in snapshots):
                raise RewriteError(f"no snapshot matches {ref!r}")
        chosen = _select(snapshots, snapshot_ids or [], host, tags or [], paths or [])
        index = load_all_indexes(repo)
        if forget and not dry_run and lock_enabled(repo.backend):
            # object lock: a locked original could not be forgotten. A dry pass first finds the snapshots that
            # would change (only those must be deletable: newer snapshots without the items may be locked),
            # and a refusal comes before any new tree is written.
            probe = _TreeRewriter(repo, index, patterns, None)
            doomed = [sn for sn in chosen if sn.tree is not None and probe.rewrite(sn.tree, "")[0] != sn.tree]
            check_deletable(repo.backend, [f"snapshots/{sn.id}" for sn in doomed])
        builder = None if dry_run else PackBuilder(repo, TREE_PACK_SIZE)
        rewriter = _TreeRewriter(repo, index, patterns, builder)
        plans: list[tuple[SnapshotDoc, bytes, list[str]]] = []
        for i, sn in enumerate(chosen):
            if sn.tree is None:
                raise RewriteError(f"snapshot {sn.short_id} has no tree")
            new_tree, removed = rewriter.rewrite(sn.tree, "")
            if new_tree == sn.tree:
                result.unchanged.append(sn.id)
            else:
                plans.append((sn, new_tree, removed))
            if progress:
                progress("snapshots", i + 1, len(chosen))
        if dry_run or builder is None:
            result.changed = [SnapshotChange(sn.id, None, removed) for sn, _, removed in plans]
            return result
        # new trees must be durable (packs, then their index) before any snapshot refers to them
        new_packs = builder.finish()
        if new_packs:
            write_index(repo, new_packs)
        for sn, new_tree, removed in plans:
            doc = dict(sn.doc)
            doc["tree"] = new_tree.hex()
            doc["original"] = sn.id
            if not forget:
                tags_now = [str(t) for t in doc.get("tags") or []]
                if "rewrite" not in tags_now:
                    doc["tags"] = [*tags_now, "rewrite"]
            new_id = str(repo.save_json("snapshots", _ordered(doc)))
            result.changed.append(SnapshotChange(sn.id, new_id, removed))
            if forget:
                repo.backend.delete(f"snapshots/{sn.id}")
                result.forgotten.append(sn.id)
        return result

    if not lock:
        return run()
    with repo.lock(exclusive=forget and not dry_run):
        return run()


_FIELD_ORDER = (
    "time",
    "parent",
    "tree",
    "paths",
    "hostname",
    "username",
    "uid",
    "gid",
    "excludes",
    "tags",
    "original",
)


def _ordered(doc: dict[str, Any]) -> dict[str, Any]:
    """restic's Snapshot field order (Go struct order), unknown fields after."""
    out = {k: doc[k] for k in _FIELD_ORDER if k in doc}
    out.update({k: v for k, v in doc.items() if k not in out})
    return out
