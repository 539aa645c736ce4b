"""The one parser of a restore request and of an export request: the API and the confirmation page both build
their input into these, so both accept and refuse exactly the same things with the same words. What needs the
snapshot itself (paths that exist, a destination user of the task) is checked by the services."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from boxvault.box.restore import Mode

MAX_PATHS = 1000
EXPORT_KINDS = ("zip", "s3", "azure", "gcs")


class StrictCharField(serializers.CharField):
    """A string, and only a string (DRF's CharField turns 1 into "1": a path list of numbers is a mistake)."""

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            raise serializers.ValidationError("must be text")
        return str(super().to_internal_value(data))


class Destination(serializers.Serializer[Any]):
    box_user_id = StrictCharField(required=False, allow_blank=True, default="")
    folder_id = StrictCharField(required=False, allow_blank=True, default="0")

    def validate_folder_id(self, value: str) -> str:
        value = value.strip() or "0"
        if not value.isdigit():
            raise serializers.ValidationError("must be a Box folder id (0 = All Files)")
        return value


class _Selection(serializers.Serializer[Any]):
    snapshot = StrictCharField(help_text="<task id>:<snapshot id>")
    paths = serializers.ListField(
        child=StrictCharField(),
        required=False,
        default=list,
        max_length=MAX_PATHS,
        error_messages={"max_length": f"at most {MAX_PATHS} paths at once; select their folder instead"},
        help_text="paths inside the snapshot (empty: all of it)",
    )


class RestoreRequest(_Selection):
    mode = serializers.ChoiceField(
        [m.value for m in Mode],
        error_messages={"invalid_choice": "mode must be non_destructive, replace or bypass"},
    )
    destination = Destination(required=False, help_text="{box_user_id, folder_id}; default: the source user")
    collaborations = serializers.BooleanField(required=False, default=False)
    comments = serializers.BooleanField(
        required=False,
        default=False,
        help_text="post the files' comments again (by their authors if they can)",
    )
    shared_links = serializers.BooleanField(
        required=False, default=False, help_text="re-create the items' shared links (new URLs, same access)"
    )
    metadata = serializers.BooleanField(required=False, default=False)


class VersionRestoreRequest(serializers.Serializer[Any]):
    """One stored previous version of one file back into the file owner's Box."""

    snapshot = StrictCharField(help_text="<task id>:<snapshot id>")
    path = StrictCharField(help_text="the file's path inside the snapshot")
    version_id = StrictCharField(max_length=64, help_text="the Box file version id (from .../versions/)")
    restore_as = serializers.ChoiceField(
        ["current", "copy"],
        default="current",
        error_messages={"invalid_choice": "as must be current or copy"},
        help_text="current: the file's current version again in Box; copy: a new file beside it",
    )

    def to_internal_value(self, data: Any) -> Any:
        # "as" is the request's word for it (a Python keyword, so not a field name here)
        if isinstance(data, dict) and "as" in data:
            data = {**{k: v for k, v in data.items() if k != "as"}, "restore_as": data["as"]}
        return super().to_internal_value(data)


class ExportRequest(_Selection):
    target = serializers.DictField(help_text="{kind: zip|s3|azure|gcs, ...credentials}")

    def validate_target(self, value: dict[str, Any]) -> dict[str, Any]:
        if value.get("kind") not in EXPORT_KINDS:
            raise serializers.ValidationError("target.kind must be zip, s3, azure or gcs")
        return value


def first_error(errors: Any) -> str:
    """One sentence for a person: the first field's first message, named by its field."""
    if isinstance(errors, list):
        return first_error(errors[0]) if errors else "invalid request"
    if isinstance(errors, dict):
        if "non_field_errors" in errors:
            return first_error(errors["non_field_errors"])
        field, inner = next(iter(errors.items()))
        message = first_error(inner)
        return (
            message
            if message.startswith(("mode must", "target.kind", "at most", "as must"))
            else f"{field}: {message}"
        )
    return str(errors)


def parse(serializer_class: type[serializers.Serializer[Any]], data: Any) -> dict[str, Any]:
    """Validated data, or ValueError with `first_error`'s sentence."""
    if not isinstance(data, dict):
        raise ValueError("send a JSON object")
    serializer = serializer_class(data=data)
    if not serializer.is_valid():
        raise ValueError(first_error(serializer.errors))
    return dict(serializer.validated_data)


class ErasureRequest(serializers.Serializer[Any]):
    """`POST /api/v1/erasures/` (the erasure page builds the same): the checks against the repository are
    the service's (recovery/erasure.py)."""

    task = serializers.IntegerField(help_text="the backup task's id")
    box_user_id = StrictCharField(help_text="the Box user whose backups hold the items")
    paths = serializers.ListField(
        child=StrictCharField(),
        allow_empty=False,
        min_length=1,  # documented as minItems: the schema says what the server checks
        max_length=MAX_PATHS,
        error_messages={
            "empty": "give at least one path to erase",
            "min_length": "give at least one path to erase",
            "max_length": f"at most {MAX_PATHS} paths at once; select their folder instead",
        },
        help_text='paths as the snapshot tree names them ("/<login>/A/b.txt"); "/<login>" = the whole user',
    )
    reason = StrictCharField(max_length=2000, help_text="why (kept in the receipt)")
    snapshot = StrictCharField(
        required=False, allow_blank=True, default="", help_text="optional: the paths must be in this snapshot"
    )
