"""Fixtures of the batch engine's tests: the chunks it sends, a committed job
creation and a small catalogue in the session model's words."""

import random

import pytest

from catalog.models import Product
from ml.services.batch import batch_job_create
from tests.factories import ProductFactory, product_text


@pytest.fixture
def sent(monkeypatch):
    """The chunk ids sent to the batch queue (nothing runs)."""
    from ml.tasks import batch_chunk_run_task

    ids = []
    monkeypatch.setattr(batch_chunk_run_task, "delay", ids.append)
    return ids


@pytest.fixture
def create(django_capture_on_commit_callbacks):
    """``batch_job_create`` in a transaction that commits (chunks are sent)."""

    def call(**kwargs):
        with django_capture_on_commit_callbacks(execute=True):
            return batch_job_create(**kwargs)

    return call


@pytest.fixture
def catalogue(training_categories):
    """10 products per category (30), with the session model's words; 5 of them in
    the unlabelled pool."""
    rng = random.Random(3)
    products = []
    for code, category in sorted(training_categories.items()):
        for i in range(10):
            title, description = product_text(code, rng)
            products.append(
                ProductFactory(
                    title=title,
                    description=description,
                    category=None if i < 2 and code != "9101" else category,
                    seller=None,
                    source=Product.Source.IMPORT,
                )
            )
    return products
