"""Anomaly weighting in the incremental retraining's samples."""

from datetime import timedelta

import pytest
from django.utils import timezone

from ml.services.training_data import training_samples_confirmed
from tests.factories import CategoryFactory, ModelVersionFactory, ProductFactory
from tests.ml.anomaly_data import listing_with_prediction

pytestmark = pytest.mark.django_db


@pytest.fixture
def incremental(seller):
    """Older products of A and B, an active model, then two new listings: one kept
    the suggestion, one overrode it."""
    a, b = CategoryFactory(code="A"), CategoryFactory(code="B")
    past = timezone.now() - timedelta(days=3)
    for i in range(10):
        ProductFactory(title=f"old {i}", category=(a, b)[i % 2], confirmed_at=past)
    version = ModelVersionFactory(
        status="active", active_marker=True, label_codes=["A", "B"]
    )
    later = timezone.now() + timedelta(seconds=1)
    listing_with_prediction(
        seller=seller,
        chosen=a,
        predicted=a,
        title="kept",
        confirmed_at=later,
        model_version=version,
    )
    listing_with_prediction(
        seller=seller,
        chosen=a,
        predicted=b,
        title="override",
        confirmed_at=later,
        model_version=version,
    )


def _weights(kind: str = "incremental") -> dict[str, float]:
    return {s.title: s.weight for s in training_samples_confirmed(kind=kind).samples}


def test_an_anomaly_sample_gets_the_setting_s_weight(incremental, settings):
    settings.ML_ANOMALY_WEIGHT = 3.0
    weights = _weights()
    assert weights["override"] == 3.0
    assert weights["kept"] == 1.0
    assert {w for t, w in weights.items() if t.startswith("old")} == {1.0}
    # a full training ignores the weighting
    assert set(_weights("full").values()) == {1.0}


def test_by_default_every_weight_is_one(incremental):
    assert set(_weights().values()) == {1.0}
