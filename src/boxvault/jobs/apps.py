from django.apps import AppConfig


class JobsConfig(AppConfig):
    name = "boxvault.jobs"
    label = "jobs"
    verbose_name = "Jobs"

    def ready(self) -> None:
        # The Huey task and periodic reconciler must be registered in every process: web processes enqueue
        # them, `boxvault worker` consumes them (it does not autodiscover tasks modules).
        from boxvault.jobs import registry, tasks  # noqa: F401

        registry.import_extra_modules()
