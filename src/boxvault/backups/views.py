"""Pages of backup tasks: homepage list, add (OAuth connect), settings, delete, users and their actions."""

from __future__ import annotations

import logging

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from boxvault.accounts.access import Access, get_for, scoped
from boxvault.backups import queries, services
from boxvault.backups.conf import box_app
from boxvault.backups.forms import NewTaskForm, TaskSettingsForm
from boxvault.backups.models import StorageUsage, Task, TaskUser
from boxvault.backups.repository import object_lock
from boxvault.core.access import requires
from boxvault.core.errors import ServiceError
from boxvault.core.operations import Operation

log = logging.getLogger(__name__)
_STATE_KEY = "backups_oauth_state"


def _access(request: HttpRequest) -> Access:
    return request.access  # type: ignore[attr-defined,no-any-return]


def _task(request: HttpRequest, pk: int) -> Task:
    return get_for(_access(request), queries.tasks_with_figures(Task.objects.all()), pk=pk)


def home(request: HttpRequest) -> HttpResponse:
    if not request.user.is_authenticated:
        return redirect("account_login")
    return _home(request)


@requires()
def _home(request: HttpRequest) -> HttpResponse:
    access = _access(request)
    search = request.GET.get("q", "")[:200]
    tasks = None
    if access.can(Operation.VIEW_TASKS):
        tasks = queries.tasks_with_figures(scoped(access, Task.objects.all()), search).order_by("name", "id")
    return render(
        request,
        "backups/home.html",
        {
            "account": access.account,
            "tasks": tasks,
            "q": search,
            "can_add": access.can(Operation.ACTIVATE_TASKS),
        },
    )


def _redirect_uri(request: HttpRequest) -> str:
    return request.build_absolute_uri(reverse("backups:oauth_callback"))


def _to_box(request: HttpRequest, task: Task, state: str) -> HttpResponse:
    # The state ties the callback to this browser session and this task (CSRF protection of the redirect).
    request.session[_STATE_KEY] = {"state": state, "task": task.pk}
    return redirect(services.authorize_url(state, _redirect_uri(request)))


@requires(Operation.ACTIVATE_TASKS)
def new_task(request: HttpRequest) -> HttpResponse:
    form = NewTaskForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            task, state = services.begin_oauth(_access(request), name=form.cleaned_data["name"])
        except ServiceError as exc:
            form.add_error(None, str(exc))
        else:
            return _to_box(request, task, state)
    return render(request, "backups/new.html", {"form": form, "box_configured": box_app().configured})


@requires()  # the service checks activate (a new task) or modify (re-authorization)
def oauth_callback(request: HttpRequest) -> HttpResponse:
    expected = request.session.pop(_STATE_KEY, None)
    state = request.GET.get("state", "")
    if not expected or not state or expected.get("state") != state:
        messages.error(request, "The authorization could not be matched to this session; please try again.")
        return redirect("portal:home")
    task = get_for(_access(request), Task.objects.all(), pk=expected.get("task"))
    if request.GET.get("error"):
        services.mark_disconnected(task, request.GET.get("error_description", "") or request.GET["error"])
        messages.error(request, "Box access was not granted; the task stays disconnected.")
        return redirect("backups:settings", pk=task.pk)
    try:
        services.finish_oauth(_access(request), task, request.GET.get("code", "")[:2000])
    except ServiceError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"{task.name} is connected to Box.")
    return redirect("backups:settings", pk=task.pk)


@requires(Operation.VIEW_TASKS)
def task_settings(request: HttpRequest, pk: int) -> HttpResponse:
    task = _task(request, pk)
    access = _access(request)
    form = TaskSettingsForm(request.POST or None, instance=task)
    if request.method == "POST":
        if not access.can(Operation.MODIFY_TASKS):
            raise PermissionDenied("your role does not allow this: Modify backup tasks")
        if form.is_valid():
            changes = {f: form.cleaned_data[f] for f in form.changed_data}
            try:
                services.update_settings(access, _task(request, pk), **changes)
            except ServiceError as exc:
                form.add_error(None, str(exc))
            else:
                messages.success(request, "Settings saved.")
                return redirect("backups:settings", pk=pk)
    return render(
        request,
        "backups/settings.html",
        {
            "task": task,
            "form": form,
            "can_modify": access.can(Operation.MODIFY_TASKS),
            "usage": StorageUsage.objects.filter(task=task).first(),
            "object_lock": object_lock(task),
        },
    )


@require_POST
@requires(Operation.MODIFY_TASKS)
def reconnect(request: HttpRequest, pk: int) -> HttpResponse:
    task = _task(request, pk)
    try:
        task, state = services.begin_oauth(_access(request), task=task)
    except ServiceError as exc:
        messages.error(request, str(exc))
        return redirect("backups:settings", pk=pk)
    return _to_box(request, task, state)


@requires(Operation.DELETE_TASKS)
def delete_task(request: HttpRequest, pk: int) -> HttpResponse:
    task = _task(request, pk)
    if request.method == "POST":
        if request.POST.get("undo"):
            services.cancel_deletion(_access(request), task)
            messages.success(request, f"{task.name} will not be deleted.")
        else:
            services.request_deletion(_access(request), task)
            messages.success(
                request, f"{task.name} and its backups will be deleted on {task.deletion_due_at:%Y-%m-%d}."
            )
        return redirect("portal:home")
    return render(request, "backups/delete.html", {"task": task, "grace_days": services.GRACE_DAYS})


@requires(Operation.VIEW_TASKS)
def task_users(request: HttpRequest, pk: int) -> HttpResponse:
    task = _task(request, pk)
    access = _access(request)
    status = request.GET.get("status", "")
    status = status if status in TaskUser.Status.values else ""
    search = request.GET.get("q", "")[:200]
    if request.method == "POST":
        return _user_action(request, task)
    page = Paginator(queries.task_users(task, status=status, search=search), 100).get_page(
        request.GET.get("page")
    )
    shares = StorageUsage.objects.filter(task=task).values_list("users", flat=True).first() or {}
    for row in page:  # each user's share of the stored bytes (usage.py), when computed
        row.stored_share = (shares.get(row.box_user_id) or {}).get("share_bytes")
    return render(
        request,
        "backups/users.html",
        {
            "task": task,
            "page": page,
            "status": status,
            "q": search,
            "statuses": TaskUser.Status.choices,
            "actions": [a for a, op in services.ACTIONS.items() if access.can(op)],
            "can_refresh": access.can(Operation.MODIFY_TASKS),
        },
    )


def _user_action(request: HttpRequest, task: Task) -> HttpResponse:
    action = request.POST.get("action", "")
    ids = request.POST.getlist("box_user_id")
    if action == "delete" and not request.POST.get("confirmed"):
        if not _access(request).can(Operation.DELETE_TASKS):
            raise PermissionDenied("your role does not allow this: Delete backup tasks")
        users = TaskUser.objects.filter(task=task, box_user_id__in=ids)
        return render(
            request,
            "backups/users_delete.html",
            {"task": task, "users": users, "grace_days": services.GRACE_DAYS},
        )
    try:
        jobs = services.user_action(_access(request), task, action, ids)
    except ServiceError as exc:
        messages.error(request, str(exc))
    else:
        if action == "backup_now":
            if jobs:
                messages.success(request, f"{len(jobs)} backup job(s) started.")
            begun = {j.box_user_id for j in jobs}
            for user in TaskUser.objects.filter(task=task, box_user_id__in=ids).exclude(
                box_user_id__in=begun
            ):
                messages.warning(request, f"No backup started: {services.not_started_reason(user)}")
        else:
            messages.success(request, f"{len(ids)} user(s): {action.replace('_', ' ')} done.")
    return redirect("backups:users", pk=task.pk)


@require_POST
@requires(Operation.MODIFY_TASKS)
def refresh_users(request: HttpRequest, pk: int) -> HttpResponse:
    task = _task(request, pk)
    try:
        counts = services.discover_users(task)
    except Exception as exc:  # noqa: BLE001 - Box trouble is shown, never a 500
        from boxvault.backups.connection import describe

        messages.error(request, f"Could not list the Box users: {describe(exc)}")
    else:
        messages.success(request, f"Users refreshed: {counts['new']} new, {counts['archived']} archived.")
    return redirect("backups:users", pk=pk)
