from django.apps import AppConfig


class BackupsConfig(AppConfig):
    name = "boxvault.backups"
    label = "backups"
    verbose_name = "Backup tasks"

    def ready(self) -> None:
        # Registers the "backup" job handler and the periodic tasks with the queue.
        from boxvault.backups import handler, tasks  # noqa: F401
