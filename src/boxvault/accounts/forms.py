from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.http import HttpRequest

from boxvault.accounts.models import Member
from boxvault.core.operations import GRANTABLE, LABELS, SERVICES


def _location_choices() -> list[tuple[str, str]]:
    return [(key, value["label"]) for key, value in settings.BOXVAULT_LOCATIONS.items()]


ACCOUNT_NAME_MAX = 120  # Account.name's max_length


class SignupExtraForm(forms.Form):
    """Fields allauth's sign-up form gains; `signup` runs once allauth has saved the user."""

    first_name = forms.CharField(max_length=150, label="First name")
    last_name = forms.CharField(max_length=150, label="Last name")
    location = forms.ChoiceField(label="Data-center location", choices=_location_choices)

    def clean(self) -> dict[str, Any]:
        # The account's name is derived from both names: check it here, before allauth saves any user row,
        # so a refusal never strands the address (a 500 after the user was saved did).
        data = super().clean() or {}
        name = f"{data.get('first_name', '')} {data.get('last_name', '')}".strip()
        if len(name) > ACCOUNT_NAME_MAX:
            self.add_error(
                "last_name",
                f"First and last name together must be at most {ACCOUNT_NAME_MAX - 1} characters "
                f"(the account's name is made of them); you can rename the account later.",
            )
        return data

    def signup(self, request: HttpRequest, user: Any) -> None:
        from boxvault.accounts.services import create_account

        name = f"{self.cleaned_data['first_name']} {self.cleaned_data['last_name']}".strip()
        create_account(user=user, name=name, location=self.cleaned_data["location"], request=request)


class AccountSettingsForm(forms.Form):
    name = forms.CharField(max_length=120, label="Account name")
    email = forms.EmailField(max_length=254, label="Account e-mail")


class RemovalForm(forms.Form):
    approve = forms.BooleanField(
        label="I approve the removal of my data",
        required=True,
        error_messages={"required": "Tick the box to approve the removal of your data."},
    )


class MemberForm(forms.Form):
    first_name = forms.CharField(max_length=150, required=False)
    last_name = forms.CharField(max_length=150, required=False)
    role = forms.ChoiceField(
        choices=Member.Role.choices, initial=Member.Role.CUSTOM, widget=forms.RadioSelect
    )
    operations = forms.MultipleChoiceField(
        choices=[(str(op), LABELS[op]) for op in GRANTABLE],
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    services = forms.MultipleChoiceField(
        choices=list(SERVICES.items()), required=False, widget=forms.CheckboxSelectMultiple
    )


class NewMemberForm(MemberForm):
    email = forms.EmailField(max_length=254, label="E-mail")
    password1 = forms.CharField(
        label="Password",
        required=False,
        strip=False,
        max_length=128,
        widget=forms.PasswordInput(render_value=False),
        help_text="Leave empty to send an invitation e-mail instead.",
    )
    password2 = forms.CharField(
        label="Password (again)",
        required=False,
        strip=False,
        max_length=128,
        widget=forms.PasswordInput(render_value=False),
    )

    field_order = [
        "email",
        "first_name",
        "last_name",
        "password1",
        "password2",
        "role",
        "operations",
        "services",
    ]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("password1", "") != data.get("password2", ""):
            self.add_error("password2", "The two passwords do not match.")
        return data
