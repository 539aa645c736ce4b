from django.apps import AppConfig


class BillingConfig(AppConfig):
    name = "boxvault.billing"
    label = "billing"
    verbose_name = "Billing"
