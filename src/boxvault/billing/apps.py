from django.apps import AppConfig


class BillingConfig(AppConfig):
    name = "boxvault.billing"
    label = "billing"
    verbose_name = "Billing"

    def ready(self) -> None:
        from boxvault.billing import signals  # noqa: F401 - connects the receivers
