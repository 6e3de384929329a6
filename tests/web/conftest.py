"""Fixtures of the web pages' tests: a tiny real model, photos, prediction rows."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.test import override_settings

from ml.models import ModelVersion
from tests.factories import CategoryFactory, ProductFactory
from tests.web.factories import TRAINING_WORDS, jpeg_bytes

# What a ModelVersion row needs to serve the bundle trained once per session.
VERSION_FIELDS = (
    "name",
    "bundle_path",
    "bundle_sha256",
    "backbone",
    "label_codes",
    "fusion_weight",
    "metrics",
    "lineage",
    "warning",
)


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


def _training_categories() -> dict:
    return {
        code: CategoryFactory(code=code, name=name)
        for code, (name, _) in TRAINING_WORDS.items()
    }


@pytest.fixture
def training_categories(db):
    """The three categories the session's model knows, by code."""
    return _training_categories()


@pytest.fixture(scope="session")
def trained_version_fields(django_db_setup, django_db_blocker, tmp_path_factory):
    """Train a real text-only model once per session, through the services, in a
    transaction that is rolled back: the bundle stays on disk, and each test registers
    it again as a fresh active version (training takes seconds; tests must not)."""
    from ml.services.training_runs import training_run_create, training_run_execute

    artifacts = tmp_path_factory.mktemp("ml-artifacts")
    with (
        django_db_blocker.unblock(),
        override_settings(ML_ARTIFACTS_DIR=str(artifacts)),
        transaction.atomic(),
    ):
        categories = _training_categories()
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
def active_model(training_categories, trained_version_fields):
    """A real, active text-only model that knows ``training_categories``."""
    from ml.services.model_versions import model_version_activate

    version = ModelVersion.objects.create(
        status=ModelVersion.Status.READY, **trained_version_fields
    )
    return model_version_activate(version=version, reason="test fixture")
