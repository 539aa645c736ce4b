"""Starting restores and exports: checks, then one Job each (the queue carries only its id).

Every check that the caller can act on happens here, before a job exists: the operation (RESTORE or
EXPORT), the snapshot through the tenant, the paths inside it, the destination user of the same task, and
for exports to the customer's storage a test write with the credentials given. Those credentials are sealed
under the server's KEK into the job's params and wiped when the job ends (signals.py); they are never
logged, never in `result`, never shown again.
"""

from __future__ import annotations

import json
import secrets
from typing import Any

from django.db import transaction

from boxvault.accounts.access import Access
from boxvault.backups import crypto, vault
from boxvault.backups.models import TaskUser
from boxvault.box.restore import Mode
from boxvault.core.errors import ServiceError
from boxvault.core.operations import Operation
from boxvault.engine.storage.base import StorageError
from boxvault.jobs import services as jobs
from boxvault.jobs.models import Job
from boxvault.recovery import exporters
from boxvault.recovery.snapshots import BadRequest, Located, clean_path, find_node, locate
from boxvault.security.models import AuditEvent
from boxvault.security.services import record

Activity = AuditEvent.Activity

MAX_PATHS = 1000
EXPORT_KINDS = ("zip", "s3", "azure", "gcs")


def audit_request(access: Access, job: Job, activity: str, description: str) -> None:
    """The security-audit row of a restore or export request, in the transaction that queues its job."""
    record(access.account, activity, description, actor=access.user, service="Box", task=job.task_name)


def require_operation(access: Access, operation: Operation, what: str) -> None:
    from django.core.exceptions import PermissionDenied

    if not access.can(operation):
        raise PermissionDenied(f"your role does not allow {what}")


def _selection(located: Located, paths: Any) -> list[str]:
    if paths is None:
        return []
    if not isinstance(paths, list) or not all(isinstance(p, str) for p in paths):
        raise BadRequest("paths must be a list of paths inside the snapshot")
    if len(paths) > MAX_PATHS:
        raise BadRequest(f"at most {MAX_PATHS} paths at once; select their folder instead")
    cleaned = sorted({clean_path(located, p) for p in paths})
    for path in cleaned:
        if path != located.root.rstrip("/"):
            find_node(located, path)  # 404 for a path the snapshot does not have
    if located.root.rstrip("/") in cleaned:
        return []  # the whole snapshot
    return cleaned


def start_restore(
    access: Access,
    snapshot: str,
    paths: Any,
    mode: str,
    destination: Any,
    *,
    collaborations: bool = False,
    shared_links: bool = False,
    comments: bool = False,
    metadata: bool = False,
) -> Job:
    require_operation(access, Operation.RESTORE, "restoring")
    try:
        chosen_mode = Mode(str(mode or ""))
    except ValueError:
        raise BadRequest("mode must be non_destructive, replace or bypass") from None
    located = locate(access, snapshot)
    with located.repo:
        selection = _selection(located, paths)
    destination = destination if isinstance(destination, dict) else {}
    source_user = located.box_user_id
    target_user = str(destination.get("box_user_id") or source_user)
    folder_id = str(destination.get("folder_id") or "0").strip()
    if not folder_id.isdigit():
        raise BadRequest("destination.folder_id must be a Box folder id (0 = All Files)")
    target = TaskUser.objects.filter(task=located.task, box_user_id=target_user).first()
    if target is None:
        raise BadRequest("the destination user is not a user of this task")
    if target.status == TaskUser.Status.ARCHIVED:
        raise BadRequest("the destination user was deleted in Box (Archived); choose another user")
    source = TaskUser.objects.filter(task=located.task, box_user_id=source_user).first()
    where = f"Box: {target.login} / folder {folder_id}"
    with transaction.atomic():
        job = jobs.enqueue(
            account=access.account,
            kind="restore",
            initiator=access.user,
            task=located.task,
            box_user_id=source_user,
            box_user_login=source.login if source else "",
            destination=where[:500],
            params={
                "snapshot": located.ref,
                "paths": selection,
                "mode": chosen_mode.value,
                "destination": {"box_user_id": target_user, "folder_id": folder_id},
                "collaborations": bool(collaborations),
                "shared_links": bool(shared_links),
                "comments": bool(comments),
                "metadata": bool(metadata),
            },
        )
        audit_request(
            access, job, Activity.RESTORE, f"Restore of {located.ref} ({chosen_mode.value}) into {where}"
        )
    return job


def start_export(access: Access, snapshot: str, paths: Any, target: Any) -> Job:
    require_operation(access, Operation.EXPORT, "exporting")
    target = dict(target) if isinstance(target, dict) else {}
    kind = str(target.get("kind") or "")
    if kind not in EXPORT_KINDS:
        raise BadRequest("target.kind must be zip, s3, azure or gcs")
    located = locate(access, snapshot)
    with located.repo:
        selection = _selection(located, paths)
    params: dict[str, Any] = {"snapshot": located.ref, "paths": selection, "kind": kind}
    destination = "Download (zip)"
    if kind != "zip":
        try:
            exporters.probe(target)
        except StorageError as exc:
            raise BadRequest(str(exc)) from exc
        owner = secrets.token_hex(16)
        params["owner"] = owner
        params["sealed_target"] = crypto.seal(vault.kek(), json.dumps(target), owner=owner, field="target")
        destination = f"{kind}: {str(target.get('location'))[:400]}"
    source = TaskUser.objects.filter(task=located.task, box_user_id=located.box_user_id).first()
    with transaction.atomic():
        job = jobs.enqueue(
            account=access.account,
            kind="export",
            initiator=access.user,
            task=located.task,
            box_user_id=located.box_user_id,
            box_user_login=source.login if source else "",
            destination=destination,
            params=params,
        )
        audit_request(access, job, Activity.EXPORT, f"Export of {located.ref} to {destination}")
        return job


def open_target(job: Job) -> dict[str, Any]:
    """The export target's credentials, for the job's handler only."""
    params = job.params or {}
    sealed = params.get("sealed_target")
    if not sealed:
        raise ServiceError("the export's credentials were already wiped")
    doc: dict[str, Any] = json.loads(
        crypto.unseal(vault.kek(), sealed, owner=str(params.get("owner")), field="target")
    )
    return doc


def wipe_secrets(job_id: int) -> None:
    with transaction.atomic():
        job = Job.objects.select_for_update().filter(pk=job_id).first()
        if job is None or not (job.params or {}).get("sealed_target"):
            return
        params = dict(job.params)
        params.pop("sealed_target", None)
        params["target_wiped"] = True
        Job.objects.filter(pk=job_id).update(params=params)
