"""The "Via item search" tab of the recovery page: form, results, and handing a selection to recovery."""

from __future__ import annotations

import re
from collections import defaultdict
from urllib.parse import urlencode

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse

from boxvault.backups.models import TaskUser
from boxvault.core.access import requires
from boxvault.core.operations import Operation
from boxvault.search import services
from boxvault.search.query import BadInput

PAGE_SIZE = 25
FIELDS = ("q", "author", "name", "from", "to")


@requires(Operation.PREVIEW_DATA)
def items(request: HttpRequest, task_id: int, box_user_id: str) -> HttpResponse:
    access = request.access  # type: ignore[attr-defined]
    task = services.task_for(access, task_id)
    task_user = TaskUser.objects.filter(task=task, box_user_id=box_user_id).first()
    if task_user is None:
        raise Http404("no such user in this task")
    values = {k: request.GET.get(k, "").strip() for k in FIELDS}
    page_text = request.GET.get("page", "1")
    page_number = int(page_text) if page_text.isdigit() and 0 < len(page_text) < 5 else 1
    context = {
        "task": task,
        "task_user": task_user,
        "values": values,
        "searched": any(values.values()),
        "error": "",
        "page": None,
        "url": reverse("search:items", args=[task.pk, box_user_id]),
        "select_url": reverse("search:select"),
        "can_restore": access.can(Operation.RESTORE),
        "can_export": access.can(Operation.EXPORT),
        "can_erase": access.can(Operation.DELETE_ITEMS),
    }
    status = 200
    if context["searched"]:
        try:
            context["page"] = services.search_items(
                access,
                task,
                q=values["q"],
                author=values["author"],
                name=values["name"],
                date_from=values["from"],
                date_to=values["to"],
                box_user_id=box_user_id,
                limit=PAGE_SIZE,
                offset=(page_number - 1) * PAGE_SIZE,
            )
        except BadInput as exc:
            context["error"], status = str(exc), 400
        query = {k: v for k, v in values.items() if v}
        context["next_query"] = urlencode({**query, "page": page_number + 1})
        context["prev_query"] = urlencode({**query, "page": page_number - 1})
    fragment = request.headers.get("HX-Request") == "true"
    template = "search/_items.html" if fragment else "search/items.html"
    return render(request, template, context, status=status)


# the shape of recovery's snapshot refs (recovery.snapshots.make_ref: "<task id>:<snapshot id>")
_REF = re.compile(r"^\d{1,12}:[0-9a-f]{8,64}$")


@requires(Operation.PREVIEW_DATA)
def select(request: HttpRequest) -> HttpResponse:
    """Selected results ("<snapshot ref>|<path>") → the recovery dialog of their snapshot.

    The recovery dialog works on one snapshot; a selection spanning several lists one dialog per snapshot.
    """
    action = request.GET.get("action", "restore")
    if action == "erase":
        return _erase(request)
    if action not in ("restore", "zip", "export"):
        return render(request, "search/select.html", {"error": "choose restore, zip or export"}, status=400)
    groups: dict[str, list[str]] = defaultdict(list)
    for value in request.GET.getlist("item"):
        ref, sep, path = value.partition("|")
        if sep and ref and path:
            groups[ref].append(path)
    if any(not _REF.match(ref) for ref in groups):
        # A hand-made ref (a "/" in it broke the reverse() below with a 500): say what a ref looks like.
        error = "an item is '<task id>:<snapshot id>|<path>'"
        return render(request, "search/select.html", {"error": error}, status=400)
    if not groups:
        return render(request, "search/select.html", {"error": "select at least one item"}, status=400)
    links = [
        {
            "ref": ref,
            "paths": paths,
            "url": reverse("recovery:act", args=[ref])
            + "?"
            + urlencode({"action": action, "paths": paths}, True),
        }
        for ref, paths in sorted(groups.items())
    ]
    if len(links) == 1:
        return redirect(links[0]["url"])
    return render(request, "search/select.html", {"links": links, "action": action})


def _erase(request: HttpRequest) -> HttpResponse:
    """Erasure covers every snapshot of the user: all selected items go to one erasure page (the search tab
    shows one user), named by the first result's snapshot; its paths are checked against every snapshot."""
    items = [v.partition("|") for v in request.GET.getlist("item")]
    items = [(ref, path) for ref, sep, path in items if sep and ref and path]
    if not items:
        return render(request, "search/select.html", {"error": "select at least one item"}, status=400)
    refs = {ref for ref, _ in items}
    ref = sorted(refs)[-1]
    query = urlencode({"paths": [path for _, path in items], "across": "1"}, True)
    return redirect(reverse("recovery:erase", args=[ref]) + "?" + query)
