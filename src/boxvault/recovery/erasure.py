"""GDPR right to erasure: request (checks, Erasure row, job, audit row) and the job's work after the engine.

`request_erasure` checks everything the caller can act on before a job exists (the DELETE_ITEMS operation
through the gate, the task through the tenant, the user, the snapshot, every path) and answers BadRequest
(a 400) otherwise. The "erasure" job (erasure_job.py) then erases in the repository (erasing.py) and
`finish_erasure` removes what the database still knows in one transaction: the catalog rows (and with them
the search index, which follows the catalog by triggers), the names in job logs and job parameters, the
items inside unexpired zip exports; and writes the receipt, which outlives the data and the job.
"""

from __future__ import annotations

import json
import os
import re
import zipfile
from pathlib import Path
from typing import Any

from django.db import transaction
from django.db.models import Q
from django.http import Http404

from boxvault.accounts.access import Access
from boxvault.backups.models import CatalogSnapshot, CatalogVersion, Task, TaskUser
from boxvault.core import clock
from boxvault.core.operations import Operation
from boxvault.jobs import services as jobs
from boxvault.jobs.models import Job, JobLogLine
from boxvault.recovery import erasing
from boxvault.recovery.models import Erasure
from boxvault.recovery.snapshots import BadRequest, open_repo
from boxvault.security.models import AuditEvent
from boxvault.security.services import record

MAX_PATHS = 1000
MAX_REASON = 2000
REDACTED = "[erased]"
_ID = re.compile(r"^[0-9a-f]{8,64}$")


def _clean(path: Any) -> str:
    if not isinstance(path, str) or not path.strip():
        raise BadRequest("every path must be a non-empty text")
    text = path.strip()
    if not text.startswith("/"):
        raise BadRequest(f"{text!r}: paths are absolute, as the snapshot tree names them (/<login>/...)")
    parts = [p for p in text.split("/") if p]
    if any(p in (".", "..") for p in parts):
        raise BadRequest("a path may not contain '.' or '..'")
    return "/" + "/".join(parts)


def _chosen(snaps: list[Any], ref: str, task_id: int) -> list[Any]:
    """The one snapshot named "<task id>:<snapshot id>" (or just the id, a prefix of 8+ hex digits)."""
    text = ref.strip().lower()
    if ":" in text:
        owner, _, text = text.partition(":")
        if owner != str(task_id):
            text = ""
    chosen = [s for s in snaps if _ID.match(text) and s.id.startswith(text)]
    if len(chosen) != 1:
        raise BadRequest("unknown snapshot: not a snapshot of this user in this task")
    return chosen


def _under(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip("/") + "/")


def request_erasure(
    access: Access,
    *,
    task: Any,
    box_user_id: Any,
    paths: Any,
    reason: Any,
    snapshot: Any = None,
) -> Erasure:
    """Check the request and queue its job; BadRequest (400), Http404, PermissionDenied (403) otherwise."""
    access.require(Operation.DELETE_ITEMS, service="box")
    task_row: Task = access.get(Task.objects.all(), pk=task)
    user = TaskUser.objects.filter(task=task_row, box_user_id=str(box_user_id or "")).first()
    if user is None:
        raise BadRequest("box_user_id is not a user of this task")
    if not isinstance(paths, list) or not paths:
        raise BadRequest("paths: give at least one path to erase")
    if len(paths) > MAX_PATHS:
        raise BadRequest(f"at most {MAX_PATHS} paths at once; select their folder instead")
    cleaned = sorted({_clean(p) for p in paths})
    why = str(reason or "").strip()
    if not why:
        raise BadRequest("reason: say why these items are erased (it is kept in the receipt)")
    if len(why) > MAX_REASON:
        raise BadRequest(f"reason: at most {MAX_REASON} characters")
    try:
        repo = open_repo(task_row)
    except Http404:
        raise BadRequest("this task has no backup yet: there is nothing to erase") from None
    with repo:
        snaps = erasing.user_snapshots(repo, user.box_user_id)
        if not snaps:
            raise BadRequest("this user has no snapshots: there is nothing to erase")
        chosen = snaps
        if snapshot not in (None, ""):
            chosen = _chosen(snaps, str(snapshot), task_row.pk)
        roots = {erasing.root_of(s) for s in snaps}
        for path in cleaned:
            if not any(_under(path, r) for r in roots):
                raise BadRequest(f"{path} is outside the user's backups ({', '.join(sorted(roots))})")
        whole_user = any(path in roots for path in cleaned)
        if not whole_user:
            for path in cleaned:
                if not any(repo.node_at(s.tree, path) is not None for s in chosen):
                    where = "any snapshot of this user"
                    if snapshot not in (None, ""):
                        where = f"snapshot {chosen[0].short_id}"
                    raise BadRequest(f"{path} is not in {where}")
    now = clock.now()
    who = getattr(access.user, "email", "") or "system"
    with transaction.atomic():
        erasure = Erasure.objects.create(
            account=access.account,
            task_id=task_row.pk,
            task_name=task_row.name,
            box_user_id=user.box_user_id,
            box_user_login=user.login,
            paths=sorted(roots) if whole_user else cleaned,
            whole_user=whole_user,
            reason=why,
            requested_by=access.user if getattr(access.user, "pk", None) else None,
            requested_by_label=who,
            requested_at=now,
        )
        job = jobs.enqueue(
            account=access.account,
            kind="erasure",
            initiator=access.user,
            task=task_row,
            box_user_id=user.box_user_id,
            box_user_login=user.login,
            destination="GDPR erasure",
            params={"erasure": erasure.pk, "sub_service": "GDPR erasure"},
        )
        erasure.job_id = job.pk
        erasure.save(update_fields=["job_id"])
        what = "all backups" if whole_user else f"{len(cleaned)} item(s)"
        record(
            access.account,
            AuditEvent.Activity.ERASURE,
            f"GDPR erasure {erasure.pk} of {what} of {user.login} requested: {why[:300]}",
            actor=access.user,
            service="Box",
            task=task_row.name,
        )
    return erasure


def mark(erasure_id: int, status: str, message: str = "") -> None:
    Erasure.objects.filter(pk=erasure_id).exclude(status=Erasure.Status.COMPLETED).update(
        status=status, message=message[:1000]
    )


# ------------------------------------------------------------------------------ after the repository


def _relative(path: str) -> str:
    """A snapshot path "/<login>/A/b" as the catalog and the zip exports name it: "A/b"."""
    return "/".join(path.strip("/").split("/")[1:])


def _matches(name: str, rels: list[str]) -> bool:
    name = name.rstrip("/")
    return any(name == r or name.startswith(r + "/") for r in rels)


def _catalog(task: Task, erasure: Erasure, outcome: erasing.Outcome, rels: list[str]) -> int:
    rows = CatalogVersion.objects.filter(task=task, box_user_id=erasure.box_user_id)
    if erasure.whole_user:
        removed, _ = rows.delete()
        CatalogSnapshot.objects.filter(task=task, box_user_id=erasure.box_user_id).delete()
        return removed
    # the rewritten snapshots take the place of the old ones (same catalog row, so the ranges stay)
    for change in outcome.changes:
        if change["new"]:
            CatalogSnapshot.objects.filter(task=task, snapshot_id=change["old"]).update(
                snapshot_id=change["new"]
            )
    query = Q()
    for rel in rels:
        query |= Q(path=rel) | Q(path__startswith=rel + "/")
    removed, _ = rows.filter(query).delete()  # the search index follows by trigger
    return removed


def _task_user(task: Task, erasure: Erasure, outcome: erasing.Outcome) -> None:
    user = TaskUser.objects.filter(task=task, box_user_id=erasure.box_user_id).first()
    if user is None:
        return
    if erasure.whole_user:
        # Nothing of the user is stored any more; a paused user is not backed up again by the scheduler.
        updates: dict[str, Any] = {"last_snapshot_id": "", "size": 0, "items": 0}
        if user.status not in (TaskUser.Status.ARCHIVED, TaskUser.Status.IN_PROCESS):
            updates.update(status=TaskUser.Status.PAUSED, next_run_at=None)
        TaskUser.objects.filter(pk=user.pk).update(**updates)
        return
    renamed = {c["old"]: c["new"] for c in outcome.changes if c["new"]}
    if user.last_snapshot_id in renamed:
        TaskUser.objects.filter(pk=user.pk).update(last_snapshot_id=renamed[user.last_snapshot_id])


def strip_zip(path: Path, rels: list[str]) -> int:
    """Rewrite a zip export without the erased entries (and their manifest lines); the entries removed."""
    from boxvault.recovery.exporters import MANIFEST

    with zipfile.ZipFile(path) as source:
        infos = source.infolist()
        drop = [i for i in infos if i.filename != MANIFEST and _matches(i.filename, rels)]
        if not drop:
            return 0
        temp = path.with_suffix(".erasing")
        with zipfile.ZipFile(temp, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as target:
            for info in infos:
                if info in drop:
                    continue
                data = source.read(info)
                if info.filename == MANIFEST:
                    doc = json.loads(data)
                    files = doc.get("files") or []
                    doc["files"] = [f for f in files if not _matches(str(f.get("path")), rels)]
                    data = json.dumps(doc, indent=1).encode()
                target.writestr(info, data)
    os.replace(temp, path)
    return len(drop)


def _exports(erasure: Erasure, rels: list[str]) -> int:
    from boxvault.recovery.handlers import exports_dir

    cleaned = 0
    exports = Job.objects.filter(
        account_id=erasure.account_id, kind="export", task_id=erasure.task_id, box_user_id=erasure.box_user_id
    )
    for job in exports:
        name = (job.result or {}).get("file")
        path = exports_dir() / str(name or "")
        if not name or not path.is_file():
            continue
        if erasure.whole_user:
            path.unlink(missing_ok=True)  # everything in it was the user's
            cleaned += 1
            continue
        if strip_zip(path, rels):
            Job.objects.filter(pk=job.pk).update(result={**job.result, "zip_size": path.stat().st_size})
            cleaned += 1
    return cleaned


def _redact(erasure: Erasure, targets: list[str], rels: list[str]) -> int:
    """Names in the task's job logs and in restore/export selections become "[erased]"."""
    words = sorted({*targets, *[r for r in rels if r]}, key=len, reverse=True)
    if erasure.whole_user or not words:
        return 0
    lines = JobLogLine.objects.filter(job__account_id=erasure.account_id, job__task_id=erasure.task_id)
    query = Q()
    for word in words:
        query |= Q(message__contains=word)
    changed = 0
    for line in lines.filter(query):
        text = line.message
        for word in words:
            text = text.replace(word, REDACTED)
        JobLogLine.objects.filter(pk=line.pk).update(message=text)
        changed += 1
    selections = Job.objects.filter(
        account_id=erasure.account_id, task_id=erasure.task_id, kind__in=["restore", "export"]
    )
    for job in selections:
        picked = (job.params or {}).get("paths") or []
        if any(_matches(p, targets) for p in picked if isinstance(p, str)):
            kept = [REDACTED if isinstance(p, str) and _matches(p, targets) else p for p in picked]
            Job.objects.filter(pk=job.pk).update(params={**job.params, "paths": kept})
    return changed


def finish_erasure(
    erasure: Erasure, task: Task, outcome: erasing.Outcome, *, started_at: Any, left_at: Any
) -> dict[str, Any]:
    """The database side, in one transaction, and the receipt."""
    targets = outcome.targets or list(erasure.paths)
    rels = [_relative(t) for t in targets]
    with transaction.atomic():
        rows = _catalog(task, erasure, outcome, rels)
        _task_user(task, erasure, outcome)
        zips = _exports(erasure, rels)
        lines = _redact(erasure, targets, rels)
        now = clock.now()
        receipt = build_receipt(
            erasure, task, outcome, started_at=started_at, left_at=left_at, completed_at=now,
            catalog_rows=rows, zip_exports=zips, log_lines=lines,
        )  # fmt: skip
        Erasure.objects.filter(pk=erasure.pk).update(
            status=Erasure.Status.COMPLETED,
            message="",
            completed_at=now,
            bytes_left_storage_at=left_at,
            receipt=receipt,
        )
    return receipt


def build_receipt(
    erasure: Erasure,
    task: Task,
    outcome: erasing.Outcome,
    *,
    started_at: Any,
    left_at: Any,
    completed_at: Any,
    catalog_rows: int,
    zip_exports: int,
    log_lines: int,
) -> dict[str, Any]:
    return {
        "receipt": "GDPR right to erasure (boxvault)",
        "erasure_id": erasure.pk,
        "account": {"id": erasure.account_id, "name": str(getattr(erasure.account, "name", "") or "")},
        "task": {"id": task.pk, "name": task.name, "repository_id": task.repository_id},
        "box_user": {"id": erasure.box_user_id, "login": erasure.box_user_login},
        "requested": {
            "paths": list(erasure.paths),
            "whole_user": erasure.whole_user,
            "reason": erasure.reason,
            "by": erasure.requested_by_label,
            "at": erasure.requested_at.isoformat(),
        },
        "job_id": erasure.job_id,
        "started_at": started_at.isoformat(),
        "bytes_left_storage_at": left_at.isoformat(),
        "completed_at": completed_at.isoformat(),
        "snapshots_rewritten": [
            {"old": c["old"], "new": c["new"], "time": c["time"], "items_removed": c["removed"]}
            for c in outcome.changes
        ],
        "snapshots_unchanged": len(outcome.unchanged),
        "also_erased": [t for t in outcome.targets if t not in erasure.paths],  # previous versions
        "storage": {
            "bytes_before": outcome.bytes_before,
            "bytes_after": outcome.bytes_after,
            "bytes_removed": outcome.bytes_removed,
            "packs_deleted": outcome.packs_deleted,
            "packs_written": outcome.packs_written,
        },
        "catalog_rows_removed": catalog_rows,
        "zip_exports_cleaned": zip_exports,
        "log_lines_redacted": log_lines,
        "verified": "after the prune no snapshot of this user holds any erased path",
    }
