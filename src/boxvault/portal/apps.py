from django.apps import AppConfig


class PortalConfig(AppConfig):
    name = "boxvault.portal"
    label = "portal"
    verbose_name = "Portal"
