"""REST API v1 for erasures: request one, follow it, download its receipt (JSON or `?format=pdf`)."""

from __future__ import annotations

from typing import Any

from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.exceptions import ValidationError
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from boxvault.accounts.access import for_user, scoped
from boxvault.core.operations import Operation
from boxvault.jobs.models import Job
from boxvault.recovery import erasure as service
from boxvault.recovery.models import Erasure
from boxvault.recovery.serializers import ErasureRequest, parse


class PDFRenderer(BaseRenderer):
    """Lets `?format=pdf` through DRF's content negotiation; the view answers the PDF bytes itself."""

    media_type = "application/pdf"
    format = "pdf"

    def render(self, data: Any, accepted_media_type: Any = None, renderer_context: Any = None) -> bytes:
        if isinstance(data, bytes):
            return data
        return str((data or {}).get("detail", data) if isinstance(data, dict) else data).encode()


def erasure_json(row: Erasure) -> dict[str, Any]:
    from boxvault.recovery.api import job_json

    job = Job.objects.filter(pk=row.job_id).first() if row.job_id else None
    return {
        "id": row.pk,
        "url": f"/api/v1/erasures/{row.pk}/",
        "status": row.status,
        "message": row.message,
        "task": row.task_id,
        "task_name": row.task_name,
        "box_user_id": row.box_user_id,
        "box_user_login": row.box_user_login,
        "paths": row.paths,
        "whole_user": row.whole_user,
        "reason": row.reason,
        "requested_by": row.requested_by_label,
        "requested_at": row.requested_at.isoformat(),
        "bytes_left_storage_at": row.bytes_left_storage_at.isoformat() if row.bytes_left_storage_at else None,
        "completed_at": row.completed_at.isoformat() if row.completed_at else None,
        "receipt_url": f"/api/v1/erasures/{row.pk}/receipt/" if row.status == row.Status.COMPLETED else None,
        "job": job_json(job) if job is not None else {"id": row.job_id},
    }


def _rows(request: Request) -> Any:
    access = for_user(request.user, Operation.DELETE_ITEMS)
    return scoped(access, Erasure.objects.all())


class ErasuresView(APIView):
    @extend_schema(request=ErasureRequest, responses={201: OpenApiTypes.OBJECT})
    def post(self, request: Request) -> Response:
        access = for_user(request.user, Operation.DELETE_ITEMS)
        try:
            data = parse(ErasureRequest, request.data)
            row = service.request_erasure(
                access,
                task=data["task"],
                box_user_id=data["box_user_id"],
                paths=data["paths"],
                reason=data["reason"],
                snapshot=data.get("snapshot") or None,
            )
        except ValueError as exc:  # BadRequest is one
            raise ValidationError({"detail": str(exc)}) from exc
        return Response(erasure_json(row), status=status.HTTP_201_CREATED)

    @extend_schema(responses=OpenApiTypes.OBJECT, operation_id="v1_erasures_list")
    def get(self, request: Request) -> Response:
        from rest_framework.settings import api_settings

        rows = _rows(request)
        if request.GET.get("task"):
            rows = rows.filter(task_id=int(request.GET["task"]) if request.GET["task"].isdigit() else -1)
        if request.GET.get("status"):
            rows = rows.filter(status=request.GET["status"])
        paginator = api_settings.DEFAULT_PAGINATION_CLASS()
        page = paginator.paginate_queryset(rows, request, view=self)
        return paginator.get_paginated_response([erasure_json(r) for r in page or []])


class ErasureView(APIView):
    @extend_schema(responses=OpenApiTypes.OBJECT)
    def get(self, request: Request, pk: int) -> Response:
        row = _get(request, pk)
        return Response(erasure_json(row))


def _get(request: Request, pk: int) -> Erasure:
    from django.http import Http404

    row = _rows(request).filter(pk=pk).first()
    if row is None:
        raise Http404("no such erasure")
    return row


class ReceiptView(APIView):
    renderer_classes = [JSONRenderer, PDFRenderer]

    @extend_schema(
        parameters=[OpenApiParameter("format", OpenApiTypes.STR, enum=["json", "pdf"])],
        responses={200: OpenApiTypes.OBJECT, 409: OpenApiTypes.OBJECT},
    )
    def get(self, request: Request, pk: int, format: str | None = None) -> Any:
        row = _get(request, pk)
        if row.status != Erasure.Status.COMPLETED:
            return Response(
                {"detail": f"the erasure is {row.get_status_display().lower()}: no receipt yet"},
                status=status.HTTP_409_CONFLICT,
            )
        if (request.GET.get("format") or format) == "pdf":
            from boxvault.recovery.receipt import render_pdf

            response = HttpResponse(render_pdf(row.receipt), content_type="application/pdf")
            response["Content-Disposition"] = f'attachment; filename="erasure-{row.pk}-receipt.pdf"'
            return response
        return Response(row.receipt)
