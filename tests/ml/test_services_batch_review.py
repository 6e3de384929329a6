"""A re-categorisation with a threshold routes its unsure products to the review
queue (the engine's product scopes and ``ml.services.review_queue`` together)."""

import random

import pytest

from catalog.models import Product
from ml.models import BatchResult, ReviewItem
from ml.services.batch import batch_chunk_run
from tests.factories import ProductFactory, product_text

pytestmark = pytest.mark.django_db


def test_results_below_the_threshold_wait_for_a_person_once(
    active_model,
    catalogue,
    sent,
    create,
):
    # three products whose words mix two categories: the model is unsure of them
    rng = random.Random(5)
    for _ in range(3):
        books, _ = product_text("9101", rng)
        games, _ = product_text("9102", rng)
        ProductFactory(
            title=" ".join(books.split()[:2] + games.split()[:2]),
            description="",
            category=None,
            seller=None,
            source=Product.Source.IMPORT,
        )
    job = create(scope="all", chunk_size=100, apply_threshold=0.999)
    batch_chunk_run(chunk_id=sent[0])

    results = BatchResult.objects.filter(job=job)
    unsure = set(
        results.filter(probability__lt=0.999).values_list("product_id", flat=True)
    )
    assert unsure  # the session model is not that sure of every product
    waiting = ReviewItem.objects.filter(status=ReviewItem.Status.WAITING)
    assert set(waiting.values_list("product_id", flat=True)) == unsure
    assert waiting.count() == len(unsure)  # one item per product
    assert set(waiting.values_list("reason", flat=True)) == {"low_confidence"}

    # the same products again: still one item each
    again = create(scope="all", chunk_size=100, apply_threshold=0.999)
    batch_chunk_run(chunk_id=sent[1])
    assert BatchResult.objects.filter(job=again).count() == results.count()
    assert waiting.count() == len(unsure)


def test_without_a_threshold_nothing_is_queued(
    active_model,
    catalogue,
    sent,
    create,
):
    create(scope="all", chunk_size=100)
    batch_chunk_run(chunk_id=sent[0])

    assert ReviewItem.objects.count() == 0
