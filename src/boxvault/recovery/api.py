"""REST API v1 for recovery (DESIGN.md): snapshots, tree, restores, exports. Same services as the pages."""

from __future__ import annotations

from typing import Any

from django.http import Http404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from boxvault.accounts.access import for_user, get_for
from boxvault.api.pagination import Pagination
from boxvault.backups.models import Task, TaskUser
from boxvault.core.operations import Operation
from boxvault.jobs.models import Job
from boxvault.recovery import services, versions
from boxvault.recovery.folders import box_folders
from boxvault.recovery.serializers import ExportRequest, RestoreRequest, VersionRestoreRequest, parse
from boxvault.recovery.snapshots import BadRequest, children, clean_path, locate, snapshot_rows
from boxvault.recovery.views import date_range


def job_json(job: Job) -> dict[str, Any]:
    """The job as `/api/v1/jobs/{id}/` shows it, plus what was asked (never the sealed credentials)."""
    from boxvault.jobs.api import JobSerializer

    data: dict[str, Any] = dict(JobSerializer(job).data)
    data["params"] = {k: v for k, v in (job.params or {}).items() if k not in ("sealed_target", "owner")}
    data["url"] = f"/api/v1/jobs/{job.pk}/"
    return data


def _bad(exc: Exception) -> ValidationError:
    return ValidationError({"detail": str(exc)})


class SnapshotsView(APIView):
    @extend_schema(
        parameters=[
            OpenApiParameter("from", OpenApiTypes.DATE, description="first day (default: the first backup)"),
            OpenApiParameter("to", OpenApiTypes.DATE, description="last day (default: today)"),
            OpenApiParameter("page", OpenApiTypes.INT, description="page number (newest first)"),
            OpenApiParameter("page_size", OpenApiTypes.INT, description="per page (default 50, at most 500)"),
        ],
        responses=inline_serializer(
            "SnapshotList",
            {
                "count": serializers.IntegerField(),
                "next": serializers.URLField(allow_null=True),
                "previous": serializers.URLField(allow_null=True),
                "from": serializers.DateTimeField(),
                "to": serializers.DateTimeField(),
                "results": serializers.ListField(child=serializers.DictField()),
            },
        ),
    )
    def get(self, request: Request, task_id: int, box_user_id: str) -> Response:
        access = for_user(request.user, Operation.PREVIEW_DATA)
        task = get_for(access, Task.objects.all(), pk=task_id)
        user = TaskUser.objects.filter(task=task, box_user_id=box_user_id).first()
        if user is None:
            raise Http404("no such user in this task")
        try:
            begin, end = date_range(user.first_backup_at, request.GET.get("from"), request.GET.get("to"))
        except BadRequest as exc:
            raise _bad(exc) from exc
        # paged in the database (a COUNT and one LIMIT/OFFSET query), like every other API list
        paginator = Pagination()
        rows = snapshot_rows(task, box_user_id, begin, end)
        page = paginator.paginate_queryset(rows, request, view=self)  # type: ignore[arg-type]
        return Response(
            {
                "count": paginator.page.paginator.count,
                "next": paginator.get_next_link(),
                "previous": paginator.get_previous_link(),
                "from": begin.isoformat(),
                "to": end.isoformat(),
                "results": page,
            }
        )


class BoxFoldersView(APIView):
    """The restore destination's folders, one page at a time (the dialog's folder picker uses the same)."""

    @extend_schema(
        operation_id="task_user_box_folders",
        parameters=[
            OpenApiParameter("parent", OpenApiTypes.STR, description="Box folder id (default 0, All Files)"),
            OpenApiParameter("offset", OpenApiTypes.INT, description="where the page starts (next_offset)"),
        ],
        responses=inline_serializer(
            "BoxFolderPage",
            {
                "id": serializers.CharField(),
                "name": serializers.CharField(),
                "path": serializers.ListField(child=serializers.DictField()),
                "results": serializers.ListField(child=serializers.DictField()),
                "next_offset": serializers.IntegerField(allow_null=True),
            },
        ),
    )
    def get(self, request: Request, task_id: int, box_user_id: str) -> Response:
        access = for_user(request.user, Operation.RESTORE)
        page = box_folders(
            access, task_id, box_user_id, request.GET.get("parent", "0"), request.GET.get("offset", "0")
        )
        return Response(
            {
                "id": page.id,
                "name": page.name,
                "path": [{"id": i, "name": n} for i, n in page.path],
                "results": [{"id": i, "name": n} for i, n in page.folders],
                "next_offset": page.next_offset,
            }
        )


class TreeView(APIView):
    @extend_schema(
        parameters=[OpenApiParameter("path", OpenApiTypes.STR, description="folder inside the snapshot")],
        responses=inline_serializer(
            "SnapshotTree",
            {
                "snapshot": serializers.CharField(),
                "path": serializers.CharField(),
                "results": serializers.ListField(child=serializers.DictField()),
            },
        ),
    )
    def get(self, request: Request, ref: str) -> Response:
        access = for_user(request.user, Operation.PREVIEW_DATA)
        try:
            located = locate(access, ref)
        except BadRequest as exc:
            raise _bad(exc) from exc
        with located.repo:
            try:
                path = clean_path(located, request.GET.get("path"))
                entries = children(located, path)
            except BadRequest as exc:
                raise _bad(exc) from exc
        return Response({"snapshot": located.ref, "path": path, "results": entries})


class VersionsView(APIView):
    @extend_schema(
        parameters=[OpenApiParameter("path", OpenApiTypes.STR, description="a file inside the snapshot")],
        responses=inline_serializer(
            "FileVersions",
            {
                "file": serializers.DictField(),
                "versions": serializers.ListField(child=serializers.DictField()),
            },
        ),
    )
    def get(self, request: Request, ref: str) -> Response:
        """The file's previous versions that this backup holds, newest first."""
        access = for_user(request.user, Operation.PREVIEW_DATA)
        try:
            return Response(versions.list_versions(access, ref, request.GET.get("path")))
        except BadRequest as exc:
            raise _bad(exc) from exc


class VersionRestoresView(APIView):
    @extend_schema(request=VersionRestoreRequest, responses={201: OpenApiTypes.OBJECT})
    def post(self, request: Request) -> Response:
        """Restore one stored version of a file: as its current version in Box, or as a copy beside it."""
        access = for_user(request.user, Operation.RESTORE)
        try:
            data = parse(VersionRestoreRequest, request.data)
            job = versions.start_version_restore(
                access, data["snapshot"], data["path"], data["version_id"], data["restore_as"]
            )
        except ValueError as exc:  # BadRequest is one
            raise _bad(exc) from exc
        return Response(job_json(job), status=status.HTTP_201_CREATED)


class RestoresView(APIView):
    @extend_schema(request=RestoreRequest, responses={201: OpenApiTypes.OBJECT})
    def post(self, request: Request) -> Response:
        access = for_user(request.user, Operation.RESTORE)
        try:
            data = parse(RestoreRequest, request.data)
            job = services.start_restore(
                access,
                data["snapshot"],
                data["paths"],
                data["mode"],
                data.get("destination") or {},
                collaborations=data["collaborations"],
                shared_links=data["shared_links"],
                comments=data["comments"],
                metadata=data["metadata"],
            )
        except ValueError as exc:  # BadRequest is one
            raise _bad(exc) from exc
        return Response(job_json(job), status=status.HTTP_201_CREATED)


class ExportsView(APIView):
    @extend_schema(request=ExportRequest, responses={201: OpenApiTypes.OBJECT})
    def post(self, request: Request) -> Response:
        access = for_user(request.user, Operation.EXPORT)
        try:
            data = parse(ExportRequest, request.data)
            job = services.start_export(access, data["snapshot"], data["paths"], data["target"])
        except ValueError as exc:  # BadRequest is one
            raise _bad(exc) from exc
        return Response(job_json(job), status=status.HTTP_201_CREATED)
