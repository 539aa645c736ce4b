"""Forms of Settings > Security and the change-password form allauth uses (ACCOUNT_FORMS)."""

from __future__ import annotations

from typing import Any

from allauth.account.forms import ChangePasswordForm as AllauthChangePasswordForm
from django import forms

from boxvault.core.operations import GRANTABLE, LABELS
from boxvault.security.policy import MAX_PASSWORD_DAYS


class ChangePasswordForm(AllauthChangePasswordForm):  # type: ignore[misc]
    """allauth's form, refusing the current password as the new one (an expired password must change)."""

    def clean_password1(self) -> Any:
        new = self.cleaned_data.get("password1")
        if new and self.user is not None and self.user.check_password(new):
            raise forms.ValidationError("The new password must differ from the current one.")
        return new


class PolicyForm(forms.Form):
    enforce_2fa = forms.BooleanField(label="Enforce two-factor authentication", required=False)
    password_max_age_days = forms.IntegerField(
        label="Password expiration (days)",
        required=False,
        min_value=1,
        max_value=MAX_PASSWORD_DAYS,
        help_text="Members are asked for a new password at sign-in once theirs is older. Empty: never.",
    )


class IpRuleForm(forms.Form):
    description = forms.CharField(max_length=200, required=False)
    addresses = forms.CharField(
        label="Trusted IP addresses",
        max_length=5000,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Single addresses, comma-separated lists, from–to ranges (192.0.2.1-192.0.2.9) or "
        "networks (192.0.2.0/24, 2001:db8::/32); IPv4 or IPv6.",
    )


class SamlForm(forms.Form):
    enabled = forms.BooleanField(label="Activate SAML single sign-on", required=False)
    metadata_url = forms.URLField(
        label="IdP metadata URL", required=False, max_length=500, assume_scheme="https"
    )
    metadata_file = forms.FileField(label="…or upload the IdP metadata XML", required=False)
    slug = forms.SlugField(
        label="Sign-in name",
        required=False,
        max_length=63,
        help_text="What members type on “Sign in with SSO” (or their e-mail); part of the SP URLs.",
    )
    domains = forms.CharField(
        label="E-mail domains", required=False, max_length=2000, help_text="Comma-separated, e.g. example.com"
    )
    create_members = forms.BooleanField(label="Create members on first SSO sign-in", required=False)
    default_role = forms.ChoiceField(
        label="Role of members created on first sign-in",
        choices=[("custom", "Custom"), ("admin", "Administrator")],
        initial="custom",
    )
    default_operations = forms.MultipleChoiceField(
        label="Operations of members created on first sign-in",
        choices=[(str(op), LABELS[op]) for op in GRANTABLE],
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
