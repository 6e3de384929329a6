"""Fixtures shared by the whole suite."""

import os
from urllib.parse import quote

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import pytest
from django.test import Client

from accounts.models import User
from tests.factories import DEFAULT_PASSWORD, UserFactory


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    """Every test stores its files in its own folder, never in var/."""
    root = tmp_path / "media"
    root.mkdir()
    settings.MEDIA_ROOT = str(root)
    return root


@pytest.fixture
def password():
    return DEFAULT_PASSWORD


@pytest.fixture
def seller(db):
    return UserFactory(username="seller", role=User.Role.SELLER)


@pytest.fixture
def other_seller(db):
    return UserFactory(username="other-seller", role=User.Role.SELLER)


@pytest.fixture
def staff_user(db):
    return UserFactory(username="staff", role=User.Role.STAFF)


@pytest.fixture
def integrator(db):
    return UserFactory(username="integrator", role=User.Role.INTEGRATOR)


@pytest.fixture
def client_logged_in_as(db):
    """``client_logged_in_as(user)`` -> a test client with that user's session."""

    def make(user: User) -> Client:
        client = Client()
        client.force_login(user)
        return client

    return make


@pytest.fixture
def test_database_url(db):
    """A ``DATABASE_URL`` for the test database, for a child process (the worker, a
    ``manage.py`` run) that must see the same tables."""
    from django.db import connection

    s = connection.settings_dict
    if s["ENGINE"] == "django.db.backends.sqlite3":
        return f"sqlite:///{s['NAME']}"
    if s["ENGINE"] == "django.db.backends.mysql":
        user, pw = (
            quote(s.get("USER") or "", safe=""),
            quote(s.get("PASSWORD") or "", safe=""),
        )
        host, port = s.get("HOST") or "127.0.0.1", s.get("PORT") or 3306
        return f"mysql://{user}:{pw}@{host}:{port}/{s['NAME']}"
    pytest.skip(f"no DATABASE_URL form for {s['ENGINE']}")


@pytest.fixture
def restore_migration_data(django_db_blocker):
    """Set up before ``transactional_db``, so torn down after its flush: put back the
    rows the migrations created (the 27 seeded categories, the beat schedules, ...)
    for the tests that follow."""
    yield
    from django.db import connection

    contents = getattr(connection, "_test_serialized_contents", None)
    if contents:
        with django_db_blocker.unblock():
            connection.creation.deserialize_db_from_string(contents)
