from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    name = "boxvault.notifications"
    label = "notifications"
    verbose_name = "Notifications"

    def ready(self) -> None:
        # Receivers of the jobs and backups signals, and the periodic pass, in every web and worker process
        # (`boxvault worker` does not autodiscover tasks modules).
        from boxvault.notifications import receivers, tasks  # noqa: F401
