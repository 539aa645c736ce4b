"""Recovery pages: tasks → users → snapshots → folder tree → restore / download / export dialogs."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import Any

from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Q
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from boxvault.accounts.access import get_for, scoped
from boxvault.backups.models import Task, TaskUser
from boxvault.box.trash import TRASH_DIR
from boxvault.core import clock
from boxvault.core.access import requires
from boxvault.core.errors import ServiceError
from boxvault.core.operations import Operation
from boxvault.jobs.models import Job
from boxvault.recovery import links, services, versions
from boxvault.recovery.folders import box_folders
from boxvault.recovery.handlers import exports_dir
from boxvault.recovery.serializers import ExportRequest, RestoreRequest, VersionRestoreRequest, parse
from boxvault.recovery.snapshots import (
    BadRequest,
    SnapshotRows,
    children,
    clean_path,
    locate,
    snapshot_rows,
    stored_protected_until,
)

MODES = [
    ("non_destructive", "Non-destructive: everything goes into a new folder; nothing live is touched"),
    ("replace", "In place, Replace: existing files get a new version with the backed-up content"),
    ("bypass", "In place, Bypass: existing items are left alone; missing ones come back"),
]


@requires(Operation.PREVIEW_DATA)
def home(request: HttpRequest) -> HttpResponse:
    tasks = scoped(request.access, Task.objects.all()).order_by("name")  # type: ignore[attr-defined]
    return render(request, "recovery/home.html", {"tasks": tasks})


@requires(Operation.PREVIEW_DATA)
def task_users(request: HttpRequest, task_id: int) -> HttpResponse:
    task = get_for(request.access, Task.objects.all(), pk=task_id)  # type: ignore[attr-defined]
    users = TaskUser.objects.filter(task=task, first_backup_at__isnull=False).order_by("login")
    status = request.GET.get("status", "")
    if status in TaskUser.Status.values:
        users = users.filter(status=status)
    q = request.GET.get("q", "").strip()[:100]
    if q:
        users = users.filter(Q(name__icontains=q) | Q(login__icontains=q))
    context = {"task": task, "users": users, "statuses": TaskUser.Status.choices, "status": status, "q": q}
    context["can_undo_delete"] = request.access.can(Operation.DELETE_TASKS)  # type: ignore[attr-defined]
    return render(request, "recovery/users.html", context)


def _day(text: str | None, default: datetime, end: bool = False) -> datetime:
    if not text:
        return default
    try:
        day = datetime.strptime(text, "%Y-%m-%d").date()
    except ValueError:
        raise BadRequest("dates are written YYYY-MM-DD") from None
    return datetime.combine(day, time.max if end else time.min, tzinfo=UTC)


def date_range(first: datetime | None, start: str | None, end: str | None) -> tuple[datetime, datetime]:
    """From the first backup (or 30 days ago) to the end of today, unless the caller chose."""
    today = clock.now()
    default_start = (
        first.replace(hour=0, minute=0, second=0, microsecond=0) if first else today - timedelta(30)
    )
    begin = _day(start, default_start)
    finish = _day(end, today.replace(hour=23, minute=59, second=59), end=True)
    if finish < begin:
        raise BadRequest("the end date is before the start date")
    return begin, finish


SNAPSHOTS_PER_PAGE = 50


@requires(Operation.PREVIEW_DATA)
def user_recovery(request: HttpRequest, task_id: int, box_user_id: str) -> HttpResponse:
    task = get_for(request.access, Task.objects.all(), pk=task_id)  # type: ignore[attr-defined]
    task_user = TaskUser.objects.filter(task=task, box_user_id=box_user_id).first()
    if task_user is None:
        raise Http404("no such user in this task")
    error = ""
    snaps: SnapshotRows | list[dict[str, Any]]
    try:
        begin, finish = date_range(task_user.first_backup_at, request.GET.get("from"), request.GET.get("to"))
        snaps = snapshot_rows(task, box_user_id, begin, finish)
    except BadRequest as exc:
        error, snaps = str(exc), []
        begin, finish = date_range(task_user.first_backup_at, None, None)
    # newest first, 50 a page: a user backed up daily for years has thousands of snapshots
    page = Paginator(snaps, SNAPSHOTS_PER_PAGE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    context = {
        "task": task,
        "task_user": task_user,
        "snapshots": page,
        "page": page,
        "query": query.urlencode(),
        "from": begin.date().isoformat(),
        "to": finish.date().isoformat(),
        "error": error,
        "tab": request.GET.get("tab", "snapshot"),
        "search_url": _search_url(task.pk, box_user_id),
    }
    return render(request, "recovery/user.html", context, status=400 if error else 200)


def _search_url(task_id: int, box_user_id: str) -> str:
    """The item-search fragment (the search helper adds `recovery:search`); empty until it exists."""
    from django.urls import NoReverseMatch, reverse

    try:
        return reverse("recovery:search", args=[task_id, box_user_id])
    except NoReverseMatch:
        return ""


@requires(Operation.PREVIEW_DATA)
def browse(request: HttpRequest, ref: str) -> HttpResponse:
    try:
        located = locate(request.access, ref)  # type: ignore[attr-defined]
    except BadRequest as exc:
        return _bad(request, str(exc))
    with located.repo:
        try:
            path = clean_path(located, request.GET.get("path"))
            entries = children(located, path)
        except BadRequest as exc:
            return _bad(request, str(exc))
        # one tree read, and only where a file could have versions
        has_files = any(e["type"] == "file" and e["box_id"] for e in entries)
        with_versions = versions.files_with_versions(located.repo, located.snapshot) if has_files else set()
        for e in entries:
            e["has_versions"] = bool(e["box_id"]) and e["box_id"] in with_versions
        # object lock: the exact retain-until date stored with the snapshot file (one S3 request set)
        locked = None if request.headers.get("HX-Request") else stored_protected_until(located)
    root = located.root.rstrip("/")
    crumbs = []
    parts = [p for p in path[len(root) :].split("/") if p]
    for i, part in enumerate(parts):
        crumbs.append({"name": part, "path": root + "/" + "/".join(parts[: i + 1])})
    task_user = TaskUser.objects.filter(task=located.task, box_user_id=located.box_user_id).first()
    context = {
        "located": located,
        "ref": located.ref,
        "snapshot": located.snapshot,
        "path": path,
        "root": root,
        "crumbs": crumbs,
        "entries": entries,
        "task_user": task_user,
        "protected_until": locked,
        "can_restore": request.access.can(Operation.RESTORE),  # type: ignore[attr-defined]
        "can_export": request.access.can(Operation.EXPORT),  # type: ignore[attr-defined]
        "can_erase": request.access.can(Operation.DELETE_ITEMS),  # type: ignore[attr-defined]
    }
    template = "recovery/_tree.html" if request.headers.get("HX-Request") else "recovery/browse.html"
    return render(request, template, context)


@require_http_methods(["GET", "POST"])
@requires(Operation.PREVIEW_DATA)
def file_versions(request: HttpRequest, ref: str) -> HttpResponse:
    """A file's previous versions in this backup; restoring one (POST) as the current version or a copy."""
    access = request.access  # type: ignore[attr-defined]
    data = request.POST if request.method == "POST" else request.GET
    try:
        listed = versions.list_versions(access, ref, data.get("path"))
    except BadRequest as exc:
        return _bad(request, str(exc))
    context: dict[str, Any] = {
        "ref": ref,
        "file": listed["file"],
        "versions": listed["versions"],
        "can_restore": access.can(Operation.RESTORE),
        "values": data,
    }
    if request.method == "POST":
        try:
            parsed = parse(
                VersionRestoreRequest,
                {
                    "snapshot": ref,
                    "path": listed["file"]["path"],
                    "version_id": data.get("version_id", ""),
                    "as": data.get("as", "current"),
                },
            )
            job = versions.start_version_restore(
                access, parsed["snapshot"], parsed["path"], parsed["version_id"], parsed["restore_as"]
            )
        except (ValueError, ServiceError) as exc:  # BadRequest is a ValueError
            context["error"] = str(exc)
            return render(request, "recovery/versions.html", context, status=400)
        return redirect(f"/jobs/?q=&highlight={job.pk}#job-{job.pk}")
    return render(request, "recovery/versions.html", context)


def _bad(request: HttpRequest, message: str) -> HttpResponse:
    return render(request, "recovery/error.html", {"message": message}, status=400)


@require_http_methods(["GET", "POST"])
@requires(Operation.PREVIEW_DATA)
def act(request: HttpRequest, ref: str) -> HttpResponse:
    """The confirmation dialog for the selection (restore or export), and starting the job."""
    access = request.access  # type: ignore[attr-defined]
    data = request.POST if request.method == "POST" else request.GET
    action = data.get("action", "restore")
    if action not in ("restore", "zip", "export"):
        return _bad(request, "choose restore, zip or export")
    if action == "restore" and not access.can(Operation.RESTORE):
        raise PermissionDenied("your role does not allow restoring")
    if action != "restore" and not access.can(Operation.EXPORT):
        raise PermissionDenied("your role does not allow exporting")
    try:
        located = locate(access, ref)
    except BadRequest as exc:
        return _bad(request, str(exc))
    located.repo.close()
    paths = data.getlist("paths") or ([data["scope"]] if data.get("scope") else [])
    task_users = TaskUser.objects.filter(task=located.task).order_by("login")
    context: dict[str, Any] = {
        "ref": located.ref,
        "action": action,
        "paths": paths,
        "task_users": task_users,
        "source_user": located.box_user_id,
        "modes": MODES,
        "values": data,
        "snapshot": located.snapshot,
        "task": located.task,
        "from_trash": any(f"/{TRASH_DIR}/" in p or p.endswith(f"/{TRASH_DIR}") for p in paths),
    }
    if request.method == "POST" and data.get("confirm"):
        try:
            if action == "restore":
                parsed = parse(
                    RestoreRequest,
                    {
                        "snapshot": located.ref,
                        "paths": paths,
                        "mode": data.get("mode", ""),
                        "destination": {
                            "box_user_id": data.get("box_user_id") or "",
                            # the picker's choice, else a typed id (the picker needs JavaScript)
                            "folder_id": data.get("folder_pick") or data.get("folder_id") or "0",
                        },
                        "collaborations": bool(data.get("collaborations")),
                        "shared_links": bool(data.get("shared_links")),
                        "comments": bool(data.get("comments")),
                        "metadata": bool(data.get("metadata")),
                    },
                )
                job = services.start_restore(
                    access,
                    parsed["snapshot"],
                    parsed["paths"],
                    parsed["mode"],
                    parsed["destination"],
                    collaborations=parsed["collaborations"],
                    shared_links=parsed["shared_links"],
                    comments=parsed["comments"],
                    metadata=parsed["metadata"],
                )
            else:
                target = {"kind": "zip"} if action == "zip" else {k: data.get(k, "") for k in _TARGET_FIELDS}
                parsed = parse(ExportRequest, {"snapshot": located.ref, "paths": paths, "target": target})
                job = services.start_export(access, parsed["snapshot"], parsed["paths"], parsed["target"])
        except (ValueError, ServiceError) as exc:  # BadRequest is a ValueError
            context["error"] = str(exc)
            return render(request, "recovery/act.html", context, status=400)
        return redirect(f"/jobs/?q=&highlight={job.pk}#job-{job.pk}")
    return render(request, "recovery/act.html", context)


_TARGET_FIELDS = (
    "kind",
    "location",
    "access_key_id",
    "secret_access_key",
    "region",
    "account_name",
    "account_key",
    "sas_token",
    "endpoint",
    "access_token",
)


def download(request: HttpRequest, token: str) -> HttpResponse:
    """A zip export's file, for a signed-in member of the job's account with EXPORT (see links.py)."""
    try:
        link = links.read_token(token)
    except links.LinkError as exc:
        return render(request, "recovery/error.html", {"message": str(exc)}, status=410)
    user: Any = request.user if request.user.is_authenticated else None
    header = request.headers.get("Authorization", "")
    if user is None and header:
        # A script fetches its export with its API token (`Authorization: Token <key>`), through the same
        # checks as a signed-in member: the token's user needs EXPORT in the job's account.
        from boxvault.api.tokens import user_for_key

        scheme, _, key = header.partition(" ")
        user = user_for_key(key.strip()) if scheme.lower() == "token" and key.strip() else None
        if user is None:
            refused = HttpResponse("Invalid or revoked token.\n", status=401, content_type="text/plain")
            refused["WWW-Authenticate"] = "Token"
            return refused
    if user is None:
        from django.contrib.auth.views import redirect_to_login

        return redirect_to_login(request.get_full_path())
    from boxvault.accounts.access import for_user

    try:
        access = for_user(user, Operation.EXPORT)
    except PermissionDenied as exc:
        return render(request, "recovery/error.html", {"message": str(exc)}, status=403)
    if access.account.pk != link.account_id:
        raise Http404("not found")
    job = get_for(access, Job.objects.all(), pk=link.job_id)
    name = (job.result or {}).get("file")
    path = exports_dir() / str(name or "missing")
    if not name or not path.is_file():
        return render(
            request, "recovery/error.html", {"message": "This download is no longer available."}, 410
        )
    stamp = (job.finished_at or clock.now()).strftime("%Y%m%d-%H%M")
    filename = f"boxvault-{job.box_user_login or job.box_user_id}-{stamp}.zip"
    return FileResponse(open(path, "rb"), as_attachment=True, filename=filename)


@requires(Operation.RESTORE)
def box_folder_picker(request: HttpRequest, task_id: int) -> HttpResponse:
    """The restore dialog's folder picker (an htmx fragment): a page of the destination user's folders."""
    box_user_id = request.GET.get("box_user_id", "")
    context: dict[str, Any] = {"url": request.path, "error": ""}
    try:
        context["page"] = box_folders(
            request.access,  # type: ignore[attr-defined]
            task_id,
            box_user_id,
            request.GET.get("parent", "0"),
            request.GET.get("offset", "0"),
        )
        context["login"] = (
            TaskUser.objects.filter(task_id=task_id, box_user_id=box_user_id)
            .values_list("login", flat=True)
            .first()
        )
    except ServiceError as exc:
        context["error"] = str(exc)
    return render(request, "recovery/_folders.html", context)
