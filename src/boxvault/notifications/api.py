"""`/api/v1/notifications/settings/` and `/api/v1/notifications/recipients/`: the same services and gate as
the settings page. Validation is the services' (their ServiceError answers 400 with the message)."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from rest_framework import generics, serializers, status
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from boxvault.core.api import AccountScopedMixin
from boxvault.core.operations import Operation
from boxvault.notifications import services
from boxvault.notifications.models import NotificationSettings, Recipient

_READ_ONLY = {"updated_at", "id", "created_at"}


class SettingsSerializer(serializers.ModelSerializer[NotificationSettings]):
    class Meta:
        model = NotificationSettings
        fields = [*services.SETTINGS_FIELDS, "updated_at"]


class RecipientSerializer(serializers.ModelSerializer[Recipient]):
    class Meta:
        model = Recipient
        fields = ["id", "email", "display_name", "types", "created_at"]


def _body(request: Request) -> dict[str, Any]:
    if not isinstance(request.data, dict):
        raise ValidationError({"detail": "Send a JSON object."})
    return dict(request.data)


class SettingsView(AccountScopedMixin, APIView):
    """The account's report options and smart-alert thresholds."""

    operations = {"*": Operation.MANAGE_NOTIFICATIONS}
    serializer_class = SettingsSerializer  # for the OpenAPI schema

    def get(self, request: Request) -> Response:
        return Response(SettingsSerializer(services.settings_for(self.access.account)).data)

    def put(self, request: Request) -> Response:
        body = {k: v for k, v in _body(request).items() if k not in _READ_ONLY}
        saved = services.update_settings(self.access, request=request._request, **body)
        return Response(SettingsSerializer(saved).data)

    patch = put


class RecipientListView(AccountScopedMixin, generics.ListAPIView[Recipient]):
    serializer_class = RecipientSerializer
    queryset = Recipient.objects.none()
    operations = {"*": Operation.MANAGE_NOTIFICATIONS}

    def get_queryset(self) -> QuerySet[Recipient]:
        return self.scoped(Recipient.objects.all()).order_by("email", "id")

    def post(self, request: Request) -> Response:
        body = _body(request)
        row = services.add_recipient(
            self.access,
            email=body.get("email"),
            display_name=body.get("display_name", ""),
            types=body.get("types", []),
            request=request._request,
        )
        return Response(RecipientSerializer(row).data, status=status.HTTP_201_CREATED)


class RecipientDetailView(AccountScopedMixin, APIView):
    operations = {"*": Operation.MANAGE_NOTIFICATIONS}
    serializer_class = RecipientSerializer  # for the OpenAPI schema

    def _row(self, pk: int) -> Recipient:
        row: Recipient = self.access.get(Recipient.objects.all(), pk=pk)  # another tenant's id: 404
        return row

    def get(self, request: Request, pk: int) -> Response:
        return Response(RecipientSerializer(self._row(pk)).data)

    def put(self, request: Request, pk: int) -> Response:
        row = self._row(pk)
        body = _body(request)
        saved = services.update_recipient(
            self.access,
            row,
            email=body.get("email", row.email),
            display_name=body.get("display_name", row.display_name),
            types=body.get("types", row.types),
            request=request._request,
        )
        return Response(RecipientSerializer(saved).data)

    patch = put

    def delete(self, request: Request, pk: int) -> Response:
        services.remove_recipient(self.access, self._row(pk), request=request._request)
        return Response(status=status.HTTP_204_NO_CONTENT)
