"""SAML single sign-on settings (Settings > Security > SAML): one service that validates the IdP metadata with
python3-saml's parser (no hand-written XML handling), stores it, keeps allauth's SocialApp in step and audits.

The metadata is fetched only here, on save, through the egress guard (`fetch`); allauth is handed the parsed
entity id, SSO URL and certificate, never the URL, so sign-ins never make the server fetch anything.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, field
from typing import Any

from allauth.core.exceptions import ImmediateHttpResponse
from allauth.socialaccount.models import SocialApp
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.template.loader import get_template
from django.urls import reverse
from django.utils.text import slugify
from onelogin.saml2.idp_metadata_parser import OneLogin_Saml2_IdPMetadataParser

from boxvault.core import clock
from boxvault.core.access import Access
from boxvault.core.errors import ServiceError
from boxvault.core.operations import GRANTABLE, Operation
from boxvault.security.fetch import FetchError, fetch
from boxvault.security.models import AuditEvent, SamlConfig
from boxvault.security.services import from_where, record

ROLES = ("admin", "custom")
_SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{1,62}$")
_DOMAIN = re.compile(r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")
MAX_METADATA = 1024 * 1024


@dataclass
class SamlInput:
    enabled: bool = False
    slug: str | None = None
    metadata_url: str | None = None
    metadata_xml: str | None = None
    domains: list[str] = field(default_factory=list)
    create_members: bool = False
    default_role: str = "custom"
    default_operations: list[str] = field(default_factory=list)


def config_of(account: Any) -> SamlConfig | None:
    return SamlConfig.objects.filter(account=account).first()


def config_for_slug(slug: str) -> SamlConfig | None:
    return SamlConfig.objects.select_related("account").filter(slug=slug).first()


def sp_urls(slug: str, request: HttpRequest | None) -> dict[str, str]:
    """What the administrator pastes into the IdP (allauth's SP entity id is its metadata URL)."""
    from django.conf import settings

    def absolute(path: str) -> str:
        if request is not None:
            return request.build_absolute_uri(path)
        return settings.BOXVAULT_BASE_URL.rstrip("/") + path

    metadata = absolute(reverse("saml_metadata", args=[slug]))
    return {
        "sp_entity_id": metadata,
        "acs_url": absolute(reverse("saml_acs", args=[slug])),
        "sp_metadata_url": metadata,
        "login_url": absolute(reverse("saml_login", args=[slug])),
    }


def parse_metadata(xml: str) -> dict[str, Any]:
    """The IdP's entity id, SSO URL (HTTP-Redirect) and signing certificate, or ServiceError."""
    try:
        parsed = OneLogin_Saml2_IdPMetadataParser.parse(xml)
    except Exception:  # noqa: BLE001 - the parser raises bare Exceptions and lxml errors for anything
        raise ServiceError("This is not SAML 2.0 IdP metadata (the XML could not be read).") from None
    idp = parsed.get("idp") or {}
    entity_id = idp.get("entityId")
    sso = (idp.get("singleSignOnService") or {}).get("url")
    cert = idp.get("x509cert") or ((idp.get("x509certMulti") or {}).get("signing") or [None])[0]
    if not entity_id or not sso:
        raise ServiceError("This is not SAML 2.0 IdP metadata: no IdP entity id or single sign-on service.")
    if not cert:
        raise ServiceError("The IdP metadata has no signing certificate: assertions could not be verified.")
    return {"entity_id": entity_id, "sso_url": sso, "x509cert": cert}


def _clean(data: SamlInput, account: Any, current: SamlConfig | None) -> SamlInput:
    slug = (data.slug or (current.slug if current else "") or "").strip().lower()
    if not slug:
        slug = (slugify(account.name)[:40] or "account") + "-" + secrets.token_hex(3)
    if not _SLUG.match(slug):
        raise ServiceError("The sign-in slug must be 2 to 63 lowercase letters, digits or hyphens.")
    if SamlConfig.objects.filter(slug=slug).exclude(account=account).exists():
        raise ServiceError("This sign-in slug is taken; choose another.")
    domains = sorted({str(d).strip().lower() for d in data.domains if str(d).strip()})
    bad = [d for d in domains if not _DOMAIN.match(d)]
    if bad:
        raise ServiceError(f"Not a domain name: {', '.join(bad)}.")
    taken = SamlConfig.objects.exclude(account=account).filter(enabled=True)
    clash = [d for d in domains for other in taken if d in (other.domains or [])]
    if clash:
        raise ServiceError(f"Another account signs in with the domain {clash[0]}.")
    if data.default_role not in ROLES:
        raise ServiceError("The default role must be admin or custom.")
    ops = sorted(set(data.default_operations))
    unknown = [op for op in ops if op not in {str(o) for o in GRANTABLE}]
    if unknown:
        raise ServiceError(f"Unknown operation(s): {', '.join(unknown)}.")
    return SamlInput(
        enabled=data.enabled,
        slug=slug,
        metadata_url=(data.metadata_url or "").strip() or None,
        metadata_xml=data.metadata_xml or None,
        domains=domains,
        create_members=data.create_members,
        default_role=data.default_role,
        default_operations=ops if data.default_role == "custom" else [],
    )


def _metadata(data: SamlInput, current: SamlConfig | None) -> tuple[str, str]:
    """(xml, url): an upload wins, then a URL (fetched now), then what is stored."""
    if data.metadata_xml:
        if len(data.metadata_xml) > MAX_METADATA:
            raise ServiceError("The metadata file is larger than 1 MB.")
        return data.metadata_xml, ""
    if data.metadata_url:
        if len(data.metadata_url) > 500:
            raise ServiceError("The metadata URL is limited to 500 characters.")
        try:
            body = fetch(data.metadata_url)
        except FetchError as exc:
            raise ServiceError(str(exc)) from None
        try:
            return body.decode("utf-8"), data.metadata_url
        except UnicodeDecodeError:
            raise ServiceError("The metadata URL did not answer with UTF-8 XML.") from None
    if current is not None and current.metadata_xml:
        return current.metadata_xml, current.metadata_url
    return "", ""


def _app_settings(idp: dict[str, Any]) -> dict[str, Any]:
    return {
        "hidden": True,  # never listed on the shared sign-in page (it would name every tenant)
        "idp": idp,
        "advanced": {
            "strict": True,
            "want_assertion_signed": True,
            "reject_idp_initiated_sso": True,
            "allow_single_label_domains": True,
        },
    }


def update_saml(access: Access, data: SamlInput, *, request: HttpRequest | None = None) -> SamlConfig:
    access.require(Operation.MANAGE_ACCOUNT)
    account = access.account
    current = config_of(account)
    data = _clean(data, account, current)
    try:
        xml, url = _metadata(data, current)  # network before the transaction: no lock held while fetching
        idp = parse_metadata(xml) if xml else None
    except ServiceError as exc:
        # a refused IdP (unreachable, private, not SAML) is a security event worth a line in the trail
        with transaction.atomic():
            record(
                account,
                AuditEvent.Activity.SECURITY_CHANGED,
                f"SAML IdP metadata refused: {exc}",
                actor=access.user,
                request=request,
                status=AuditEvent.Status.FAILED,
            )
        raise
    if data.enabled and idp is None:
        raise ServiceError("Give the IdP metadata (a URL or an XML file) to turn SAML on.")
    with transaction.atomic():
        config = SamlConfig.objects.select_for_update().filter(account=account).first()
        before = _describe(config)
        if config is None:
            config = SamlConfig(account=account)
        config.slug = data.slug or config.slug
        config.enabled = data.enabled
        config.metadata_url, config.metadata_xml = url, xml
        config.idp_entity_id = idp["entity_id"] if idp else ""
        config.domains = data.domains
        config.create_members = data.create_members
        config.default_role = data.default_role
        config.default_operations = data.default_operations
        config.updated_at = clock.now()
        config.app = _sync_app(config, idp, account.name)
        config.save()
        after = _describe(config)
        if before != after:
            record(
                account,
                AuditEvent.Activity.SECURITY_CHANGED,
                f"SAML single sign-on changed: {after}",
                actor=access.user,
                request=request,
            )
    return config


def _sync_app(config: SamlConfig, idp: dict[str, Any] | None, name: str) -> SocialApp | None:
    app = config.app
    if not config.enabled or idp is None:
        if app is not None:
            app.delete()
        return None
    if app is None:
        app = SocialApp(provider="saml")
    app.provider_id = f"saml-{config.slug}"
    app.client_id = config.slug
    app.name = name[:40]
    app.settings = _app_settings(idp)
    app.save()
    return app


def _describe(config: SamlConfig | None) -> str:
    if config is None:
        return "off"
    state = "on" if config.enabled else "off"
    create = (
        f"creates members as {config.default_role}" if config.create_members else "does not create members"
    )
    domains = ", ".join(config.domains) or "no domains"
    return f"{state}; IdP {config.idp_entity_id or '(none)'}; slug {config.slug}; {domains}; {create}"


def find_for_sign_in(text: str) -> SamlConfig | None:
    """The enabled SAML config for what a person typed on "Sign in with SSO": their e-mail (their account's,
    else their domain's) or an account's sign-in slug."""
    from django.contrib.auth import get_user_model

    text = (text or "").strip().lower()
    if not text or len(text) > 254:
        return None
    enabled = SamlConfig.objects.filter(enabled=True).select_related("account")
    if "@" in text:
        user = get_user_model().objects.filter(email__iexact=text).first()
        member = getattr(user, "member", None) if user is not None else None
        if member is not None:
            return enabled.filter(account=member.account).first()
        domain = text.rpartition("@")[2]
        return next((c for c in enabled if domain in (c.domains or [])), None)
    return enabled.filter(slug=text).first()


# --- refusals of a sign-in

# python3-saml's reasons, matched by fragment, in words for the person signing in
_REASONS = (
    ("expired", "The sign-in response from your identity provider has expired. Sign in again."),
    ("audience", "The sign-in response was meant for another service (wrong audience)."),
    ("No Signature", "The sign-in response was not signed by your identity provider."),
    ("not signed", "The sign-in response was not signed by your identity provider."),
    ("Signature validation failed", "The sign-in response's signature is not valid."),
    ("signature", "The sign-in response's signature is not valid."),
    ("InResponseTo", "The sign-in response does not answer a sign-in started here."),
    ("destination", "The sign-in response was sent to another address."),
)


def refuse(request: HttpRequest, account: Any, reason: str, detail: str, actor: Any = None) -> None:
    """Audit the refusal (in its own transaction: the sign-in is not happening) and answer 403 with it."""
    with transaction.atomic():
        event = record(
            account,
            AuditEvent.Activity.SIGN_IN,
            f"SAML Sign In (Failed) {from_where(request)}: {detail}"[:2000],
            actor=actor,
            request=request,
            status=AuditEvent.Status.FAILED,
        )
        if actor is None:
            event.performed_by = "SAML"
            event.save(update_fields=["performed_by"])
    page = get_template("security/sso_error.html").render({"reason": reason}, request)
    raise ImmediateHttpResponse(HttpResponse(page, status=403))


def explain(text: str) -> str:
    for fragment, message in _REASONS:
        if fragment.lower() in text.lower():
            return message
    return "Your identity provider's sign-in response was refused."


def refuse_replay(request: HttpRequest, slug: str) -> HttpResponse | None:
    """allauth raises PermissionDenied when a response answers no sign-in of this browser (a replayed or
    stolen response, or one whose request expired): the same plain refusal and audit row as the others."""
    config = config_for_slug(slug)
    if config is None:
        return None
    try:
        refuse(
            request,
            config.account,
            explain("InResponseTo"),
            "InResponseTo: no matching sign-in request (replayed or unsolicited)",
        )
    except ImmediateHttpResponse as exc:
        return exc.response  # type: ignore[no-any-return]
    return None
