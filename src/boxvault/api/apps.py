from django.apps import AppConfig


class ApiConfig(AppConfig):
    name = "boxvault.api"
    label = "api"
    verbose_name = "API"
