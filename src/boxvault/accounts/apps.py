from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "boxvault.accounts"
    label = "accounts"
    verbose_name = "Accounts"
