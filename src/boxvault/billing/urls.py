from django.urls import path

from boxvault.billing import views

app_name = "billing"
urlpatterns = [
    path("billing/", views.home, name="home"),
    path("billing/invoices/<int:pk>/pdf/", views.invoice_pdf, name="invoice_pdf"),
    path("billing/cards/setup/", views.card_setup, name="card_setup"),
    path("billing/stripe/webhook/", views.stripe_webhook, name="stripe_webhook"),
]
