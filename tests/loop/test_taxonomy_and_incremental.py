"""Incremental training samples (new products plus a replay of older ones) and
taxonomy changes (``category_merge``)."""

from datetime import timedelta

import pytest
from django.utils import timezone

from catalog.models import Category, Product
from ml.models import AuditEvent, Prediction
from ml.services import category_merge, training_samples_confirmed
from rakuten.exceptions import ApplicationError
from tests.factories import CategoryFactory, ProductFactory
from tests.web.factories import ModelVersionFactory, PredictionFactory

pytestmark = pytest.mark.django_db


def test_incremental_samples_are_the_new_products_and_a_replay_of_older_ones():
    # Given 30 older products in the active model's labels (A, B), 5 in a label it
    # does not know (D), then 4 products confirmed since the model was made
    a, b, c, d = (CategoryFactory(code=code) for code in ("A", "B", "C", "D"))
    past = timezone.now() - timedelta(days=3)
    for i in range(30):
        ProductFactory(title=f"old {i}", category=(a, b)[i % 2], confirmed_at=past)
    for i in range(5):
        ProductFactory(title=f"old d {i}", category=d, confirmed_at=past)
    ModelVersionFactory(status="active", active_marker=True, label_codes=["A", "B"])
    later = timezone.now() + timedelta(seconds=1)
    for i, category in enumerate((a, b, c, c)):
        ProductFactory(title=f"new {i}", category=category, confirmed_at=later)
    # When the samples of an incremental run are read (twice, same seed)
    samples, _ = training_samples_confirmed(kind="incremental", seed=7)
    again, _ = training_samples_confirmed(kind="incremental", seed=7)
    full, _ = training_samples_confirmed(kind="full")
    # Then they are the 4 new products plus 12 (3x) older ones of A, B or C, never D
    titles = [s.title for s in samples]
    assert len(samples) == 16
    assert sorted(t for t in titles if t.startswith("new")) == [
        "new 0",
        "new 1",
        "new 2",
        "new 3",
    ]
    assert all(s.label in {"A", "B", "C"} for s in samples)
    assert titles == [s.title for s in again]  # seeded
    # and a full run reads every confirmed product
    assert len(full) == 39


def test_merging_a_category_moves_its_products_and_keeps_predictions():
    # Given two categories, products of the source and a prediction naming it
    source = CategoryFactory(code="S1", name="Old")
    target = CategoryFactory(code="T1", name="New")
    products = [ProductFactory(category=source) for _ in range(3)]
    other = ProductFactory(category=target)
    prediction = PredictionFactory(product=products[0], predicted_category=source)
    # When the source is merged into the target
    moved = category_merge(source=source, target=target)
    # Then the products are confirmed as the target, the source is retired, and the
    # prediction still says what the model predicted, with its version
    assert moved == 3
    assert set(
        Product.objects.filter(pk__in=[p.pk for p in products]).values_list(
            "category__code", flat=True
        )
    ) == {"T1"}
    assert Product.objects.get(pk=other.pk).category == target
    assert Category.objects.get(pk=source.pk).active is False
    prediction = Prediction.objects.get(pk=prediction.pk)
    assert (prediction.predicted_category, prediction.model_version_id) == (
        source,
        prediction.model_version_id,
    )
    assert AuditEvent.objects.get(verb="category.merged").data == {
        "target": "T1",
        "products": 3,
    }
    # And the next training run sees only the active label set
    samples, _ = training_samples_confirmed()
    assert {s.label for s in samples} == {"T1"}


def test_merging_into_itself_or_a_retired_category_is_refused():
    source = CategoryFactory(code="S1")
    retired = CategoryFactory(code="R1", active=False)
    ProductFactory(category=source)
    with pytest.raises(ApplicationError):
        category_merge(source=source, target=source)
    with pytest.raises(ApplicationError):
        category_merge(source=source, target=retired)
    assert Product.objects.get().category == source
    assert Category.objects.get(pk=source.pk).active is True
    assert AuditEvent.objects.count() == 0
