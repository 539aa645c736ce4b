"""Single sign-on through allauth's social accounts, kept inside tenants.

A SAML sign-in arrives for the account whose IdP sent it (the app's slug names it). It signs in the member of
THAT account with the asserted e-mail, creates one only when the account asked for that, and is refused (with
an audit row) for an e-mail of another account or of nobody. Every refusal of the IdP's response (expired,
unsigned, wrong audience, replayed) gets a plain message and an audit row too.
"""

from __future__ import annotations

from typing import Any

from allauth.socialaccount.adapter import DefaultSocialAccountAdapter
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import HttpRequest

from boxvault.accounts import services
from boxvault.accounts.models import User
from boxvault.security.models import AuditEvent
from boxvault.security.saml import config_for_slug, explain, refuse
from boxvault.security.services import from_where, record


def _saml_config(provider: Any) -> Any:
    app = getattr(provider, "app", None)
    if provider is None or getattr(provider, "id", "") != "saml" or app is None:
        return None
    return config_for_slug(app.client_id)


class SocialAccountAdapter(DefaultSocialAccountAdapter):  # type: ignore[misc]
    def is_open_for_signup(self, request: HttpRequest, sociallogin: Any) -> bool:
        # SAML members are created by pre_social_login (per account, if allowed), never by allauth's sign-up;
        # Google/Microsoft/OIDC sign up like anyone (the form creates a new account), when sign-up is open.
        if sociallogin.account.provider.startswith("saml"):
            return False
        return bool(super().is_open_for_signup(request, sociallogin))

    def pre_social_login(self, request: HttpRequest, sociallogin: Any) -> None:
        provider = sociallogin.account.get_provider(request)
        config = _saml_config(provider)
        if config is None:
            if getattr(provider, "id", "") == "saml":  # an app no account owns any more: never sign in
                raise PermissionDenied("single sign-on is not set up")
            self._link_by_verified_email(request, sociallogin)
            return
        account = config.account
        if not config.enabled:
            refuse(request, account, "Single sign-on is turned off for this account.", "SAML is off")
        if sociallogin.is_existing:
            member = getattr(sociallogin.user, "member", None)
            if member is None or member.account_id != account.pk:
                refuse(request, account, "This sign-in does not belong to this account.", "linked elsewhere")
            self._audit_ok(request, account, sociallogin.user)
            return
        email = (sociallogin.user.email or "").strip().lower()
        if not email:
            refuse(request, account, "Your identity provider did not send an e-mail address.", "no e-mail")
        user = User.objects.filter(email__iexact=email).select_related("member").first()
        if user is not None:
            member = getattr(user, "member", None)
            if member is None or member.account_id != account.pk:
                # the e-mail is someone else's: never sign them in, nor say whose
                refuse(
                    request,
                    account,
                    "This e-mail address does not belong to a member of this account.",
                    f"{email} is not a member of this account",
                )
        elif config.create_members:
            member = services.add_sso_member(
                account,
                email=email,
                first_name=sociallogin.user.first_name or "",
                last_name=sociallogin.user.last_name or "",
                role=config.default_role,
                operations=config.default_operations,
                request=request,
            )
            user = member.user
        else:
            refuse(
                request,
                account,
                "There is no member with this e-mail address in this account; "
                "ask an administrator to add you.",
                f"no member {email}",
            )
        sociallogin.connect(request, user)
        self._audit_ok(request, account, user)

    def _link_by_verified_email(self, request: HttpRequest, sociallogin: Any) -> None:
        """Google/Microsoft/OIDC: sign in the user whose address the provider vouches for, when both have
        it verified (a provider that does not verify addresses, like Microsoft's, never links by e-mail: the
        member links it from Settings > Security > Linked sign-ins while signed in)."""
        if sociallogin.is_existing:
            return
        from allauth.account.models import EmailAddress

        for address in sociallogin.email_addresses:
            if not address.verified:
                continue
            ours = EmailAddress.objects.filter(email__iexact=address.email, verified=True).first()
            if ours is not None:
                sociallogin.connect(request, ours.user)
                return

    def _audit_ok(self, request: HttpRequest, account: Any, user: Any) -> None:
        with transaction.atomic():
            record(
                account,
                AuditEvent.Activity.SIGN_IN,
                f"SAML Sign In (OK) {from_where(request)}",
                actor=user,
                request=request,
            )

    def on_authentication_error(
        self,
        request: HttpRequest,
        provider: Any,
        error: Any = None,
        exception: Any = None,
        extra_context: Any = None,
    ) -> None:
        config = _saml_config(provider)
        if config is None:
            return
        text = str((extra_context or {}).get("saml_last_error_reason") or exception or error or "")
        if isinstance(exception, PermissionDenied) or not text:
            text = "InResponseTo: no matching sign-in request (replayed or unsolicited)"
        refuse(request, config.account, explain(text), text[:500])
