from __future__ import annotations

from typing import Any

from rest_framework import serializers

from boxvault.backups.models import Task, TaskUser
from boxvault.backups.services import ACTIONS


class TaskSerializer(serializers.ModelSerializer[Task]):
    users_total = serializers.IntegerField(read_only=True, default=0)
    users_active = serializers.IntegerField(read_only=True, default=0)
    last_backup_at = serializers.DateTimeField(read_only=True, default=None, allow_null=True)
    storage_used = serializers.IntegerField(read_only=True, default=0, allow_null=True)
    location_label = serializers.SerializerMethodField()

    class Meta:
        model = Task
        fields = [
            "id",
            "uuid",
            "name",
            "service",
            "kind",
            "status",
            "status_detail",
            "connected_as",
            "enterprise_id",
            "api_url",
            "location",
            "location_label",
            "repository",
            "frequency",
            "hour_utc",
            "index_for_search",
            "auto_activate",
            "archived_retention_days",
            "full_walk_days",
            "capture_versions",
            "recreate_metadata_templates",
            "retention",
            "retention_value",
            "created_at",
            "deletion_due_at",
            "users_total",
            "users_active",
            "last_backup_at",
            "storage_used",
        ]
        read_only_fields = fields

    def get_location_label(self, task: Task) -> str:
        from django.conf import settings

        location = settings.BOXVAULT_LOCATIONS.get(task.location)
        return location["label"] if location else task.location


class TaskSettingsSerializer(serializers.Serializer[Any]):
    name = serializers.CharField(max_length=120, required=False)
    frequency = serializers.ChoiceField(choices=Task.Frequency.choices, required=False)
    hour_utc = serializers.IntegerField(min_value=0, max_value=23, required=False)
    index_for_search = serializers.BooleanField(required=False)
    auto_activate = serializers.BooleanField(required=False)
    archived_retention_days = serializers.IntegerField(min_value=1, max_value=3650, required=False)
    full_walk_days = serializers.IntegerField(
        min_value=1,
        max_value=90,
        required=False,
        help_text="List every user's Box in full at least every this many days (and compare).",
    )
    capture_versions = serializers.BooleanField(
        required=False, help_text="Also back up Box's previous versions of each file (more storage)."
    )
    recreate_metadata_templates = serializers.BooleanField(
        required=False,
        help_text="A restore may create a deleted enterprise metadata template again from the task's copy.",
    )


class ConnectionSerializer(serializers.Serializer[Any]):
    kind = serializers.ChoiceField(choices=["ccg"], help_text="OAuth tasks are connected in the browser.")
    client_id = serializers.CharField(max_length=200)
    client_secret = serializers.CharField(max_length=200, write_only=True)
    enterprise_id = serializers.CharField(max_length=64)
    api_url = serializers.CharField(max_length=300, required=False, allow_blank=True, default="")


class NewTaskSerializer(serializers.Serializer[Any]):
    name = serializers.CharField(max_length=120)
    connection = ConnectionSerializer()


class TaskUserSerializer(serializers.ModelSerializer[TaskUser]):
    status_label = serializers.CharField(source="get_status_display", read_only=True)

    class Meta:
        model = TaskUser
        fields = [
            "box_user_id",
            "login",
            "name",
            "status",
            "status_label",
            "box_status",
            "first_backup_at",
            "last_backup_at",
            "last_result",
            "size",
            "items",
            "next_run_at",
        ]
        read_only_fields = fields


class UserActionSerializer(serializers.Serializer[Any]):
    action = serializers.ChoiceField(choices=list(ACTIONS))
    box_user_ids = serializers.ListField(
        child=serializers.CharField(max_length=64), min_length=1, max_length=1000
    )


class RetentionSerializer(serializers.Serializer[Any]):
    retention = serializers.ChoiceField(choices=Task.Retention.choices)
    value = serializers.IntegerField(min_value=0, max_value=1000, default=0)
