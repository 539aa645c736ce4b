from django.apps import AppConfig


class RecoveryConfig(AppConfig):
    name = "boxvault.recovery"
    label = "recovery"
    verbose_name = "Recovery"

    def ready(self) -> None:
        # Registers the "restore" and "export" job handlers and the job-finished receiver (wipe + e-mail).
        from boxvault.recovery import erasure_job, handlers, signals  # noqa: F401
