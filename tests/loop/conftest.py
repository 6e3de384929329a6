"""Fixtures of the self-improving loop's tests: the web tests' tiny real model (trained
once per session) and helpers to list products with its suggestions."""

import random
from datetime import timedelta

import pytest
from django.utils import timezone

from catalog.services.listings import listing_create
from ml.services.predictions import prediction_create
from tests.factories import ProductFactory
from tests.web.conftest import (  # noqa: F401  (fixtures)
    active_model,
    trained_version_fields,
    training_categories,
)
from tests.web.factories import TRAINING_WORDS


def product_text(code: str, rng: random.Random) -> tuple[str, str]:
    """A title and description written with ``code``'s distinctive words."""
    words = TRAINING_WORDS[code][1]
    return " ".join(rng.sample(words, 3)), " ".join(rng.sample(words, 4))


@pytest.fixture
def sell():
    """``sell(seller, code_of_words, confirmed_category, rng)``: a seller asks the
    active model for a suggestion and lists the product under ``confirmed_category``
    (the real one), as the Sell page does."""

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


@pytest.fixture
def artifacts(settings, tmp_path):
    settings.ML_ARTIFACTS_DIR = str(tmp_path / "ml")
    return tmp_path / "ml"


def confirmed_catalogue(categories, *, per_category: int, seed: int) -> None:
    """``per_category`` imported products per category, confirmed yesterday."""
    rng = random.Random(seed)
    for code, category in sorted(categories.items()):
        for _ in range(per_category):
            title, description = product_text(code, rng)
            ProductFactory(
                title=title,
                description=description,
                category=category,
                seller=None,
                confirmed_at=timezone.now() - timedelta(days=1),
            )
