"""`/api/v1/notifications/settings/` and `/api/v1/notifications/recipients/`: the same services and gate as
the settings page. Validation is the services' (their ServiceError answers 400 with the message)."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework import generics, serializers, status
from rest_framework.exceptions import ValidationError
from rest_framework.parsers import JSONParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from boxvault.core.api import AccountScopedMixin
from boxvault.core.operations import Operation
from boxvault.notifications import services
from boxvault.notifications.models import TYPES, NotificationSettings, Recipient


class SettingsSerializer(serializers.ModelSerializer[NotificationSettings]):
    class Meta:
        model = NotificationSettings
        fields = [*services.SETTINGS_FIELDS, "updated_at"]


class RecipientSerializer(serializers.ModelSerializer[Recipient]):
    types = serializers.ListField(child=serializers.ChoiceField(choices=list(TYPES)))

    class Meta:
        model = Recipient
        fields = ["id", "email", "display_name", "types", "created_at"]


# Request shapes for the OpenAPI schema: exactly what the services accept (they validate; these document).
class SettingsInSerializer(serializers.Serializer[Any]):
    report_format = serializers.ChoiceField(choices=NotificationSettings.ReportFormat.choices, required=False)
    delivery = serializers.ChoiceField(choices=NotificationSettings.Delivery.choices, required=False)
    frequency = serializers.ChoiceField(choices=NotificationSettings.Frequency.choices, required=False)
    hour_utc = serializers.IntegerField(min_value=0, max_value=23, required=False)
    failures_only = serializers.BooleanField(required=False)
    smart_min_files = serializers.IntegerField(min_value=1, max_value=1_000_000, required=False)
    smart_min_share = serializers.FloatField(min_value=0.001, max_value=1.0, required=False)
    smart_factor = serializers.FloatField(min_value=1.0, max_value=1000.0, required=False)


class RecipientInSerializer(serializers.Serializer[Any]):
    email = serializers.EmailField(max_length=254)
    display_name = serializers.CharField(max_length=120, required=False, allow_blank=True)
    types = serializers.ListField(child=serializers.ChoiceField(choices=list(TYPES)), min_length=1)


def _body(request: Request) -> dict[str, Any]:
    if not isinstance(request.data, dict):
        raise ValidationError({"detail": "Send a JSON object."})
    return dict(request.data)


class SettingsView(AccountScopedMixin, APIView):
    """The account's report options and smart-alert thresholds."""

    parser_classes = [JSONParser]  # JSON in (DESIGN.md); a form body would arrive as lists
    operations = {"*": Operation.MANAGE_NOTIFICATIONS}
    serializer_class = SettingsSerializer  # for the OpenAPI schema

    def get(self, request: Request) -> Response:
        return Response(SettingsSerializer(services.settings_for(self.access.account)).data)

    @extend_schema(request=SettingsInSerializer, responses=SettingsSerializer)
    def put(self, request: Request) -> Response:
        # Fields the API does not know are ignored (REST habit: a GET's body may be sent back as it is).
        body = {k: v for k, v in _body(request).items() if k in services.SETTINGS_FIELDS}
        saved = services.update_settings(self.access, request=request._request, **body)
        return Response(SettingsSerializer(saved).data)

    @extend_schema(request=SettingsInSerializer, responses=SettingsSerializer)
    def patch(self, request: Request) -> Response:
        return self.put(request)


class RecipientListView(AccountScopedMixin, generics.ListAPIView[Recipient]):
    serializer_class = RecipientSerializer
    queryset = Recipient.objects.none()
    parser_classes = [JSONParser]  # JSON in (DESIGN.md); a form body would arrive as lists
    operations = {"*": Operation.MANAGE_NOTIFICATIONS}

    def get_queryset(self) -> QuerySet[Recipient]:
        return self.scoped(Recipient.objects.all()).order_by("email", "id")

    @extend_schema(request=RecipientInSerializer, responses={201: RecipientSerializer})
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
    parser_classes = [JSONParser]  # JSON in (DESIGN.md); a form body would arrive as lists
    operations = {"*": Operation.MANAGE_NOTIFICATIONS}
    serializer_class = RecipientSerializer  # for the OpenAPI schema

    def _row(self, pk: int) -> Recipient:
        row: Recipient = self.access.get(Recipient.objects.all(), pk=pk)  # another tenant's id: 404
        return row

    def get(self, request: Request, pk: int) -> Response:
        return Response(RecipientSerializer(self._row(pk)).data)

    @extend_schema(request=RecipientInSerializer, responses=RecipientSerializer)
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

    @extend_schema(request=RecipientInSerializer, responses=RecipientSerializer)
    def patch(self, request: Request, pk: int) -> Response:
        return self.put(request, pk)

    @extend_schema(responses={204: None})
    def delete(self, request: Request, pk: int) -> Response:
        services.remove_recipient(self.access, self._row(pk), request=request._request)
        return Response(status=status.HTTP_204_NO_CONTENT)
