"""Fixtures shared by the whole suite: users and their clients (session and JWT), the
tiny real model trained once per session, photos, and the ML loop's helpers. The
pure-ML tests' own fixtures are in ``tests/ml/core/conftest.py``."""

import os
from urllib.parse import quote

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import pytest
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.test import Client, override_settings

from accounts.models import User
from tests.factories import (
    DEFAULT_PASSWORD,
    TRAINING_WORDS,
    ProductFactory,
    UserFactory,
    product_text,
    training_categories_create,
)
from tests.images import jpeg_bytes

# The browser tests' fixtures (browser, screenshots).
pytest_plugins = ["tests.browser"]

# What a ModelVersion row needs to serve the bundle trained once per session.
VERSION_FIELDS = (
    "bundle_path",
    "bundle_sha256",
    "backbone",
    "label_codes",
    "fusion_weight",
    "metrics",
    "lineage",
    "warning",
)


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    """Every test stores its files in its own folder, never in var/."""
    root = tmp_path / "media"
    root.mkdir()
    settings.MEDIA_ROOT = str(root)
    return root


@pytest.fixture(autouse=True)
def _clear_throttle_counts():
    """DRF's throttles (and the login throttle) count in the cache; each test starts
    from zero."""
    cache.clear()
    yield
    cache.clear()


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
def anonymous_client():
    from rest_framework.test import APIClient

    return APIClient()


@pytest.fixture
def api_as(db):
    """``api_as(user)`` -> an API client sending that user's access token."""
    from rest_framework.test import APIClient
    from rest_framework_simplejwt.tokens import RefreshToken

    def make(user: User):
        client = APIClient()
        token = RefreshToken.for_user(user).access_token
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
        return client

    return make


# --- Photos ---------------------------------------------------------------------------


@pytest.fixture
def photo():
    """A small valid JPEG upload."""
    return SimpleUploadedFile("photo.jpg", jpeg_bytes(), content_type="image/jpeg")


@pytest.fixture
def bad_photo():
    """A file named like a JPEG that is not an image."""
    return SimpleUploadedFile(
        "photo.jpg", b"this is not an image", content_type="image/jpeg"
    )


# --- The tiny real model --------------------------------------------------------------


@pytest.fixture(scope="session")
def trained_bundle(django_db_setup, django_db_blocker, tmp_path_factory):
    """Train a real text-only model on ``TRAINING_WORDS`` once per test session,
    through the services, in a transaction that is rolled back: the bundle stays on
    disk, the rows go. Returns what a ``ModelVersion`` row needs to serve it (all but
    its name): each test registers it again (training takes seconds; tests must not)."""
    from ml.services.training_runs import training_run_create, training_run_execute

    artifacts = tmp_path_factory.mktemp("ml-artifacts")
    with (
        django_db_blocker.unblock(),
        override_settings(ML_ARTIFACTS_DIR=str(artifacts)),
        transaction.atomic(),
    ):
        categories = training_categories_create()
        for code, (_, words) in TRAINING_WORDS.items():
            for i in range(8):
                ProductFactory(
                    title=" ".join(words[(i + j) % 5] for j in range(3)),
                    description=" ".join(words),
                    category=categories[code],
                    seller=None,
                )
        run = training_run_create(
            parameters={"text_only": True, "epochs": 2, "activate": False},
            enqueue=False,
        )
        version = training_run_execute(run_id=run.pk).model_version
        fields = {name: getattr(version, name) for name in VERSION_FIELDS}
        transaction.set_rollback(True)
    return fields


@pytest.fixture
def training_categories(db):
    """The three categories the session's model knows, by code."""
    return training_categories_create()


@pytest.fixture
def active_model(trained_bundle, training_categories):
    """The session's trained model, registered as "text test model" and activated: a
    real, active text-only model that knows ``training_categories``."""
    from ml.models import ModelVersion
    from ml.services.model_versions import model_version_activate

    version = ModelVersion.objects.create(
        name="text test model", status=ModelVersion.Status.READY, **trained_bundle
    )
    return model_version_activate(version=version, reason="test fixture")


# --- The ML loop ----------------------------------------------------------------------


@pytest.fixture
def artifacts(settings, tmp_path):
    """This test's ``ML_ARTIFACTS_DIR``."""
    settings.ML_ARTIFACTS_DIR = str(tmp_path / "ml")
    return tmp_path / "ml"


@pytest.fixture
def sell():
    """``sell(seller, code_of_words, confirmed_category, rng)``: a seller asks the
    active model for a suggestion and lists the product under ``confirmed_category``
    (the real one), as the Sell page does."""
    from catalog.services.listings import listing_create
    from ml.services.predictions import prediction_create

    def make(seller, words_code, category, rng):
        title, description = product_text(words_code, rng)
        prediction = prediction_create(
            title=title, description=description, user=seller
        )
        return listing_create(
            seller=seller,
            title=title,
            description=description,
            category=category,
            prediction_id=prediction.pk,
        )

    return make


# --- Databases ------------------------------------------------------------------------


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
