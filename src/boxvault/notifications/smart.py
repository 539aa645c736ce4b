"""Smart alerts: after each backup, what changed in the user's Box since the previous snapshot, and whether
it looks like ransomware or a mass deletion.

The catalog (backups.CatalogVersion) already holds the difference: rows that start with the new snapshot
(new files, new versions, new names) and rows that end with it (gone, or replaced by a new row of the same
item). Pairing them by Box item id gives deleted, modified (new content: another sha1) and renamed files.
For a sample of modified files the first block of the new content is read from the repository and its
entropy compared with the previous version's: encrypted data is close to 8 bits a byte, documents are not.
Known ransomware extensions and ransom-note names count as well.

An alert needs both many files (at least `smart_min_files`) and a large share of the user's files:
max(`smart_min_share`, `smart_factor` x the user's usual share over their last backups), so a user who
always churns a lot is judged against themselves.
"""

from __future__ import annotations

import logging
import math
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Q
from django.urls import reverse

from boxvault.activity.services import record_activity
from boxvault.backups.models import CatalogSnapshot, CatalogVersion, Task
from boxvault.core import clock
from boxvault.jobs.models import Job
from boxvault.notifications import outbox
from boxvault.notifications.models import ChangeStats, NotificationSettings
from boxvault.notifications.services import recipients_of, settings_for

log = logging.getLogger("boxvault.notifications")
HISTORY = 10  # snapshots that make a user's usual share
SAMPLE = 40  # modified files whose content is read for entropy
BLOCK = 4096  # "first block": the first bytes of the first blob
HIGH_ENTROPY = 7.5  # bits per byte
ENTROPY_JUMP = 1.0
# Extensions ransomware families append (generic ones such as .enc or .xyz are left out: real files use them).
RANSOM_EXTENSIONS = frozenset(
    (
        ".locked .encrypted .crypt .crypted .cry .crypz .cryp1 .locky .zepto .odin .cerber .cerber3 .wncry "
        ".wnry .wcry .ryk .ryuk .conti .lockbit .lockbit3 .akira .blackcat .basta .clop .phobos .dharma "
        ".djvu .zzzzz .ezz .exx .vvv .r5a .rrk .helpme .kraken .darkness .nochance .gws .xtbl .crinf "
        ".encr .enciphered"
    ).split()
)
RANSOM_NOTE = re.compile(
    r"(decrypt|ransom|how[_ -]?to[_ -]?(restore|recover|back)|restore[_ -]?(my[_ -]?)?files"
    r"|recover[_ -]?files|^_?readme[_ -]?(now|!|\.txt$)|read[_ -]?me[_ -]?(for|to)[_ -]?decrypt"
    r"|your[_ -]?files[_ -]?(are|were))",
    re.IGNORECASE,
)


def entropy(data: bytes) -> float:
    """Shannon entropy in bits per byte (0 for nothing, 8 for uniformly random bytes)."""
    if not data:
        return 0.0
    total = len(data)
    return -sum(n / total * math.log2(n / total) for n in Counter(data).values())


def ransom_extension(name: str) -> bool:
    dot = name.rfind(".")
    return dot > 0 and name[dot:].lower() in RANSOM_EXTENSIONS


def ransom_note(name: str) -> bool:
    return bool(RANSOM_NOTE.search(name))


@dataclass
class Changes:
    files_before: int = 0
    deleted: list[str] = field(default_factory=list)
    modified: list[tuple[str, str]] = field(default_factory=list)  # (old path, new path)
    renamed: list[tuple[str, str]] = field(default_factory=list)
    added: list[str] = field(default_factory=list)
    encrypted: list[str] = field(default_factory=list)
    ransom_names: list[str] = field(default_factory=list)
    sampled: int = 0


def _file_rows(rows: Any) -> dict[str, CatalogVersion]:
    return {r.item_id: r for r in rows.filter(item_type="file").order_by("id")}


def diff(task: Task, box_user_id: str, new: CatalogSnapshot, previous: CatalogSnapshot) -> Changes:
    base = CatalogVersion.objects.filter(task=task, box_user_id=box_user_id)
    changes = Changes(
        files_before=base.filter(item_type="file", from_snapshot__id__lte=previous.id)
        .filter(Q(until_snapshot__isnull=True) | Q(until_snapshot__id__gt=previous.id))
        .count()
    )
    started = _file_rows(base.filter(from_snapshot=new))
    ended = _file_rows(base.filter(until_snapshot=new))
    for item_id, old in ended.items():
        now = started.get(item_id)
        if now is None:
            changes.deleted.append(old.path)
            continue
        if (now.sha1, now.version_id) != (old.sha1, old.version_id):
            changes.modified.append((old.path, now.path))
        if now.name != old.name:
            changes.renamed.append((old.path, now.path))
            if ransom_extension(now.name) and not ransom_extension(old.name):
                changes.ransom_names.append(now.path)
    for item_id, row in started.items():
        if item_id not in ended:
            changes.added.append(row.path)
            if ransom_note(row.name) or ransom_extension(row.name):
                changes.ransom_names.append(row.path)
    return changes


def _node(repo: Any, tree: bytes, path: str, cache: dict[bytes, list[Any]]) -> Any:
    node = None
    parts = [p for p in path.split("/") if p]
    for i, part in enumerate(parts):
        if tree not in cache:
            cache[tree] = repo.load_tree(tree)
        node = next((n for n in cache[tree] if n.name == part), None)
        if node is None:
            return None
        if i < len(parts) - 1:
            if node.subtree is None:
                return None
            tree = node.subtree
    return node


def _first_block(repo: Any, node: Any) -> bytes | None:
    if node is None or not node.content:
        return None
    return bytes(repo.load_blob(node.content[0])[:BLOCK])


def look_for_encryption(task: Task, new_id: str, old_id: str, changes: Changes) -> None:
    """Entropy of the first block, new version against the previous one, for a sample of modified files."""
    from boxvault.recovery.snapshots import open_repo

    if not changes.modified:
        return
    with open_repo(task) as repo:
        new, old = repo.load_snapshot(new_id), repo.load_snapshot(old_id)
        new_root = (new.paths[0] if new.paths else "/").rstrip("/")
        old_root = (old.paths[0] if old.paths else "/").rstrip("/")
        new_cache: dict[bytes, list[Any]] = {}
        old_cache: dict[bytes, list[Any]] = {}
        for old_path, new_path in changes.modified[:SAMPLE]:
            now = _first_block(repo, _node(repo, new.tree, f"{new_root}/{new_path}", new_cache))
            before = _first_block(repo, _node(repo, old.tree, f"{old_root}/{old_path}", old_cache))
            if now is None:
                continue
            changes.sampled += 1
            high = entropy(now) >= HIGH_ENTROPY
            if high and (before is None or entropy(now) - entropy(before) >= ENTROPY_JUMP):
                changes.encrypted.append(new_path)
            elif high and ransom_extension(new_path.rsplit("/", 1)[-1]):
                changes.encrypted.append(new_path)


def usual_share(task_id: int, box_user_id: str, before: Any) -> float:
    rows = ChangeStats.objects.filter(
        task_id=task_id, box_user_id=box_user_id, time__lt=before, alerted=False
    )
    shares = [
        (r.deleted + r.modified) / r.files_before for r in rows.order_by("-time")[:HISTORY] if r.files_before
    ]
    return sum(shares) / len(shares) if shares else 0.0


def verdict(changes: Changes, conf: NotificationSettings, usual: float) -> str:
    """Why this snapshot alerts, in words; "" when it does not."""
    total = changes.files_before
    if total <= 0:
        return ""
    limit = max(conf.smart_min_share, conf.smart_factor * usual)
    reasons = []
    deleted, modified = len(changes.deleted), len(changes.modified)
    if deleted >= conf.smart_min_files and deleted / total >= limit:
        reasons.append(f"{deleted} of {total} files ({deleted / total:.0%}) were deleted")
    if modified >= conf.smart_min_files and modified / total >= limit:
        reasons.append(f"{modified} of {total} files ({modified / total:.0%}) got new content")
    encrypted = len(changes.encrypted)
    if changes.sampled and encrypted >= min(conf.smart_min_files, 5) and encrypted / changes.sampled >= 0.5:
        reasons.append(f"{encrypted} of {changes.sampled} modified files read back look encrypted")
    if changes.ransom_names and modified >= min(conf.smart_min_files, 5):
        reasons.append(f"{len(changes.ransom_names)} files have ransomware extensions or ransom-note names")
    return "; ".join(reasons).capitalize() + "." if reasons else ""


def after_backup(job: Job) -> ChangeStats | None:
    """Compare the job's snapshot with the user's previous one, record the figures, alert if it looks bad."""
    snapshot_id = str((job.result or {}).get("snapshot_id") or "")
    if not snapshot_id or job.task_id is None:
        return None
    new = CatalogSnapshot.objects.filter(snapshot_id=snapshot_id, task_id=job.task_id).first()
    if new is None:
        return None
    previous = (
        CatalogSnapshot.objects.filter(task_id=job.task_id, box_user_id=new.box_user_id, id__lt=new.id)
        .order_by("-id")
        .first()
    )
    if previous is None:  # the first backup: nothing to compare with
        return None
    task = Task.objects.select_related("account").get(pk=job.task_id)
    changes = diff(task, new.box_user_id, new, previous)
    conf = settings_for(task.account)
    # Reading content costs opening the repository and its index: only when enough files changed for the
    # encryption rules to matter (a quiet day's two edits can never alert on their own).
    if len(changes.modified) >= min(conf.smart_min_files, 5):
        try:
            look_for_encryption(task, new.snapshot_id, previous.snapshot_id, changes)
        except Exception:
            log.exception("smart alerts: could not read content of snapshot %s", new.snapshot_id)
    usual = usual_share(task.pk, new.box_user_id, new.time)
    reason = verdict(changes, conf, usual)
    stats, created = ChangeStats.objects.get_or_create(
        snapshot_id=new.snapshot_id,
        defaults={
            "account": task.account,
            "task_id": task.pk,
            "box_user_id": new.box_user_id,
            "previous_snapshot_id": previous.snapshot_id,
            "time": new.time,
            "files_before": changes.files_before,
            "deleted": len(changes.deleted),
            "modified": len(changes.modified),
            "renamed": len(changes.renamed),
            "added": len(changes.added),
            "encrypted": len(changes.encrypted),
            "ransom_names": len(changes.ransom_names),
            "alerted": bool(reason),
            "details": {"reason": reason, "usual_share": usual, "sampled": changes.sampled},
        },
    )
    if reason and created:
        alert(task, job, new, previous, changes, reason, usual)
    return stats


def _examples(changes: Changes) -> list[str]:
    notes = sorted(changes.ransom_names, key=lambda p: not ransom_note(p.rsplit("/", 1)[-1]))
    found = [f"ransom note or extension: {p}" for p in notes[:3]]
    found += [f"looks encrypted: {p}" for p in changes.encrypted[:3]]
    found += [f"renamed: {a} -> {b}" for a, b in changes.renamed[:3]]
    found += [f"deleted: {p}" for p in changes.deleted[:3]]
    found += [f"modified: {b}" for _, b in changes.modified[:3] if b not in changes.encrypted]
    return found[:10]


def alert(
    task: Task,
    job: Job,
    new: CatalogSnapshot,
    previous: CatalogSnapshot,
    changes: Changes,
    reason: str,
    usual: float,
) -> None:
    login = job.box_user_login or new.box_user_id
    summary = (
        f"{reason} Deleted {len(changes.deleted)}, modified {len(changes.modified)} "
        f"({len(changes.encrypted)} look encrypted), renamed {len(changes.renamed)}; previous snapshot "
        f"{previous.snapshot_id[:8]} of {previous.time:%Y-%m-%d %H:%M} UTC."
    )
    record_activity(
        task.account,
        "Smart alert",
        status="info",
        task_id=task.pk,
        task_name=task.name,
        item=login,
        items_count=len(changes.deleted) + len(changes.modified),
        summary=summary,
        job=job,
    )
    if not recipients_of(task.account, "smart_alerts"):
        return
    delivery = outbox.queue(
        task.account,
        "smart_alerts",
        f"smart:{new.snapshot_id}",
        f"Smart alert: unusual changes in the Box of {login}",
        {
            "task": task.name,
            "box_user": login,
            "reason": reason,
            "deleted": len(changes.deleted),
            "modified": len(changes.modified),
            "renamed": len(changes.renamed),
            "encrypted": len(changes.encrypted),
            "ransom_names": len(changes.ransom_names),
            "files_before": changes.files_before,
            "usual_share": f"{usual:.1%}",
            "examples": _examples(changes),
            "previous_time": f"{previous.time:%Y-%m-%d %H:%M}",
            "previous_short": previous.snapshot_id[:8],
            "restore_url": reverse("recovery:browse", args=[f"{task.pk}:{previous.snapshot_id}"]),
            "at": clock.now().isoformat(),
        },
    )
    outbox.send_safely(delivery)
