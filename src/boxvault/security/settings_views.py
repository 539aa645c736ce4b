"""Settings > Security: Personal, Policies, SAML and IP restrictions. Seeing it needs "view account settings";
changing it is Administrator-only (the services check that again)."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from boxvault.core.access import requires
from boxvault.core.errorpages import forbidden
from boxvault.core.errors import ServiceError
from boxvault.core.operations import Operation
from boxvault.security import policy as services
from boxvault.security import saml
from boxvault.security.enforcement import has_totp
from boxvault.security.forms import IpRuleForm, PolicyForm, SamlForm
from boxvault.security.models import IpRule

ONLY_ADMINS = "Only administrators change security settings."


def _context(request: HttpRequest, **extra: Any) -> dict[str, Any]:
    access = request.access  # type: ignore[attr-defined]
    policy = services.policy_of_account(access.account)
    context: dict[str, Any] = {
        "can_manage": access.can(Operation.MANAGE_ACCOUNT),
        "policy": policy,
        "ip_on": bool(policy and policy.ip_restrictions),
        "rules": IpRule.objects.filter(account=access.account),
        "your_ip": request.META.get("REMOTE_ADDR", ""),
        "has_totp": has_totp(request.user),
        "policy_form": PolicyForm(
            initial={
                "enforce_2fa": bool(policy and policy.enforce_2fa),
                "password_max_age_days": policy.password_max_age_days if policy else None,
            }
        ),
        "rule_form": IpRuleForm(),
        **_saml_context(request, access),
    }
    context.update(extra)
    return context


@require_http_methods(["GET", "POST"])
@requires(Operation.VIEW_SETTINGS)
def security_settings(request: HttpRequest) -> HttpResponse:
    access = request.access  # type: ignore[attr-defined]
    if request.method == "GET":
        return render(request, "security/settings.html", _context(request))
    if not access.can(Operation.MANAGE_ACCOUNT):
        return forbidden(request, PermissionError(ONLY_ADMINS))
    action = request.POST.get("action")
    extra: dict[str, Any] = {}
    try:
        if action == "policy":
            form = PolicyForm(request.POST)
            extra["policy_form"] = form
            if form.is_valid():
                services.update_policy(access, request=request, **form.cleaned_data)
                messages.success(request, "Security policies saved.")
                return redirect("security:settings")
        elif action == "ip_add":
            rule_form = IpRuleForm(request.POST)
            extra["rule_form"] = rule_form
            if rule_form.is_valid():
                rule = services.parse_rule_input(addresses=[rule_form.cleaned_data["addresses"]])
                services.add_ip_rule(
                    access, description=rule_form.cleaned_data["description"], rule=rule, request=request
                )
                messages.success(request, "Trusted IP entry added.")
                return redirect("security:settings")
        elif action in ("ip_on", "ip_off"):
            services.set_ip_restrictions(access, action == "ip_on", request=request)
            messages.success(request, f"IP restrictions turned {'on' if action == 'ip_on' else 'off'}.")
            return redirect("security:settings")
        else:
            messages.error(request, "Unknown action.")
            return redirect("security:settings")
    except ServiceError as exc:
        messages.error(request, str(exc))
    return render(request, "security/settings.html", _context(request, **extra), status=400)


def _saml_context(request: HttpRequest, access: Any, form: SamlForm | None = None) -> dict[str, Any]:
    config = saml.config_of(access.account)
    if form is None:
        form = SamlForm(
            initial={
                "enabled": bool(config and config.enabled),
                "metadata_url": config.metadata_url if config else "",
                "slug": config.slug if config else "",
                "domains": ", ".join(config.domains) if config else "",
                "create_members": bool(config and config.create_members),
                "default_role": config.default_role if config else "custom",
                "default_operations": config.default_operations if config else [],
            }
        )
    return {
        "saml": config,
        "saml_form": form,
        "sp": saml.sp_urls(config.slug, request) if config else None,
    }


@require_POST
@requires(Operation.MANAGE_ACCOUNT)
def saml_settings(request: HttpRequest) -> HttpResponse:
    access = request.access  # type: ignore[attr-defined]
    form = SamlForm(request.POST, request.FILES)
    if form.is_valid():
        data = form.cleaned_data
        upload = data.get("metadata_file")
        try:
            xml = upload.read(saml.MAX_METADATA + 1).decode("utf-8") if upload else None
        except UnicodeDecodeError:
            form.add_error("metadata_file", "The metadata file must be UTF-8 XML.")
        else:
            try:
                saml.update_saml(
                    access,
                    saml.SamlInput(
                        enabled=data["enabled"],
                        slug=data["slug"] or None,
                        metadata_url=data["metadata_url"] or None,
                        metadata_xml=xml,
                        domains=[d for d in data["domains"].split(",") if d.strip()],
                        create_members=data["create_members"],
                        default_role=data["default_role"],
                        default_operations=data["default_operations"],
                    ),
                    request=request,
                )
            except ServiceError as exc:
                form.add_error(None, str(exc))
            else:
                messages.success(request, "SAML settings saved.")
                return redirect("security:settings")
    context = _context(request, **_saml_context(request, access, form))
    return render(request, "security/settings.html", context, status=400)


@require_http_methods(["GET", "POST"])
@requires(Operation.MANAGE_ACCOUNT)
def ip_rule_edit(request: HttpRequest, pk: int) -> HttpResponse:
    access = request.access  # type: ignore[attr-defined]
    row = access.get(IpRule.objects.all(), pk=pk)
    form = IpRuleForm(
        request.POST if request.method == "POST" else None,
        initial={"description": row.description, "addresses": row.value},
    )
    if request.method == "POST" and form.is_valid():
        try:
            rule = services.parse_rule_input(addresses=[form.cleaned_data["addresses"]])
            services.update_ip_rule(
                access, row.pk, description=form.cleaned_data["description"], rule=rule, request=request
            )
        except ServiceError as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, "Trusted IP entry saved.")
            return redirect("security:settings")
    return render(
        request,
        "security/ip_rule_form.html",
        {"form": form, "rule": row, "your_ip": request.META.get("REMOTE_ADDR", "")},
    )


@require_POST
@requires(Operation.MANAGE_ACCOUNT)
def ip_rule_delete(request: HttpRequest, pk: int) -> HttpResponse:
    try:
        services.delete_ip_rule(request.access, pk, request=request)  # type: ignore[attr-defined]
    except ServiceError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, "Trusted IP entry removed.")
    return redirect("security:settings")
