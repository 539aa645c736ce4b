"""`/api/v1/tasks/...` (DESIGN.md "REST API v1"): the same services and checks as the pages."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from boxvault.accounts.access import get_for
from boxvault.backups import queries, services
from boxvault.backups import serializers as s
from boxvault.backups.models import Task, TaskUser
from boxvault.core.api import AccountScopedMixin
from boxvault.core.operations import Operation


class TaskViewSet(
    AccountScopedMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet[Task]
):
    serializer_class = s.TaskSerializer
    queryset = Task.objects.none()
    # Per action the services check the finer operation (activate, modify, delete, pause, execute).
    operations = {"*": Operation.VIEW_TASKS}

    def get_queryset(self) -> QuerySet[Task]:
        search = str(self.request.query_params.get("search", ""))[:200] if hasattr(self, "request") else ""
        return queries.tasks_with_figures(self.scoped(Task.objects.all()), search).order_by("name", "id")

    def get_object(self) -> Task:
        return get_for(self.access, queries.tasks_with_figures(Task.objects.all()), pk=self.kwargs["pk"])

    @extend_schema(request=s.NewTaskSerializer, responses=s.TaskSerializer)
    def create(self, request: Request) -> Response:
        incoming = s.NewTaskSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        conn = incoming.validated_data["connection"]
        task = services.create_ccg_task(
            self.access,
            name=incoming.validated_data["name"],
            client_id=conn["client_id"],
            client_secret=conn["client_secret"],
            enterprise_id=conn["enterprise_id"],
            api_url=conn.get("api_url", ""),
        )
        task = queries.tasks_with_figures(Task.objects.filter(pk=task.pk)).get()
        return Response(s.TaskSerializer(task).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=s.TaskSettingsSerializer, responses=s.TaskSerializer)
    def partial_update(self, request: Request, pk: str) -> Response:
        task = self.get_object()
        incoming = s.TaskSettingsSerializer(data=request.data, partial=True)
        incoming.is_valid(raise_exception=True)
        services.update_settings(self.access, task, **incoming.validated_data)
        return Response(s.TaskSerializer(self.get_object()).data)

    def destroy(self, request: Request, pk: str) -> Response:
        task = services.request_deletion(self.access, self.get_object())
        return Response(
            {"detail": "The task and its backups will be deleted.", "deletion_due_at": task.deletion_due_at},
            status=status.HTTP_202_ACCEPTED,
        )

    @extend_schema(responses=s.TaskUserSerializer(many=True))
    @action(detail=True, methods=["get"], url_path="users")
    def users(self, request: Request, pk: str) -> Response:
        task = self.get_object()
        rows = queries.task_users(
            task,
            status=str(request.query_params.get("status", ""))[:32],
            search=str(request.query_params.get("search", ""))[:200],
        )
        page = self.paginate_queryset(rows)
        data = s.TaskUserSerializer(page if page is not None else rows, many=True).data
        return self.get_paginated_response(data) if page is not None else Response(data)

    @extend_schema(request=s.UserActionSerializer)
    @action(detail=True, methods=["post"], url_path="users/actions")
    def user_actions(self, request: Request, pk: str) -> Response:
        task = self.get_object()
        incoming = s.UserActionSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        jobs = services.user_action(
            self.access, task, incoming.validated_data["action"], incoming.validated_data["box_user_ids"]
        )
        users = TaskUser.objects.filter(task=task, box_user_id__in=incoming.validated_data["box_user_ids"])
        body: dict[str, Any] = {"users": s.TaskUserSerializer(users, many=True).data}
        if incoming.validated_data["action"] == "backup_now":
            body["jobs"] = [{"id": j.pk, "status": j.status, "box_user_id": j.box_user_id} for j in jobs]
            begun = {j.box_user_id for j in jobs}
            body["not_started"] = [
                {"box_user_id": u.box_user_id, "reason": services.not_started_reason(u)}
                for u in users
                if u.box_user_id not in begun
            ]
        return Response(body)

    @extend_schema(responses=OpenApiTypes.OBJECT)
    @action(detail=True, methods=["get"], url_path="usage")
    def usage(self, request: Request, pk: str) -> Response:
        """Stored bytes of the task's repository and each Box user's share (backups/usage.py)."""
        from boxvault.backups.usage import usage_json

        return Response(usage_json(self.get_object()))

    @extend_schema(request=s.RetentionSerializer, responses=s.TaskSerializer)
    @action(detail=True, methods=["put"], url_path="retention")
    def retention(self, request: Request, pk: str) -> Response:
        """Operators (staff) only: how long snapshots are kept; applied by forget + prune."""
        if not request.user.is_staff:
            raise PermissionDenied("only the server's operators set the retention period")
        task = self.get_object()
        incoming = s.RetentionSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        services.set_retention(
            task, incoming.validated_data["retention"], incoming.validated_data["value"], access=self.access
        )
        return Response(s.TaskSerializer(self.get_object()).data)
