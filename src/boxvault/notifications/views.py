"""Settings > Notifications, and the report download behind a signed link (thin: services do the work)."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from boxvault.core.access import for_user, requires
from boxvault.core.errors import ServiceError
from boxvault.core.operations import Operation
from boxvault.notifications import links, services
from boxvault.notifications.forms import RecipientForm, SettingsForm
from boxvault.notifications.models import MAX_RECIPIENTS, Delivery, Recipient


def _access(request: HttpRequest) -> Any:
    return request.access  # type: ignore[attr-defined]


@require_http_methods(["GET", "POST"])
@requires(Operation.MANAGE_NOTIFICATIONS)
def settings_page(request: HttpRequest) -> HttpResponse:
    access = _access(request)
    current = services.settings_for(access.account)
    form = SettingsForm(instance=services.settings_for(access.account))
    add = RecipientForm()
    if request.method == "POST" and request.POST.get("form") == "settings":
        form = SettingsForm(request.POST, instance=services.settings_for(access.account))
        if form.is_valid():
            try:
                services.update_settings(
                    access, request=request, **{f: form.cleaned_data[f] for f in form.changed_data}
                )
            except ServiceError as exc:
                form.add_error(None, str(exc))
            else:
                messages.success(request, "Notification settings saved.")
                return redirect("notifications:settings")
    elif request.method == "POST":
        add = RecipientForm(request.POST)
        if add.is_valid():
            try:
                services.add_recipient(access, request=request, **add.cleaned_data)
            except ServiceError as exc:
                add.add_error(None, str(exc))
            else:
                messages.success(request, f"{add.cleaned_data['email']} added.")
                return redirect("notifications:settings")
    status = 400 if request.method == "POST" else 200
    recipients = access.restrict(Recipient.objects.all()).order_by("email", "id")
    return render(
        request,
        "notifications/settings.html",
        {
            "form": form,
            "add": add,
            "recipients": recipients,
            "settings": current,
            "max_recipients": MAX_RECIPIENTS,
        },
        status=status,
    )


@require_http_methods(["GET", "POST"])
@requires(Operation.MANAGE_NOTIFICATIONS)
def recipient_edit(request: HttpRequest, pk: int) -> HttpResponse:
    access = _access(request)
    row: Recipient = access.get(Recipient.objects.all(), pk=pk)
    initial = {"email": row.email, "display_name": row.display_name, "types": row.types}
    form = RecipientForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            services.update_recipient(access, row, request=request, **form.cleaned_data)
        except ServiceError as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, "Recipient saved.")
            return redirect("notifications:settings")
    status = 400 if request.method == "POST" else 200
    return render(request, "notifications/recipient.html", {"form": form, "recipient": row}, status=status)


@require_POST
@requires(Operation.MANAGE_NOTIFICATIONS)
def recipient_remove(request: HttpRequest, pk: int) -> HttpResponse:
    access = _access(request)
    row: Recipient = access.get(Recipient.objects.all(), pk=pk)
    services.remove_recipient(access, row, request=request)
    messages.success(request, f"{row.email} removed.")
    return redirect("notifications:settings")


@requires()
def report_download(request: HttpRequest, token: str) -> HttpResponse:
    """A report's CSV behind its signed link: the link alone is not enough, the holder must be signed in as
    a member of the report's account (a forwarded e-mail leaks nothing)."""
    try:
        link = links.read_token(token)
    except links.LinkError as exc:
        return render(request, "notifications/link_error.html", {"message": str(exc)}, status=410)
    access = for_user(request.user)
    if access.account.pk != link.account_id:
        raise Http404("not found")
    delivery = Delivery.objects.filter(pk=link.delivery_id, account=access.account).first()
    if delivery is None or not delivery.attachment:
        raise Http404("not found")
    response = HttpResponse(delivery.attachment, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{links.filename(delivery)}"'
    return response
