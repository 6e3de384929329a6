"""WSGI entry point (gunicorn rakuten.wsgi)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "rakuten.settings.production")

application = get_wsgi_application()
