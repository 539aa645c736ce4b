from django.apps import AppConfig


class SecurityConfig(AppConfig):
    name = "boxvault.security"
    label = "security"
    verbose_name = "Security audit"

    def ready(self) -> None:
        from boxvault.security import signals  # noqa: F401 - connects the sign-in receivers
