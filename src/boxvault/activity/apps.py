from django.apps import AppConfig


class ActivityConfig(AppConfig):
    name = "boxvault.activity"
    label = "activity"
    verbose_name = "System activity"
