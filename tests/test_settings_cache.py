"""The shared cache that throttles count in (issue 13): the database cache by default,
its table created by migrate on a fresh machine, Redis when CACHE_URL is set; either
way two processes see one count."""

import os
import socket
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

BASE_DIR = Path(__file__).resolve().parents[1]
CONTROLLED = (
    "DJANGO_SETTINGS_MODULE",
    "DATABASE_URL",
    "CACHE_URL",
    "CELERY_BROKER_URL",
)
SHOW = (
    "import django; django.setup(); from django.conf import settings; "
    "print(settings.CACHES['default']['BACKEND'])"
)


def run(args: list[str], **env: str) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if k not in CONTROLLED}
    clean.update({"DJANGO_SETTINGS_MODULE": "rakuten.settings.local", **env})
    return subprocess.run(
        [sys.executable, *args],
        cwd=BASE_DIR,
        env=clean,
        capture_output=True,
        text=True,
        timeout=240,
    )


def _count_once(key: str) -> str:
    """Code for a fresh process: count one hit on ``key`` and print the total."""
    return (
        "import django; django.setup(); from django.core.cache import cache; "
        f"cache.add({key!r}, 0, 60); print(cache.incr({key!r}))"
    )


def test_the_default_cache_is_the_database_and_migrate_makes_its_table(tmp_path):
    # Given a fresh machine: a new SQLite database, no CACHE_URL
    env = {"DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}"}
    assert run(["-c", SHOW], **env).stdout.strip() == (
        "django.core.cache.backends.db.DatabaseCache"
    )
    # When the database is migrated (as make run and the Dockerfile do)
    migrated = run(["manage.py", "migrate", "-v", "0"], **env)
    assert migrated.returncode == 0, migrated.stderr
    # Then the cache table exists, and two processes count in it together
    key = f"test-{uuid.uuid4().hex}"
    counts = [run(["-c", _count_once(key)], **env) for _ in range(2)]
    assert [c.stdout.strip() for c in counts] == ["1", "2"], counts[-1].stderr


def _redis_up() -> bool:
    try:
        socket.create_connection(("127.0.0.1", 6379), timeout=1).close()
    except OSError:
        return False
    return True


@pytest.mark.skipif(not _redis_up(), reason="no Redis at 127.0.0.1:6379")
def test_cache_url_selects_redis():
    env = {"CACHE_URL": "redis://127.0.0.1:6379/15"}
    assert run(["-c", SHOW], **env).stdout.strip() == (
        "django.core.cache.backends.redis.RedisCache"
    )
    key = f"test-{uuid.uuid4().hex}"
    counts = [run(["-c", _count_once(key)], **env) for _ in range(2)]
    assert [c.stdout.strip() for c in counts] == ["1", "2"], counts[-1].stderr
