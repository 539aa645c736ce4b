"""Included by boxvault.api.urls under /api/v1/."""

from django.urls import path

from boxvault.billing import api

urlpatterns = [
    path("billing/", api.StatusView.as_view(), name="billing"),
    path("billing/subscribe/", api.SubscribeView.as_view(), name="billing-subscribe"),
    path("billing/details/", api.DetailsView.as_view(), name="billing-details"),
    path("billing/cards/", api.CardsView.as_view(), name="billing-cards"),
    path("billing/cards/<str:card_id>/", api.CardView.as_view(), name="billing-card"),
    path("billing/invoices/", api.InvoicesView.as_view(), name="billing-invoices"),
    path("billing/invoices/<int:pk>/pdf/", api.InvoicePdfView.as_view(), name="billing-invoice-pdf"),
    path("billing/invoices/<int:pk>/email/", api.InvoiceEmailView.as_view(), name="billing-invoice-email"),
]
