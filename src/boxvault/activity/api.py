"""`/api/v1/activity/`: system activity as JSON or (`?format=csv`) CSV. Routed from its api_urls.py."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.http import StreamingHttpResponse
from rest_framework import generics, serializers
from rest_framework.request import Request
from rest_framework.settings import api_settings

from boxvault.activity.export import csv_lines
from boxvault.activity.filters import ActivityFilter
from boxvault.activity.models import ActivityEvent
from boxvault.core.api import AccountScopedMixin
from boxvault.core.operations import Operation
from boxvault.core.renderers import CSVRenderer


class ActivityEventSerializer(serializers.ModelSerializer[ActivityEvent]):
    task = serializers.IntegerField(source="task_id", read_only=True, allow_null=True)
    job = serializers.IntegerField(source="job_id", read_only=True, allow_null=True)

    class Meta:
        model = ActivityEvent
        fields = [
            "id",
            "created_at",
            "activity",
            "service",
            "sub_service",
            "status",
            "task",
            "task_name",
            "item",
            "execution_seconds",
            "size_bytes",
            "stored_bytes",
            "items_count",
            "summary",
            "performed_by",
            "job",
        ]


class ActivityListView(AccountScopedMixin, generics.ListAPIView[ActivityEvent]):
    """System activity, newest first. `?format=csv` returns every matching row as CSV."""

    serializer_class = ActivityEventSerializer
    queryset = ActivityEvent.objects.none()
    filterset_class = ActivityFilter
    operations = {"*": Operation.VIEW_ACTIVITY}
    renderer_classes = [*api_settings.DEFAULT_RENDERER_CLASSES, CSVRenderer]

    def get_queryset(self) -> QuerySet[ActivityEvent]:
        return self.scoped(ActivityEvent.objects.all())

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Any:
        if request.accepted_renderer.format == "csv":
            rows = self.filter_queryset(self.get_queryset()).iterator()
            response = StreamingHttpResponse(csv_lines(rows), content_type="text/csv")
            response["Content-Disposition"] = 'attachment; filename="system-activity.csv"'
            return response
        return super().list(request, *args, **kwargs)
