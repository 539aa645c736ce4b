"""The "restore" and "export" jobs (thin: load, call the library, report each item to the job log)."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from pathlib import Path
from typing import Any

from django.conf import settings

from boxvault.backups.connection import open_connection
from boxvault.backups.models import Task
from boxvault.box.restore import VERSIONS_DIR, BoxRestorer, Mode, Options, Outcome
from boxvault.box.trash import TRASH_DIR, trash_item, trashed_from
from boxvault.core.errors import ServiceError
from boxvault.jobs.registry import handler
from boxvault.recovery import exporters, links, services
from boxvault.recovery.snapshots import open_repo


def _load(ctx: Any) -> tuple[Task, Any, Any, list[str]]:
    params = ctx.job.params or {}
    task = Task.objects.get(pk=ctx.job.task_id)
    repo = open_repo(task)
    snapshot = repo.find_snapshot(str(params["snapshot"]).split(":", 1)[1])
    return task, repo, snapshot, list(params.get("paths") or [])


def _totals(repo: Any, snapshot: Any, include: list[str], *, versions_too: bool) -> tuple[int, int]:
    """Items and bytes of the selection (a restore leaves the version history out)."""
    versions = (snapshot.paths[0] if snapshot.paths else "").rstrip("/") + "/" + VERSIONS_DIR
    items = size = 0
    for path, node in repo.walk(snapshot, include or None):
        if not versions_too and (path == versions or path.startswith(versions + "/")):
            continue
        items += 1
        size += node.size if node.type == "file" else 0
    return items, size


def _template_maker(ctx: Any, task: Task, conn: Any) -> Any:
    """Creates a deleted enterprise metadata template again from the task's copy (the service account's
    client: templates are the enterprise's), and says so in the job's log."""
    from boxvault.backups.connection import describe
    from boxvault.backups.models import MetadataTemplateCopy
    from boxvault.box.templates import create_template

    def make(scope: str, key: str) -> str | None:
        copy = MetadataTemplateCopy.objects.filter(task=task, scope=scope, template_key=key).first()
        if copy is None:
            return "the task never saw that template (no copy of its fields)"
        try:
            create_template(conn.client, key, copy.schema)
        except Exception as exc:  # noqa: BLE001 - reported on each instance that needed it
            return describe(exc)
        ctx.log(f"metadata template {key} created again in Box from the task's copy", "warning")
        return None

    return make


def _reporter(ctx: Any) -> Callable[[Outcome], None]:
    """Each item's outcome as a line of the job's log, and the job's counters."""
    done = {"items": 0, "bytes": 0, "failed": 0}

    def on_item(outcome: Outcome) -> None:
        done["items"] += 1
        done["bytes"] += outcome.size if outcome.action in ("created", "new_version") else 0
        level = "info"
        text = f"{outcome.action}: {outcome.path}"
        if outcome.action == "failed":
            done["failed"] += 1
            level, text = "warning", f"failed: {outcome.path}: {outcome.error}"
        ctx.log(text, level)
        ctx.progress(items_done=done["items"], items_failed=done["failed"], bytes_done=done["bytes"])

    return on_item


@handler("restore")
def run_restore_job(ctx: Any) -> None:
    params = ctx.job.params or {}
    task, repo, snapshot, include = _load(ctx)
    if params.get("version"):
        _run_version_restore(ctx, task, repo, snapshot, include[0])
        return
    with repo:
        items_total, bytes_total = _totals(repo, snapshot, include, versions_too=False)
        ctx.progress(items_total=items_total, bytes_total=bytes_total, message="restoring")
        destination = params.get("destination") or {}
        conn = open_connection(task)
        client = conn.as_user(str(destination.get("box_user_id") or ctx.job.box_user_id))
        on_item = _reporter(ctx)
        mode = Mode(params.get("mode") or "non_destructive")
        folder_id = str(destination.get("folder_id") or "0")
        same_user = str(destination.get("box_user_id") or ctx.job.box_user_id) == str(ctx.job.box_user_id)
        trash, trash_places = _trash_selection(repo, snapshot, include)
        options = Options(
            recreate_template=_template_maker(ctx, task, conn) if task.recreate_metadata_templates else None,
            mode=mode,
            restored_folder_name=_now().strftime("Restored %Y-%m-%d %H:%M"),  # UTC, the portal clock
            folder_id=folder_id,
            trash=trash,
            trash_places=trash_places,
            # in place for the same user: Box's own restore-from-trash (the item keeps its id and history)
            untrash=trash and same_user and folder_id == "0" and mode is not Mode.NON_DESTRUCTIVE,
            collaborations=bool(params.get("collaborations")),
            shared_links=bool(params.get("shared_links")),
            comments=bool(params.get("comments")),
            client_for=conn.as_user if task.acts_as_users else None,
            metadata=bool(params.get("metadata")),
        )
        restorer = BoxRestorer(client, repo.open_file, options, on_item=on_item, cancelled=ctx.cancelled)
        report = restorer.run(
            repo.walk(snapshot, include or None), snapshot.paths[0] if snapshot.paths else "/"
        )
    for missed in report.not_reapplied:
        ctx.log(f"not re-applied: {missed['path']}: {missed['what']}: {missed['reason']}", "warning")
    for link in report.links:
        if link.get("new_url"):
            ctx.log(f"shared link: {link['path']}: {link['old_url']} → {link['new_url']} ({link['access']})")
        else:
            ctx.log(f"shared link not re-created: {link['path']}: {link['note']}", "warning")
    ctx.set_result(
        items=report.items,
        bytes=report.bytes,
        failed=report.failed,
        skipped=report.skipped,
        folder_id=report.root_folder_id,
        mode=options.mode.value,
        **({"shared_links": report.links} if options.shared_links else {}),
        **({"not_reapplied": report.not_reapplied} if report.not_reapplied else {}),
    )
    if report.failed:
        ctx.partial(f"{report.failed} of {report.items} items could not be restored")
    elif report.not_reapplied:
        ctx.partial(
            f"Restored {report.items} item(s); {len(report.not_reapplied)} collaboration(s), metadata "
            "instance(s) or comment(s) could not be re-applied (see the log)"
        )
    else:
        # the card and the e-mail show the job's message: "restoring" would stay after the end
        ctx.progress(message=f"Restored {report.items} item(s) into Box")


def _trash_selection(repo: Any, snapshot: Any, include: list[str]) -> tuple[bool, dict[str, str]]:
    """(does the selection name the user's kept Box trash or items in it, where each selected trashed item
    was trashed from). Only such a selection puts trashed items back: restoring a whole user brings back
    what was live. The places are read from each item's own node, which a selection inside a trashed
    folder does not walk through."""
    root = (snapshot.paths[0] if snapshot.paths else "/").rstrip("/")
    trash = f"{root}/{TRASH_DIR}"
    selected = False
    places: dict[str, str] = {}
    for path in include or []:
        found = trash_item(path, trash)
        selected = selected or found is not None or path.rstrip("/") == trash
        if found is not None:
            top = found[0]
            places[f"{TRASH_DIR}/{top}"] = trashed_from(repo, snapshot.tree, trash, top) or top
    return selected, places


VERSION_DONE = {
    "promoted": "made current again in Box",
    "new_version": "uploaded as the current version",
    "unchanged": "already the current version in Box: nothing to do",
}


def _run_version_restore(ctx: Any, task: Task, repo: Any, snapshot: Any, path: str) -> None:
    """One stored version of one file (params["version"]: its id, its path in the snapshot, "as")."""
    wanted = (ctx.job.params or {})["version"]
    as_copy = wanted.get("as") == "copy"
    with repo:
        node = repo.node_at(snapshot.tree, str(wanted["path"]))
        if node is None:
            raise ServiceError(f"version {wanted['id']} of {path} is no longer in this backup")
        ctx.progress(items_total=1, bytes_total=node.size)
        client = open_connection(task).as_user(str(ctx.job.box_user_id))
        options = Options(mode=Mode.REPLACE, folder_id="0")
        restorer = BoxRestorer(
            client, repo.open_file, options, on_item=_reporter(ctx), cancelled=ctx.cancelled
        )
        root = (snapshot.paths[0] if snapshot.paths else "/").rstrip("/")
        outcome = restorer.restore_version(path[len(root) + 1 :], node, as_copy=as_copy)
    ctx.set_result(
        items=1,
        bytes=outcome.size if outcome.action in ("created", "new_version") else 0,
        failed=int(outcome.action == "failed"),
        skipped=0,
        version=str(wanted["id"]),
        action=outcome.action,
        file_id=outcome.box_id,
        mode="version_" + ("copy" if as_copy else "current"),
    )
    if outcome.action == "failed":
        raise ServiceError(f"the version could not be restored: {outcome.error}")
    copy_or_file = "restored as a copy" if as_copy else "restored as the file"
    ctx.progress(message=f"Version {wanted['id']} {VERSION_DONE.get(outcome.action, copy_or_file)}")


def exports_dir() -> Path:
    path = Path(settings.DATA_DIR) / "exports"
    path.mkdir(parents=True, exist_ok=True)
    return path


def purge_expired_exports() -> int:
    """Zip files whose links expired are deleted when the next export starts (no file outlives its link
    by more than the time to the next export)."""
    import time

    limit = time.time() - links.VALID_FOR.total_seconds() - 3600
    removed = 0
    for path in exports_dir().glob("*.zip"):
        try:
            if path.stat().st_mtime < limit:
                path.unlink()
                removed += 1
        except FileNotFoundError:
            continue
    return removed


@handler("export")
def run_export_job(ctx: Any) -> None:
    params = ctx.job.params or {}
    kind = params.get("kind")
    task, repo, snapshot, include = _load(ctx)
    with repo:
        items_total, bytes_total = _totals(repo, snapshot, include, versions_too=True)
        ctx.progress(items_total=items_total, bytes_total=bytes_total, message=f"exporting ({kind})")
        zip_path: Path | None = None
        if kind == "zip":
            purge_expired_exports()
            zip_path = exports_dir() / f"{secrets.token_urlsafe(24)}.zip"
            sink: exporters.Sink = exporters.ZipSink(str(zip_path))
        else:
            sink = exporters.ObjectStoreSink(services.open_target(ctx.job))

        def on_item(report: exporters.ExportReport, rel: str, error: str) -> None:
            if error:
                ctx.log(f"failed: {rel}: {error}", "warning")
            ctx.progress(items_done=report.items, items_failed=report.failed, bytes_done=report.bytes)

        try:
            report = exporters.export(
                repo, snapshot, include or None, sink, snapshot_ref=str(params["snapshot"]),
                on_item=on_item, cancelled=ctx.cancelled,
            )  # fmt: skip
        except BaseException:
            if zip_path is not None:
                zip_path.unlink(missing_ok=True)
            raise
    result: dict[str, Any] = {
        "items": report.items,
        "files": report.files,
        "bytes": report.bytes,
        "failed": report.failed,
        "kind": kind,
    }
    if zip_path is not None:
        if report.cancelled:
            zip_path.unlink(missing_ok=True)
        else:
            result["file"] = zip_path.name
            result["zip_size"] = zip_path.stat().st_size
            result["download_url"] = links.download_path(ctx.job.pk, ctx.job.account_id)
            result["expires_at"] = links.Link(ctx.job.pk, ctx.job.account_id, _now()).expires_at.isoformat()
    ctx.set_result(**result)
    if report.failed:
        ctx.partial(f"{report.failed} of {report.items} items could not be exported")
    elif not report.cancelled:
        where = "into a zip file" if kind == "zip" else "to the storage location"
        ctx.progress(message=f"Exported {report.items} item(s) {where}")


def _now() -> Any:
    from boxvault.core import clock

    return clock.now()
