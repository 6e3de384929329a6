from django.apps import AppConfig
from django.db.models.signals import post_migrate


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Accounts"

    def ready(self) -> None:
        from django.contrib.auth.signals import user_logged_out
        from django.db.models.signals import pre_save

        from accounts import receivers
        from accounts.models import User
        from rakuten.cache import cache_tables_create

        pre_save.connect(receivers.user_pre_save, sender=User)
        user_logged_out.connect(receivers.user_logged_out)
        # The log-in and request throttles count in the shared cache; when that is
        # the database cache, its table is created after each migrate (no query
        # here: the receiver runs only when migrate emits the signal).
        post_migrate.connect(
            cache_tables_create, sender=self, dispatch_uid="cache_tables_create"
        )
