from django.apps import AppConfig
from django.db.models.signals import post_migrate


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Accounts"

    def ready(self) -> None:
        # The log-in and request throttles count in the shared cache; when that is
        # the database cache, its table is created after each migrate (no query
        # here: the receiver runs only when migrate emits the signal).
        from rakuten.cache import cache_tables_create

        post_migrate.connect(
            cache_tables_create, sender=self, dispatch_uid="cache_tables_create"
        )
