"""WSGI entry point (gunicorn rakuten.wsgi).

Like manage.py and rakuten.celery it falls back to the local settings; a deployment sets
DJANGO_SETTINGS_MODULE=rakuten.settings.production explicitly (the Dockerfile does)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "rakuten.settings.local")

application = get_wsgi_application()
