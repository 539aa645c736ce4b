"""REST endpoints for jobs: list, detail (with log) and cancel. Routed from its api_urls.py."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.http import StreamingHttpResponse
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.settings import api_settings

from boxvault.core.api import AccountScopedMixin
from boxvault.core.operations import Operation
from boxvault.core.renderers import CSVRenderer
from boxvault.jobs import services
from boxvault.jobs.export import csv_lines
from boxvault.jobs.filters import JobFilter
from boxvault.jobs.models import Job, JobLogLine
from boxvault.jobs.queries import job_for, visible_jobs

LOG_LIMIT = 1000

_FIELDS = [
    "id",
    "kind",
    "status",
    "initiator",
    "service",
    "task",
    "task_name",
    "box_user_id",
    "box_user_login",
    "destination",
    "created_at",
    "started_at",
    "finished_at",
    "items_done",
    "items_total",
    "items_failed",
    "bytes_done",
    "bytes_total",
    "progress",
    "message",
    "cancel_requested",
    "attempts",
    "result",
]


class JobSerializer(serializers.ModelSerializer[Job]):
    initiator = serializers.CharField(source="initiator_label", read_only=True)
    task = serializers.IntegerField(source="task_id", read_only=True, allow_null=True)
    progress = serializers.IntegerField(
        source="percent",
        read_only=True,
        allow_null=True,
        help_text="percent done (by bytes when known, else items)",
    )

    class Meta:
        model = Job
        fields = _FIELDS
        read_only_fields = _FIELDS


class JobLogLineSerializer(serializers.ModelSerializer[JobLogLine]):
    class Meta:
        model = JobLogLine
        fields = ["created_at", "level", "message"]


class JobDetailSerializer(JobSerializer):
    log = serializers.SerializerMethodField()

    class Meta(JobSerializer.Meta):
        fields = [*_FIELDS, "log"]
        read_only_fields = fields

    def get_log(self, job: Job) -> list[dict[str, Any]]:
        lines = job.log.order_by("-id")[:LOG_LIMIT]
        return list(reversed(JobLogLineSerializer(lines, many=True).data))


class JobViewSet(
    AccountScopedMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet[Job]
):
    """Jobs of the account, newest first. The detail carries the last 1000 log lines."""

    queryset = Job.objects.none()
    filterset_class = JobFilter
    operations = {"GET": Operation.VIEW_TASKS, "POST": Operation.CANCEL_TASKS}
    renderer_classes = [*api_settings.DEFAULT_RENDERER_CLASSES, CSVRenderer]

    def get_serializer_class(self) -> type[serializers.BaseSerializer[Job]]:
        return JobDetailSerializer if self.action == "retrieve" else JobSerializer

    def get_queryset(self) -> QuerySet[Job]:
        if getattr(self, "swagger_fake_view", False):
            return Job.objects.none()
        return visible_jobs(self.access)

    def get_object(self) -> Job:
        return job_for(self.access, self.kwargs["pk"])

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Any:
        if request.accepted_renderer.format == "csv":
            rows = self.filter_queryset(self.get_queryset()).iterator()
            response = StreamingHttpResponse(csv_lines(rows), content_type="text/csv")
            response["Content-Disposition"] = 'attachment; filename="jobs.csv"'
            return response
        return super().list(request, *args, **kwargs)

    @extend_schema(request=None, responses=JobSerializer)
    @action(detail=True, methods=["post"])
    def cancel(self, request: Request, pk: str) -> Response:
        job = services.cancel(self.access, self.get_object(), request=request._request)
        return Response(JobSerializer(job).data)
