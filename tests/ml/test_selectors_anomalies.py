"""Anomalies (the seller confirmed another category than the first suggestion) as
queries: the annotated linked predictions, the list, the rates and the pairs."""

from datetime import timedelta

import pytest
from django.utils import timezone

from ml.selectors.anomalies import (
    anomaly_list,
    anomaly_pairs,
    anomaly_rates_by_category,
    prediction_linked_list,
)
from tests.factories import CategoryFactory, PredictionFactory, ProductFactory
from tests.ml.anomaly_data import listing_with_prediction

pytestmark = pytest.mark.django_db


@pytest.fixture
def market(seller):
    """Books: 4 listings, 1 predicted as games. Games: 2 listings, both predicted as
    books. Pool: 1 listing, kept. Plus an old anomaly (60 days) and an unlinked
    prediction."""
    books = CategoryFactory(code="books", name="Books")
    games = CategoryFactory(code="games", name="Games")
    pool = CategoryFactory(code="pool", name="Pool")
    now = timezone.now()
    made = {}
    for i in range(3):
        made[f"book {i}"] = listing_with_prediction(
            seller=seller, chosen=books, predicted=books, title=f"book {i}"
        )
    made["book as game"] = listing_with_prediction(
        seller=seller, chosen=books, predicted=games, title="book as game"
    )
    for i in range(2):
        made[f"game {i}"] = listing_with_prediction(
            seller=seller,
            chosen=games,
            predicted=books,
            title=f"game {i}",
            confirmed_at=now - timedelta(hours=2 + i),
        )
    made["pool"] = listing_with_prediction(
        seller=seller, chosen=pool, predicted=pool, title="pool"
    )
    made["old"] = listing_with_prediction(
        seller=seller,
        chosen=pool,
        predicted=games,
        title="old",
        confirmed_at=now - timedelta(days=60),
    )
    PredictionFactory(predicted_category=games)  # never saved as a listing
    return {"books": books, "games": games, "pool": pool, **made}


def test_linked_predictions_are_annotated_is_anomaly(market):
    rows = dict(
        prediction_linked_list(days=30).values_list("product__title", "is_anomaly")
    )
    assert rows == {
        "book 0": False,
        "book 1": False,
        "book 2": False,
        "book as game": True,
        "game 0": True,
        "game 1": True,
        "pool": False,
    }


def test_the_latest_linked_prediction_counts(market, seller):
    # Given a second, later prediction linked to "book as game" that was right
    product = market["book as game"]
    PredictionFactory(product=product, predicted_category=market["books"])
    # Then the listing is no longer an anomaly
    assert product.pk not in set(
        anomaly_list(days=30).values_list("product_id", flat=True)
    )


def test_anomaly_list_is_the_window_s_overrides_latest_first(market):
    titles = [p.product.title for p in anomaly_list(days=30)]
    assert titles == ["book as game", "game 0", "game 1"]
    assert [p.product.title for p in anomaly_list(days=90)][-1] == "old"
    assert [p.product.title for p in anomaly_list(days=30, category="games")] == [
        "game 0",
        "game 1",
    ]


def test_override_rates_per_category(market):
    assert anomaly_rates_by_category(days=30) == [
        {
            "code": "games",
            "name": "Games",
            "listings": 2,
            "overrides": 2,
            "override_rate": 1.0,
        },
        {
            "code": "books",
            "name": "Books",
            "listings": 4,
            "overrides": 1,
            "override_rate": 0.25,
        },
        {
            "code": "pool",
            "name": "Pool",
            "listings": 1,
            "overrides": 0,
            "override_rate": 0.0,
        },
    ]


def test_most_frequent_pairs_with_examples(market):
    pairs = anomaly_pairs(days=30, limit=5, examples=1)
    assert pairs == [
        {
            "predicted": {"code": "books", "name": "Books"},
            "chosen": {"code": "games", "name": "Games"},
            "count": 2,
            "examples": [{"product_id": market["game 0"].pk, "title": "game 0"}],
        },
        {
            "predicted": {"code": "games", "name": "Games"},
            "chosen": {"code": "books", "name": "Books"},
            "count": 1,
            "examples": [
                {"product_id": market["book as game"].pk, "title": "book as game"}
            ],
        },
    ]
    assert len(anomaly_pairs(days=30, limit=1)) == 1


def test_an_unconfirmed_product_is_not_counted(seller):
    books = CategoryFactory(code="b")
    product = ProductFactory(seller=seller, category=None, confirmed_at=None)
    PredictionFactory(product=product, predicted_category=books)
    assert anomaly_rates_by_category(days=30) == []
    assert not anomaly_list(days=30).exists()
