from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.http import StreamingHttpResponse
from drf_spectacular.utils import extend_schema
from rest_framework import generics, mixins, status, viewsets
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.settings import api_settings

from boxvault.accounts import services
from boxvault.accounts.access import get_for
from boxvault.accounts.models import Account, Member
from boxvault.api import serializers as s
from boxvault.core.api import AccountScopedMixin
from boxvault.core.operations import Operation
from boxvault.core.renderers import CSVRenderer
from boxvault.security.export import csv_lines
from boxvault.security.filters import AuditFilter
from boxvault.security.models import AuditEvent


class AccountView(AccountScopedMixin, generics.GenericAPIView[Account]):
    serializer_class = s.AccountSerializer
    operations = {"GET": Operation.VIEW_SETTINGS, "*": Operation.MANAGE_ACCOUNT}

    def get(self, request: Request) -> Response:
        return Response(self.get_serializer(self.access.account).data)

    def patch(self, request: Request) -> Response:
        serializer = self.get_serializer(self.access.account, data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        account = services.update_account(
            self.access,
            name=data.get("name", self.access.account.name),
            email=data.get("email", self.access.account.email),
            request=request._request,
        )
        return Response(self.get_serializer(account).data)


class MeView(AccountScopedMixin, generics.GenericAPIView[Member]):
    serializer_class = s.MeSerializer

    def get(self, request: Request) -> Response:
        m = self.access.member
        ops = [str(op) for op in Operation if m.can(op)]
        return Response(
            {
                "email": m.user.email,
                "account": m.account_id,
                "role": m.role,
                "operations": ops,
                "services": m.services,
            }
        )


class MemberViewSet(
    AccountScopedMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet[Member]
):
    serializer_class = s.MemberSerializer
    queryset = Member.objects.none()
    operations = {"*": Operation.MANAGE_USERS}
    filterset_fields = ["role"]

    def get_queryset(self) -> QuerySet[Member]:
        return self.scoped(Member.objects.select_related("user").order_by("id"))

    def get_object(self) -> Member:
        return get_for(self.access, Member.objects.select_related("user"), pk=self.kwargs["pk"])

    @extend_schema(request=s.NewMemberSerializer, responses=s.MemberSerializer)
    def create(self, request: Request) -> Response:
        incoming = s.NewMemberSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        data = dict(incoming.validated_data)
        password = data.pop("password", "") or None
        member = services.add_member(self.access, password=password, request=request._request, **data)
        return Response(s.MemberSerializer(member).data, status=status.HTTP_201_CREATED)

    def partial_update(self, request: Request, pk: str) -> Response:
        member = self.get_object()
        serializer = self.get_serializer(member, data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        user = data.get("user", {})
        member = services.update_member(
            self.access,
            member,
            request=request._request,
            first_name=user.get("first_name", member.user.first_name),
            last_name=user.get("last_name", member.user.last_name),
            role=data.get("role", member.role),
            operations=data.get("operations", member.operations),
            services=data.get("services", member.services),
        )
        return Response(s.MemberSerializer(member).data)

    def destroy(self, request: Request, pk: str) -> Response:
        services.remove_member(self.access, self.get_object(), request=request._request)
        return Response(status=status.HTTP_204_NO_CONTENT)


class AuditListView(AccountScopedMixin, generics.ListAPIView[AuditEvent]):
    """The security audit trail, newest first. `?format=csv` returns every matching row as CSV."""

    serializer_class = s.AuditEventSerializer
    queryset = AuditEvent.objects.none()
    filterset_class = AuditFilter
    operations = {"*": Operation.VIEW_ACTIVITY}
    renderer_classes = [*api_settings.DEFAULT_RENDERER_CLASSES, CSVRenderer]

    def get_queryset(self) -> QuerySet[AuditEvent]:
        return self.scoped(AuditEvent.objects.all())

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Any:
        if request.accepted_renderer.format == "csv":
            rows = self.filter_queryset(self.get_queryset()).iterator()
            response = StreamingHttpResponse(csv_lines(rows), content_type="text/csv")
            response["Content-Disposition"] = 'attachment; filename="security-audit.csv"'
            return response
        return super().list(request, *args, **kwargs)
