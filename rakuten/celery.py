"""The Celery application. Configuration comes from Django settings (``CELERY_*``).

Falls back to the local settings, like manage.py and rakuten.wsgi; a deployment sets
DJANGO_SETTINGS_MODULE explicitly."""

import os

from celery import Celery
from celery.signals import worker_ready

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "rakuten.settings.local")

app = Celery("rakuten")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@worker_ready.connect
def _worker_metrics_serve(**kwargs) -> None:
    """The worker's metrics port (METRICS_WORKER_PORT; off by default)."""
    from rakuten.metrics_process import worker_metrics_serve

    worker_metrics_serve()
