"""Erasure pages: select (tree or item search) → reason and first confirmation → second confirmation → job.

Both confirmations are server-side steps (a POST each), so no single click or replayed form erases: the
second step only appears after the first was accepted, and only its POST (with `step=2`) calls the service.
"""

from __future__ import annotations

from typing import Any

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from boxvault.accounts.access import scoped
from boxvault.core.access import requires
from boxvault.core.errors import ServiceError
from boxvault.core.operations import Operation
from boxvault.recovery import erasure as service
from boxvault.recovery.models import Erasure
from boxvault.recovery.snapshots import BadRequest, clean_path, find_node, locate


@require_http_methods(["GET", "POST"])
@requires(Operation.DELETE_ITEMS)
def erase(request: HttpRequest, ref: str) -> HttpResponse:
    access = request.access  # type: ignore[attr-defined]
    data = request.POST if request.method == "POST" else request.GET
    try:
        located = locate(access, ref)
    except BadRequest as exc:
        return render(request, "recovery/error.html", {"message": str(exc)}, status=400)
    context: dict[str, Any] = {"ref": located.ref, "task": located.task, "snapshot": located.snapshot}
    # from item search the versions may come from several snapshots: the service checks each path against
    # every snapshot of the user; from the tree, against the snapshot shown
    across = bool(data.get("across"))
    with located.repo:
        raw = data.getlist("paths") or ([data["scope"]] if data.get("scope") else [])
        try:
            paths = sorted({clean_path(located, p) for p in raw})
            for path in paths if not across else []:
                find_node(located, path)  # 404 for a path the snapshot does not have
        except BadRequest as exc:
            return render(request, "recovery/error.html", {"message": str(exc)}, status=400)
    from boxvault.backups.models import TaskUser

    user = TaskUser.objects.filter(task=located.task, box_user_id=located.box_user_id).first()
    reason = str(data.get("reason") or "").strip()
    context.update(paths=paths, task_user=user, reason=reason, step=1, root=located.root, across=across)
    if not paths:
        context["error"] = "Select at least one file or folder to erase."
        return render(request, "recovery/erase.html", context, status=400)
    if request.method == "GET":
        return render(request, "recovery/erase.html", context)
    step = str(data.get("step") or "1")
    if not reason:
        context["error"] = "Give the reason for the erasure: it is kept in the receipt."
        return render(request, "recovery/erase.html", context, status=400)
    if not data.get("understood"):
        context["error"] = "Confirm that you understand the erasure cannot be undone."
        return render(request, "recovery/erase.html", context, status=400)
    if step != "2":
        context["step"] = 2  # the second confirmation
        return render(request, "recovery/erase.html", context)
    try:
        row = service.request_erasure(
            access,
            task=located.task.pk,
            box_user_id=located.box_user_id,
            paths=paths,
            reason=reason,
            snapshot=None if across else located.ref,
        )
    except (BadRequest, ServiceError) as exc:
        context.update(error=str(exc), step=1)
        return render(request, "recovery/erase.html", context, status=400)
    return redirect("recovery:erasure", row.pk)


@requires(Operation.DELETE_ITEMS)
def erasures(request: HttpRequest) -> HttpResponse:
    rows = scoped(request.access, Erasure.objects.all())[:200]  # type: ignore[attr-defined]
    return render(request, "recovery/erasures.html", {"erasures": rows})


@requires(Operation.DELETE_ITEMS)
def erasure(request: HttpRequest, pk: int) -> HttpResponse:
    row = scoped(request.access, Erasure.objects.all()).filter(pk=pk).first()  # type: ignore[attr-defined]
    if row is None:
        raise Http404("no such erasure")
    return render(request, "recovery/erasure.html", {"erasure": row, "receipt": row.receipt or {}})
