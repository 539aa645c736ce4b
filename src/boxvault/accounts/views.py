from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from boxvault.accounts import services
from boxvault.accounts.access import get_for
from boxvault.accounts.forms import AccountSettingsForm, MemberForm, NewMemberForm, RemovalForm
from boxvault.accounts.models import Member
from boxvault.core import clock
from boxvault.core.access import requires
from boxvault.core.operations import Operation


@require_http_methods(["GET", "POST"])
@requires(Operation.VIEW_SETTINGS)
def account_settings(request: HttpRequest) -> HttpResponse:
    access = request.access  # type: ignore[attr-defined]
    account = access.account
    form = AccountSettingsForm(initial={"name": account.name, "email": account.email})
    if request.method == "POST":
        if not access.can(Operation.MANAGE_ACCOUNT):
            return render(
                request, "403.html", {"reason": "Only administrators change account settings."}, status=403
            )
        form = AccountSettingsForm(request.POST)
        if form.is_valid():
            try:
                services.update_account(access, request=request, **form.cleaned_data)
            except services.ServiceError as exc:
                form.add_error(None, str(exc))
            else:
                messages.success(request, "Account settings saved.")
                return redirect("accounts:settings")
    trial = getattr(account, "trial", None)
    return render(
        request,
        "accounts/settings.html",
        {
            "form": form,
            "account": account,
            "can_manage": access.can(Operation.MANAGE_ACCOUNT),
            "trial": trial,
            "trial_days_left": trial.days_left(clock.now()) if trial else None,
            "grace_days": settings.BOXVAULT_REMOVAL_GRACE_DAYS,  # "after a -day grace period" without it
        },
    )


@require_http_methods(["GET", "POST"])
@requires(Operation.MANAGE_ACCOUNT, allow_pending_removal=True)
def removal(request: HttpRequest) -> HttpResponse:
    access = request.access  # type: ignore[attr-defined]
    if access.account.pending_removal:
        return render(request, "accounts/removal_pending.html", {"account": access.account})
    form = RemovalForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        if request.POST.get("confirm") != "yes":
            return render(
                request,
                "accounts/removal_confirm.html",
                {"account": access.account, "grace_days": settings.BOXVAULT_REMOVAL_GRACE_DAYS},
            )
        services.request_removal(access, request=request)
        messages.warning(request, "Your account is scheduled for removal.")
        return redirect("accounts:removal")
    return render(
        request,
        "accounts/removal.html",
        {"form": form, "account": access.account, "grace_days": settings.BOXVAULT_REMOVAL_GRACE_DAYS},
    )


@require_POST
@requires(Operation.MANAGE_ACCOUNT, allow_pending_removal=True)
def reactivate(request: HttpRequest) -> HttpResponse:
    try:
        services.reactivate(request.access, request=request)  # type: ignore[attr-defined]
    except services.ServiceError as exc:
        messages.error(request, str(exc))
        return redirect("accounts:removal")
    messages.success(request, "Your account is active again.")
    return redirect("accounts:settings")


@requires(Operation.MANAGE_USERS)
def members(request: HttpRequest) -> HttpResponse:
    access = request.access  # type: ignore[attr-defined]
    rows = services.member_with_flags(access.account.members.select_related("user"))
    return render(request, "accounts/members.html", {"rows": rows})


@require_http_methods(["GET", "POST"])
@requires(Operation.MANAGE_USERS)
def member_add(request: HttpRequest) -> HttpResponse:
    form = NewMemberForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            services.add_member(
                request.access,
                email=data["email"],
                first_name=data["first_name"],  # type: ignore[attr-defined]
                last_name=data["last_name"],
                role=data["role"],
                operations=data["operations"],
                services=data["services"],
                password=data["password1"] or None,
                request=request,
            )
        except services.ServiceError as exc:
            form.add_error(None, str(exc))
        else:
            how = "with the password you chose" if data["password1"] else "and sent an invitation e-mail"
            messages.success(request, f"Added {data['email']} {how}.")
            return redirect("accounts:members")
    return render(request, "accounts/member_form.html", {"form": form, "adding": True})


@require_http_methods(["GET", "POST"])
@requires(Operation.MANAGE_USERS)
def member_edit(request: HttpRequest, pk: int) -> HttpResponse:
    access = request.access  # type: ignore[attr-defined]
    member = get_for(access, Member.objects.select_related("user"), pk=pk)
    initial = {
        "first_name": member.user.first_name,
        "last_name": member.user.last_name,
        "role": member.role,
        "operations": member.operations,
        "services": member.services,
    }
    form = MemberForm(request.POST if request.method == "POST" else None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            services.update_member(access, member, request=request, **form.cleaned_data)
        except services.ServiceError as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, f"Saved {member.user.email}.")
            return redirect("accounts:members")
    return render(request, "accounts/member_form.html", {"form": form, "member": member, "adding": False})


@require_http_methods(["GET", "POST"])
@requires(Operation.MANAGE_USERS)
def member_remove(request: HttpRequest, pk: int) -> HttpResponse:
    access = request.access  # type: ignore[attr-defined]
    member = get_for(access, Member.objects.select_related("user"), pk=pk)
    if request.method == "POST":
        try:
            services.remove_member(access, member, request=request)
        except services.ServiceError as exc:
            messages.error(request, str(exc))
        else:
            messages.success(request, f"Removed {member.user.email}.")
        return redirect("accounts:members")
    return render(request, "accounts/member_remove.html", {"member": member})
