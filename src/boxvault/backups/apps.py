from django.apps import AppConfig


class BackupsConfig(AppConfig):
    name = "boxvault.backups"
    label = "backups"
    verbose_name = "Backup tasks"

    def ready(self) -> None:
        # Registers the "backup" job handler, the periodic tasks and the account-purge receiver.
        from boxvault.backups import checks, handler, maintenance, signals, tasks  # noqa: F401
