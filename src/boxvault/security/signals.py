"""Audit rows for events that happen inside django.contrib.auth, allauth and axes, not in our services."""

from __future__ import annotations

from typing import Any

from allauth.account import signals as account_signals
from allauth.mfa import signals as mfa_signals
from axes.signals import user_locked_out
from django.contrib.auth import get_user_model
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.db import transaction
from django.db.models.signals import post_delete
from django.dispatch import receiver
from django.http import HttpRequest

from boxvault.core import clock
from boxvault.security.models import AuditEvent, PasswordState, SamlConfig
from boxvault.security.services import from_where, record

Activity = AuditEvent.Activity


def _account_of(user: Any) -> Any:
    member = getattr(user, "member", None) if user is not None else None
    return member.account if member is not None else None


def _user_by_email(email: str | None) -> Any:
    if not email:
        return None
    return (
        get_user_model().objects.filter(email__iexact=email.strip()).select_related("member__account").first()
    )


@receiver(user_logged_in)
def on_login(sender: Any, request: HttpRequest | None, user: Any, **kwargs: Any) -> None:
    with transaction.atomic():
        record(
            _account_of(user),
            Activity.SIGN_IN,
            f"Native Sign In (OK) {from_where(request)}",
            actor=user,
            request=request,
        )


@receiver(user_logged_out)
def on_logout(sender: Any, request: HttpRequest | None, user: Any, **kwargs: Any) -> None:
    if user is None:  # the session had expired already
        return
    with transaction.atomic():
        record(
            _account_of(user),
            Activity.SIGN_OUT,
            f"Sign Out {from_where(request)}",
            actor=user,
            request=request,
        )


@receiver(user_login_failed)
def on_login_failed(
    sender: Any, credentials: dict[str, Any], request: HttpRequest | None = None, **kwargs: Any
) -> None:
    email = credentials.get("email") or credentials.get("username")
    user = _user_by_email(email)
    with transaction.atomic():
        event = record(
            _account_of(user),
            Activity.SIGN_IN,
            f"Native Sign In (Failed) {from_where(request)}",
            actor=user,
            request=request,
            status=AuditEvent.Status.FAILED,
        )
        if user is None:
            event.performed_by = (email or "")[:254]
            event.save(update_fields=["performed_by"])


@receiver(user_locked_out)
def on_locked_out(sender: Any, request: HttpRequest, username: str | None = None, **kwargs: Any) -> None:
    user = _user_by_email(username)
    with transaction.atomic():
        record(
            _account_of(user),
            Activity.LOCKED_OUT,
            f"Sign-in locked after repeated failures {from_where(request)}",
            actor=user,
            request=request,
            status=AuditEvent.Status.FAILED,
        )


def _password_chosen(user: Any) -> None:
    # the clock password expiry measures from (an unchanged password is as old as the user)
    PasswordState.objects.update_or_create(user=user, defaults={"changed_at": clock.now()})


@receiver(account_signals.password_changed)
def on_password_changed(sender: Any, request: HttpRequest, user: Any, **kwargs: Any) -> None:
    _password_chosen(user)
    record(
        _account_of(user),
        Activity.PASSWORD_CHANGED,
        f"Password changed {from_where(request)}",
        actor=user,
        request=request,
    )


@receiver(account_signals.password_set)
def on_password_set(sender: Any, request: HttpRequest, user: Any, **kwargs: Any) -> None:
    _password_chosen(user)
    record(
        _account_of(user),
        Activity.PASSWORD_CHANGED,
        f"Password set {from_where(request)}",
        actor=user,
        request=request,
    )


@receiver(account_signals.password_reset)
def on_password_reset(sender: Any, request: HttpRequest, user: Any, **kwargs: Any) -> None:
    _password_chosen(user)
    record(
        _account_of(user),
        Activity.PASSWORD_RESET,
        f"Password reset by e-mail link {from_where(request)}",
        actor=user,
        request=request,
    )


@receiver(mfa_signals.authenticator_added)
def on_mfa_added(sender: Any, request: HttpRequest, user: Any, authenticator: Any, **kwargs: Any) -> None:
    record(
        _account_of(user),
        Activity.MFA_CHANGED,
        f"Added {authenticator.get_type_display()} {from_where(request)}",
        actor=user,
        request=request,
    )


@receiver(mfa_signals.authenticator_removed)
def on_mfa_removed(sender: Any, request: HttpRequest, user: Any, authenticator: Any, **kwargs: Any) -> None:
    record(
        _account_of(user),
        Activity.MFA_CHANGED,
        f"Removed {authenticator.get_type_display()} {from_where(request)}",
        actor=user,
        request=request,
    )


@receiver(account_signals.password_reset)
def clear_lock_out_on_reset(sender: Any, request: HttpRequest, user: Any, **kwargs: Any) -> None:
    # Whoever followed the e-mailed reset link proved they own the address: the lock-out that guarded the
    # old password has done its job (the sign-in page even points locked-out users to a reset). axes keys
    # failures on the lower-cased address (accounts.adapter.axes_username).
    from axes.utils import reset

    reset(username=str(user.email or "").strip().lower())


@receiver(post_delete, sender=SamlConfig)
def on_saml_config_deleted(sender: Any, instance: SamlConfig, **kwargs: Any) -> None:
    # the allauth app lives outside the account's rows: it must not outlive the account (purge) and keep
    # answering sign-ins for its slug
    if instance.app_id is not None:
        from allauth.socialaccount.models import SocialApp

        SocialApp.objects.filter(pk=instance.app_id).delete()
