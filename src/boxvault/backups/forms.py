from __future__ import annotations

from typing import Any, ClassVar

from django import forms

from boxvault.backups.models import Task


class NewTaskForm(forms.Form):
    service = forms.ChoiceField(choices=[("box", "Box")], initial="box")
    name = forms.CharField(label="Backup name", max_length=120)


class TaskSettingsForm(forms.ModelForm):  # type: ignore[type-arg]
    class Meta:
        model = Task
        fields: ClassVar[list[str]] = [
            "name",
            "index_for_search",
            "auto_activate",
            "archived_retention_days",
            "full_walk_days",
            "capture_versions",
            "recreate_metadata_templates",
            "frequency",
            "hour_utc",
        ]
        labels: ClassVar[dict[str, str]] = {
            "index_for_search": "Index all data for Search",
            "auto_activate": "Automatically activate new users",
            "archived_retention_days": "Retain auto-archived backups for (days)",
            "full_walk_days": "Full walk of every user's Box every (days)",
            "capture_versions": "Also back up Box's previous versions of each file",
            "recreate_metadata_templates": (
                "When a restore needs an enterprise metadata template deleted in Box, create it again"
            ),
            "frequency": "Backup frequency",
            "hour_utc": "Backup hour (UTC)",
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["hour_utc"] = forms.TypedChoiceField(
            label="Backup hour (UTC)", coerce=int, choices=[(h, f"{h:02d}:00") for h in range(24)]
        )
        # A new field, not min_value set on the model's: only the constructor adds the validators and the
        # browser's min/max (0 passed both; a huge value got the database's "<= 9223372036854775807").
        self.fields["archived_retention_days"] = forms.IntegerField(
            label="Retain auto-archived backups for (days)", min_value=1, max_value=3650
        )
        self.fields["full_walk_days"] = forms.IntegerField(
            label="Full walk of every user's Box every (days)",
            min_value=1,
            max_value=90,
            required=False,  # a form posted without it (older pages, scripts) keeps the task's value
            help_text="Incremental runs follow Box's events; a full walk lists everything and proves them.",
        )

    def clean_full_walk_days(self) -> int:
        value = self.cleaned_data.get("full_walk_days")
        return int(value) if value is not None else int(self.instance.full_walk_days)
