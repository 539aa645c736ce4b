from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "boxvault.accounts"
    label = "accounts"
    verbose_name = "Accounts"

    def ready(self) -> None:
        from boxvault.accounts.access import for_user
        from boxvault.core import access

        access.install(for_user)
