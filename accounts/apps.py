from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Accounts"

    def ready(self):
        from django.contrib.auth.signals import user_logged_out
        from django.db.models.signals import pre_save

        from accounts import receivers
        from accounts.models import User

        pre_save.connect(receivers.user_pre_save, sender=User)
        user_logged_out.connect(receivers.user_logged_out)
