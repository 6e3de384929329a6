"""Settings for the test suite: the same services as configured by the environment
(SQLite by default; MariaDB and Redis in CI), with fast hashing and isolated folders."""

import os

from .base import *  # noqa: F403
from .base import DATABASES, STATIC_ROOT, VAR_DIR, env

SECRET_KEY = env(
    "DJANGO_SECRET_KEY", default="test-key-not-secret-but-long-enough-for-hs256-jwt"
)
DEBUG = False
# Argon2 is deliberately slow; tests hash many passwords.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
MEDIA_ROOT = env.path("DJANGO_MEDIA_ROOT", default=str(VAR_DIR / "test-media"))
ML_ARTIFACTS_DIR = env.path("ML_ARTIFACTS_DIR", default=str(VAR_DIR / "test-ml"))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # A file, not memory, so that a real worker process sees the test database.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / "test-db.sqlite3")}
# A broker file of its own, so a test run never consumes the developer's queue.
CELERY_BROKER_URL = env(
    "CELERY_BROKER_URL",
    default=f"sqla+sqlite:///{VAR_DIR / 'test-celery-broker.sqlite3'}",
)

# Tests run in one process and clear the cache between tests (tests/conftest.py): the
# memory cache, unless CACHE_URL points at a Redis database of the test run's own.
if not env("CACHE_URL", default=""):
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

VAR_DIR.mkdir(exist_ok=True)
# WhiteNoise warns on every start when STATIC_ROOT is missing (no collectstatic here).
os.makedirs(str(STATIC_ROOT), exist_ok=True)

WHITENOISE_USE_FINDERS = True
