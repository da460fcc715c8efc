from django.apps import AppConfig


class AccountsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "accounts"

    def ready(self):
        from django.contrib.auth.signals import user_login_failed

        from accounts.services import record_failed_login

        # Django's one hook for a failed log-in, whichever form made it (ours, the admin's)
        user_login_failed.connect(record_failed_login, dispatch_uid="accounts-address-limit")
