from __future__ import annotations

from django import forms

from boxvault.notifications.models import TYPES, NotificationSettings


class SettingsForm(forms.ModelForm):  # type: ignore[type-arg]
    class Meta:
        model = NotificationSettings
        fields = [
            "report_format",
            "delivery",
            "frequency",
            "hour_utc",
            "failures_only",
            "smart_min_files",
            "smart_min_share",
            "smart_factor",
        ]
        labels = {
            "report_format": "Report format",
            "delivery": "Report delivery",
            "frequency": "Frequency",
            "hour_utc": "Send at (hour, UTC)",
            "failures_only": "Send only when a backup failed",
            "smart_min_files": "Smart alerts: at least this many files changed",
            "smart_min_share": "Smart alerts: share of a user's files (0-1)",
            "smart_factor": "Smart alerts: times the user's usual share",
        }


class RecipientForm(forms.Form):
    # Not an EmailField: the service validates, so page, API and CLI give the same message.
    email = forms.CharField(label="E-mail", max_length=254)
    display_name = forms.CharField(label="Display name", max_length=120, required=False)
    types = forms.MultipleChoiceField(
        label="Notifications",
        choices=list(TYPES.items()),
        widget=forms.CheckboxSelectMultiple,
        required=False,
    )
