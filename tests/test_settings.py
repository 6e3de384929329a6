"""Each settings module, loaded in a fresh process as a deployment would load it."""

import json
import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

BASE_DIR = Path(__file__).resolve().parents[1]
# Variables that would change what the settings modules read.
CONTROLLED = (
    "DJANGO_SETTINGS_MODULE",
    "DJANGO_SECRET_KEY",
    "DJANGO_DEBUG",
    "DJANGO_ALLOWED_HOSTS",
    "CELERY_BROKER_URL",
    "DATABASE_URL",
)


def run_python(code: str, settings_module: str, **env: str):
    clean = {k: v for k, v in os.environ.items() if k not in CONTROLLED}
    clean.update(env, DJANGO_SETTINGS_MODULE=settings_module)
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=BASE_DIR,
        env=clean,
        capture_output=True,
        text=True,
        timeout=60,
    )


def _dotenv_defines(name: str) -> bool:
    dotenv = BASE_DIR / ".env"
    return dotenv.is_file() and any(
        line.strip().startswith(f"{name}=") for line in dotenv.read_text().splitlines()
    )


def test_production_has_no_default_secret_key():
    if _dotenv_defines("DJANGO_SECRET_KEY"):
        pytest.skip(".env sets DJANGO_SECRET_KEY")
    # Given the production settings and no DJANGO_SECRET_KEY in the environment
    # When Django starts
    result = run_python("import django; django.setup()", "rakuten.settings.production")
    # Then it refuses to start
    assert result.returncode != 0
    assert result.stderr.strip().splitlines()[-1] == (
        "django.core.exceptions.ImproperlyConfigured: "
        "Set the DJANGO_SECRET_KEY environment variable"
    )


def test_production_refuses_debug():
    # Given the production settings with DEBUG switched on
    result = run_python(
        "import django; django.setup()",
        "rakuten.settings.production",
        DJANGO_SECRET_KEY=secrets.token_urlsafe(64),
        DJANGO_DEBUG="true",
    )
    # Then Django refuses to start
    assert result.returncode != 0
    assert result.stderr.strip().splitlines()[-1] == (
        "django.core.exceptions.ImproperlyConfigured: DEBUG must be off in production."
    )


def test_production_settings_are_hardened():
    code = (
        "import django, json; django.setup(); from django.conf import settings as s; "
        "print(json.dumps([s.DEBUG, s.PASSWORD_HASHERS[0], s.SESSION_COOKIE_SECURE, "
        "s.CSRF_COOKIE_SECURE, s.SECURE_SSL_REDIRECT, s.ALLOWED_HOSTS]))"
    )
    result = run_python(
        code,
        "rakuten.settings.production",
        DJANGO_SECRET_KEY=secrets.token_urlsafe(64),
        DJANGO_ALLOWED_HOSTS="example.com",
        DJANGO_DEBUG="false",
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == [
        False,
        "django.contrib.auth.hashers.Argon2PasswordHasher",
        True,
        True,
        True,
        ["example.com"],
    ]


def test_production_passes_the_deployment_checklist():
    # Given the production settings with a long random secret and a real host name
    result = subprocess.run(
        [
            sys.executable,
            "manage.py",
            "check",
            "--deploy",
            "--fail-level",
            "WARNING",
        ],
        cwd=BASE_DIR,
        env={
            **{k: v for k, v in os.environ.items() if k not in CONTROLLED},
            "DJANGO_SETTINGS_MODULE": "rakuten.settings.production",
            "DJANGO_SECRET_KEY": secrets.token_urlsafe(64),
            "DJANGO_ALLOWED_HOSTS": "example.com",
            "DJANGO_DEBUG": "false",
        },
        capture_output=True,
        text=True,
        timeout=120,
    )
    # Then `check --deploy` finds nothing, not even a warning
    assert result.returncode == 0, result.stderr
    assert result.stdout == "System check identified no issues (0 silenced).\n"


def test_test_settings_default_to_a_broker_and_database_files_of_their_own():
    if _dotenv_defines("CELERY_BROKER_URL") or _dotenv_defines("DATABASE_URL"):
        pytest.skip(".env sets CELERY_BROKER_URL or DATABASE_URL")
    # Given the test settings without CELERY_BROKER_URL nor DATABASE_URL
    code = (
        "import django, json; django.setup(); from django.conf import settings as s; "
        "d = s.DATABASES['default']; "
        "print(json.dumps([s.CELERY_BROKER_URL, d['ENGINE'], d['TEST']['NAME'], "
        "s.PASSWORD_HASHERS, s.DEBUG]))"
    )
    result = run_python(code, "rakuten.settings.test")
    # Then the broker and the test database are SQLite files under var/
    assert result.returncode == 0, result.stderr
    var = BASE_DIR / "var"
    assert json.loads(result.stdout) == [
        f"sqla+sqlite:///{var / 'test-celery-broker.sqlite3'}",
        "django.db.backends.sqlite3",
        str(var / "test-db.sqlite3"),
        ["django.contrib.auth.hashers.MD5PasswordHasher"],
        False,
    ]


def test_test_settings_use_the_broker_from_the_environment():
    code = (
        "import django; django.setup(); from django.conf import settings as s; "
        "print(s.CELERY_BROKER_URL)"
    )
    result = run_python(
        code, "rakuten.settings.test", CELERY_BROKER_URL="redis://broker:6379/3"
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == "redis://broker:6379/3\n"
