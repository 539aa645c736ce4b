"""`/api/v1/billing/`: status and forecast, subscribe, details, cards, invoices and their PDFs."""

from __future__ import annotations

from typing import Any

from django.http import Http404, HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from boxvault.billing import pdf, queries, services
from boxvault.billing.models import Invoice
from boxvault.core import clock
from boxvault.core.api import AccountScopedMixin
from boxvault.core.errors import ServiceError
from boxvault.core.operations import Operation


class InvoiceSerializer(serializers.ModelSerializer[Invoice]):
    reference = serializers.CharField(read_only=True)
    pdf = serializers.SerializerMethodField()

    class Meta:
        model = Invoice
        fields = (
            "id",
            "reference",
            "plan",
            "period_start",
            "period_end",
            "issued_at",
            "due_at",
            "currency",
            "subtotal",
            "tax_rate",
            "tax",
            "total",
            "status",
            "paid_at",
            "payment_method",
            "failure",
            "pdf",
        )

    def get_pdf(self, invoice: Invoice) -> str:
        return f"/api/v1/billing/invoices/{invoice.pk}/pdf/"


class SubscribeSerializer(serializers.Serializer[Any]):
    plan = serializers.ChoiceField(["monthly", "annual"])
    purchase_order = serializers.CharField(required=False, allow_blank=True, max_length=64)


class CardSerializer(serializers.Serializer[Any]):
    payment_method = serializers.RegexField(
        r"^pm_[A-Za-z0-9_]{1,120}$", help_text="the PaymentMethod id Stripe.js returned (pm_...)"
    )


class DetailsSerializer(serializers.Serializer[Any]):
    """Every field optional: a PUT changes the fields it names."""

    currency = serializers.RegexField(
        r"^[A-Z]{3}$", required=False, help_text="one of the offered currencies"
    )
    title = serializers.CharField(max_length=32, required=False, allow_blank=True)
    first_name = serializers.CharField(max_length=100, required=False, allow_blank=True)
    last_name = serializers.CharField(max_length=100, required=False, allow_blank=True)
    email = serializers.EmailField(required=False, allow_blank=True)
    company = serializers.CharField(max_length=200, required=False, allow_blank=True)
    tax_id = serializers.CharField(max_length=64, required=False, allow_blank=True)
    address1 = serializers.CharField(max_length=200, required=False, allow_blank=True)
    address2 = serializers.CharField(max_length=200, required=False, allow_blank=True)
    country = serializers.RegexField(r"^[A-Z]{2}$", required=False, allow_blank=True, help_text="ISO 3166")
    state_region = serializers.CharField(max_length=100, required=False, allow_blank=True)
    city = serializers.CharField(max_length=100, required=False, allow_blank=True)
    postal_code = serializers.CharField(max_length=32, required=False, allow_blank=True)
    phone = serializers.CharField(max_length=32, required=False, allow_blank=True)
    invoices_by = serializers.ChoiceField(["attachment", "link"], required=False)
    purchase_order = serializers.CharField(max_length=64, required=False, allow_blank=True)


class InvoiceListSerializer(serializers.Serializer[Any]):
    count = serializers.IntegerField()
    results = InvoiceSerializer(many=True)


def _bad(exc: Exception) -> ValidationError:
    return ValidationError({"detail": str(exc)})


class _Billing(AccountScopedMixin, APIView):
    operations = {"*": Operation.BILLING}

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        if not services.enabled():
            raise Http404("billing is not enabled on this server")
        super().initial(request, *args, **kwargs)


class StatusView(_Billing):
    @extend_schema(responses=OpenApiTypes.OBJECT)
    def get(self, request: Request) -> Response:
        return Response(queries.status(self.access.account, clock.now()))


class SubscribeView(_Billing):
    @extend_schema(request=SubscribeSerializer, responses={201: OpenApiTypes.OBJECT})
    def post(self, request: Request) -> Response:
        incoming = SubscribeSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        try:
            services.subscribe(
                self.access,
                incoming.validated_data["plan"],
                purchase_order=incoming.validated_data.get("purchase_order", ""),
            )
        except ServiceError as exc:
            raise _bad(exc) from exc
        return Response(queries.status(self.access.account, clock.now()), status=status.HTTP_201_CREATED)


class DetailsView(_Billing):
    @extend_schema(responses=DetailsSerializer)
    def get(self, request: Request) -> Response:
        profile = services.profile_for(self.access.account)
        return Response({f: getattr(profile, f) for f in services.DETAIL_FIELDS})

    @extend_schema(request=DetailsSerializer, responses=DetailsSerializer)
    def put(self, request: Request) -> Response:
        incoming = DetailsSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        try:
            profile = services.update_details(self.access, **incoming.validated_data)
        except ServiceError as exc:
            raise _bad(exc) from exc
        return Response({f: getattr(profile, f) for f in services.DETAIL_FIELDS})


class CardsView(_Billing):
    @extend_schema(responses=OpenApiTypes.OBJECT)
    def get(self, request: Request) -> Response:
        try:
            return Response({"results": services.list_cards(self.access)})
        except ServiceError as exc:
            raise _bad(exc) from exc

    @extend_schema(request=CardSerializer, responses=OpenApiTypes.OBJECT)
    def post(self, request: Request) -> Response:
        incoming = CardSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        try:
            card = services.add_card(self.access, incoming.validated_data["payment_method"])
        except ServiceError as exc:
            raise _bad(exc) from exc
        return Response(card.__dict__, status=status.HTTP_201_CREATED)


class CardView(_Billing):
    @extend_schema(responses={204: None})
    def delete(self, request: Request, card_id: str) -> Response:
        try:
            services.delete_card(self.access, card_id)
        except ServiceError as exc:
            raise _bad(exc) from exc
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(request=None, responses=OpenApiTypes.OBJECT)
    def put(self, request: Request, card_id: str) -> Response:
        try:
            services.choose_card(self.access, card_id)
        except ServiceError as exc:
            raise _bad(exc) from exc
        return Response({"active": card_id})


class InvoicesView(_Billing):
    @extend_schema(responses=InvoiceListSerializer)
    def get(self, request: Request) -> Response:
        rows = self.access.restrict(Invoice.objects.all())
        return Response({"count": rows.count(), "results": InvoiceSerializer(rows, many=True).data})


class InvoicePdfView(_Billing):
    @extend_schema(responses={(200, "application/pdf"): OpenApiTypes.BINARY})
    def get(self, request: Request, pk: int) -> HttpResponse:
        invoice = self.access.get(Invoice.objects.all(), pk=pk)
        response = HttpResponse(pdf.render(invoice), content_type="application/pdf")
        response["Content-Disposition"] = f'attachment; filename="{invoice.reference}.pdf"'
        return response


class InvoiceEmailView(_Billing):
    @extend_schema(request=None, responses=OpenApiTypes.OBJECT)
    def post(self, request: Request, pk: int) -> Response:
        invoice = self.access.get(Invoice.objects.all(), pk=pk)
        try:
            services.email_invoice(self.access, invoice)
        except ServiceError as exc:
            raise _bad(exc) from exc
        except OSError as exc:
            raise _bad(ValueError("The e-mail could not be sent; try again later.")) from exc
        return Response({"sent_to": request.user.email})
