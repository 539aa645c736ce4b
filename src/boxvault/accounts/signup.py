"""allauth's sign-up form, saved in one transaction.

allauth saves the user row, then calls our `SignupExtraForm.signup` to create the account: should that fail,
the user row must not stay behind alone (the address would be "already registered" and, once verified, belong
to no account). Kept apart from forms.py because allauth's forms module imports ACCOUNT_SIGNUP_FORM_CLASS.
"""

from __future__ import annotations

from typing import Any

from allauth.account.forms import SignupForm
from django.db import transaction
from django.http import HttpRequest


class AtomicSignupForm(SignupForm):  # type: ignore[misc]
    def save(self, request: HttpRequest) -> Any:
        with transaction.atomic():
            return super().save(request)
