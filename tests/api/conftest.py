"""Fixtures of the REST API tests: clients holding a JWT, and a tiny real model."""

import pytest
from django.core.cache import cache
from django.db import transaction
from django.test import override_settings
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import RefreshToken

from ml.models import ModelVersion
from tests.factories import CategoryFactory, ProductFactory

# Distinctive words per category, so a two-epoch text model separates them.
TRAINING_WORDS = {
    "9201": ("Livres", ["roman", "poche", "auteur", "chapitre", "edition"]),
    "9202": ("Jeux vidéo", ["console", "manette", "jeu", "playstation", "nintendo"]),
    "9203": ("Piscine", ["piscine", "filtre", "pompe", "chlore", "bassin"]),
}


@pytest.fixture(autouse=True)
def _clear_throttle_counts():
    """DRF's throttles count in the cache; each test starts from zero."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def anonymous_client():
    return APIClient()


@pytest.fixture
def api_as(db):
    """``api_as(user)`` -> an API client sending that user's access token."""

    def make(user) -> APIClient:
        client = APIClient()
        token = RefreshToken.for_user(user).access_token
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
        return client

    return make


@pytest.fixture(scope="session")
def trained_bundle(django_db_setup, django_db_blocker, tmp_path_factory):
    """Train a text-only model once per test session, through the real services,
    inside a transaction that is rolled back: the bundle stays on disk, the rows go.
    Returns what a ``ModelVersion`` needs to point at it."""
    from ml.services.training_runs import training_run_create, training_run_execute

    artifacts = tmp_path_factory.mktemp("ml-artifacts")
    with (
        django_db_blocker.unblock(),
        override_settings(ML_ARTIFACTS_DIR=str(artifacts)),
        transaction.atomic(),
    ):
        for code, (name, words) in TRAINING_WORDS.items():
            category = CategoryFactory(code=code, name=name)
            for i in range(8):
                ProductFactory(
                    title=f"{words[i % 5]} {words[(i + 1) % 5]} {words[(i + 2) % 5]}",
                    description=" ".join(words),
                    category=category,
                    seller=None,
                )
        run = training_run_create(
            parameters={"text_only": True, "epochs": 2}, enqueue=False
        )
        version = training_run_execute(run_id=run.pk).model_version
        bundle = {
            "bundle_path": version.bundle_path,
            "bundle_sha256": version.bundle_sha256,
            "label_codes": version.label_codes,
            "metrics": version.metrics,
        }
        transaction.set_rollback(True)
    return bundle


@pytest.fixture
def training_categories(db):
    return {
        code: CategoryFactory(code=code, name=name)
        for code, (name, _) in TRAINING_WORDS.items()
    }


@pytest.fixture
def active_model(trained_bundle, training_categories):
    """The session's trained model, registered and activated as a model version."""
    from ml.services.model_versions import model_version_activate

    version = ModelVersion.objects.create(
        name="text test model", status=ModelVersion.Status.READY, **trained_bundle
    )
    return model_version_activate(version=version, reason="test")
