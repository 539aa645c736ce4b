"""Invitation links reuse allauth's password-reset-from-key page: an invited user chooses a password."""

from __future__ import annotations

from typing import Any

from allauth.account.forms import default_token_generator
from allauth.account.utils import user_pk_to_url_str
from django.conf import settings
from django.http import HttpRequest
from django.urls import reverse


def invitation_link(user: Any, request: HttpRequest | None) -> str:
    path = reverse(
        "account_reset_password_from_key",
        kwargs={"uidb36": user_pk_to_url_str(user), "key": default_token_generator.make_token(user)},
    )
    if request is not None:
        return request.build_absolute_uri(path)
    return settings.BOXVAULT_BASE_URL.rstrip("/") + path
