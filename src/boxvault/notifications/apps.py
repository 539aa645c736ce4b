from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    name = "boxvault.notifications"
    label = "notifications"
    verbose_name = "Notifications"

    def ready(self) -> None:
        # Receivers of the jobs and backups signals, in every web and worker process.
        from boxvault.notifications import receivers  # noqa: F401
