"""Incremental training samples (new products plus a replay of older ones) and
taxonomy changes (``category_merge``)."""

from datetime import timedelta

import pytest
from django.utils import timezone

from audit.models import AuditEvent
from catalog.models import Category, Product
from catalog.services.taxonomy import category_merge
from ml.models import Prediction
from ml.services.training_data import training_samples_confirmed
from rakuten.exceptions import ApplicationError
from tests.factories import (
    CategoryFactory,
    ModelVersionFactory,
    PredictionFactory,
    ProductFactory,
)

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
    data = training_samples_confirmed(kind="incremental", seed=7)
    samples = data.samples
    again = training_samples_confirmed(kind="incremental", seed=7).samples
    full = training_samples_confirmed(kind="full").samples
    # Then they are the 4 new products plus 12 (3x) older ones of A, B or C, never D,
    # topped up to at least 5 of each label that has older products
    titles = [s.title for s in samples]
    old_labels = [s.label for s in samples if s.title.startswith("old")]
    assert len(old_labels) >= 12
    assert old_labels.count("A") >= 5 and old_labels.count("B") >= 5
    assert len(samples) == 4 + len(old_labels)
    assert sorted(t for t in titles if t.startswith("new")) == [
        "new 0",
        "new 1",
        "new 2",
        "new 3",
    ]
    assert all(s.label in {"A", "B", "C"} for s in samples)
    assert titles == [s.title for s in again]  # seeded
    # and the run fine-tunes the active model towards the labels A, B and C
    assert (data.labels, data.n_new) == (["A", "B", "C"], 4)
    assert data.base is not None and data.base.status == "active"
    # while a full run reads every confirmed product
    assert len(full) == 39
    assert training_samples_confirmed(kind="full").base is None


def test_the_replay_keeps_a_few_products_of_every_label():
    # Given 40 older products of A and 6 of a small category B, then 2 new ones
    a, b = CategoryFactory(code="A"), CategoryFactory(code="B")
    past = timezone.now() - timedelta(days=3)
    for i in range(40):
        ProductFactory(title=f"old a {i}", category=a, confirmed_at=past)
    for i in range(6):
        ProductFactory(title=f"old b {i}", category=b, confirmed_at=past)
    ModelVersionFactory(status="active", active_marker=True, label_codes=["A", "B"])
    later = timezone.now() + timedelta(seconds=1)
    for i in range(2):
        ProductFactory(title=f"new {i}", category=a, confirmed_at=later)
    # When an incremental run reads its samples (6 replayed at random would rarely
    # hold 5 of B)
    samples = training_samples_confirmed(kind="incremental", seed=1).samples
    # Then B is still represented by 5 products
    assert sum(s.label == "B" for s in samples) == 5


def test_a_retired_category_leaves_the_incremental_label_set():
    a, b, c = (CategoryFactory(code=code) for code in ("A", "B", "C"))
    past = timezone.now() - timedelta(days=3)
    for i in range(6):
        ProductFactory(title=f"old {i}", category=(a, b, c)[i % 3], confirmed_at=past)
    ModelVersionFactory(
        status="active", active_marker=True, label_codes=["A", "B", "C"]
    )
    ProductFactory(title="new", category=a, confirmed_at=timezone.now())
    category_merge(source=c, target=b)

    data = training_samples_confirmed(kind="incremental")

    assert data.labels == ["A", "B"]
    assert {s.label for s in data.samples} <= {"A", "B"}


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
    samples = training_samples_confirmed().samples
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
