"""The shared cache (``CACHES["default"]``): Redis when ``CACHE_URL`` is set, else a
table in the database, so that throttles count across every web process.

The database cache needs its table: :func:`cache_tables_create` runs Django's
``createcachetable`` (idempotent, a no-op for other backends) after every ``migrate``,
so ``make run``, the Dockerfile and a bare ``manage.py migrate`` all have it."""

from django.core.management import call_command


def cache_tables_create(*, using: str = "default", verbosity: int = 0, **kwargs):
    """``post_migrate`` receiver: create the database cache's table if missing."""
    call_command("createcachetable", database=using, verbosity=verbosity)
