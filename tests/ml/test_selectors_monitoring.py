"""``ml.selectors.model_metrics_window``: the numbers of the performance page and of
the metrics API, checked against sklearn and by hand."""

from datetime import timedelta

import pytest
from django.utils import timezone
from sklearn.metrics import accuracy_score, f1_score

from ml.selectors.monitoring import model_metrics_window, model_score_recent
from tests.factories import (
    CategoryFactory,
    ModelVersionFactory,
    PredictionFactory,
    ProductFactory,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def categories():
    return {
        code: CategoryFactory(code=code, name=name)
        for code, name in (("A1", "Alpha"), ("B2", "Bravo"), ("C3", "Charlie"))
    }


@pytest.fixture
def window(categories):
    """Five products confirmed in the last days, real A A B B C, predicted (latest
    prediction of the active version) A B B B A; plus rows that must not count."""
    version = ModelVersionFactory(status="active", active_marker=True, name="v-main")
    now = timezone.now()
    real = ["A1", "A1", "B2", "B2", "C3"]
    predicted = ["A1", "B2", "B2", "B2", "A1"]
    products = []
    for i, (r, p) in enumerate(zip(real, predicted, strict=True)):
        product = ProductFactory(
            title=f"product {i}",
            category=categories[r],
            confirmed_at=now - timedelta(days=i % 2, hours=1),
        )
        if i == 2:
            # An older, wrong prediction for the same product: only the latest counts.
            PredictionFactory(
                model_version=version,
                product=product,
                predicted_category=categories["C3"],
            )
        PredictionFactory(
            model_version=version, product=product, predicted_category=categories[p]
        )
        products.append(product)
    # Outside the window, by another version, and not linked to a product: ignored.
    old = ProductFactory(category=categories["A1"], confirmed_at=now - timedelta(40))
    PredictionFactory(
        model_version=version, product=old, predicted_category=categories["B2"]
    )
    PredictionFactory(
        product=products[0],
        predicted_category=categories["C3"],
        model_version=ModelVersionFactory(name="v-other"),
    )
    PredictionFactory(model_version=version, predicted_category=categories["A1"])
    return {"version": version, "real": real, "predicted": predicted}


def test_metrics_match_sklearn_on_the_latest_prediction_per_product(window):
    # When the metrics of the last 7 days are read
    metrics = model_metrics_window(days=7)
    # Then they are sklearn's, on the five products of the window
    real, predicted = window["real"], window["predicted"]
    assert metrics["count"] == 5
    assert metrics["accuracy"] == pytest.approx(accuracy_score(real, predicted))
    assert metrics["weighted_f1"] == pytest.approx(
        f1_score(real, predicted, average="weighted", zero_division=0)
    )
    # and, by hand: A F1 0.5 (2), B F1 0.8 (2), C F1 0 (1) -> (1 + 1.6) / 5
    assert metrics["accuracy"] == pytest.approx(0.6)
    assert metrics["weighted_f1"] == pytest.approx(0.52)
    assert metrics["top1_kept_rate"] == pytest.approx(0.6)
    assert metrics["top_k_hit_rate"] == pytest.approx(0.6)
    assert metrics["per_category"] == [
        {"code": "A1", "name": "Alpha", "f1": pytest.approx(0.5), "support": 2},
        {"code": "B2", "name": "Bravo", "f1": pytest.approx(0.8), "support": 2},
        {"code": "C3", "name": "Charlie", "f1": 0.0, "support": 1},
    ]
    assert metrics["confusion"] == {
        "labels": ["A1", "B2", "C3"],
        "matrix": [[1, 1, 0], [0, 2, 0], [1, 0, 0]],
    }


def test_metrics_describe_the_window_and_the_version(window):
    # When the metrics of the last 7 days are read
    metrics = model_metrics_window(days=7)
    # Then they say which window and which version
    assert metrics["window_days"] == 7
    assert metrics["model_version"] == window["version"].summary()
    # and list the latest rows, newest prediction first
    rows = metrics["real_vs_predicted"]
    assert [(r["title"], r["real"], r["predicted"], r["correct"]) for r in rows] == [
        ("product 4", "C3", "A1", False),
        ("product 3", "B2", "B2", True),
        ("product 2", "B2", "B2", True),
        ("product 1", "A1", "B2", False),
        ("product 0", "A1", "A1", True),
    ]
    assert rows[0]["real_name"] == "Charlie"
    assert rows[0]["predicted_name"] == "Alpha"
    assert rows[0]["probability"] == 0.8


def test_trend_has_one_row_per_day_of_the_window(window):
    # When the metrics of the last 7 days are read
    trend = model_metrics_window(days=7)["trend"]
    # Then there is a row per day, oldest first, with the products of that day
    today = timezone.localdate()
    assert [row["date"] for row in trend] == [
        (today - timedelta(days=7 - i)).isoformat() for i in range(8)
    ]
    by_date = {row["date"]: row for row in trend}
    # products 0, 2 and 4 an hour ago (A->A, B->B, C->A); 1 and 3 a day earlier
    # (A->B, B->B). Near midnight an hour ago is yesterday: compute the split.
    now = timezone.now()
    days = {
        timezone.localdate(now - timedelta(hours=1)): ["A1A1", "B2B2", "C3A1"],
    }
    days.setdefault(timezone.localdate(now - timedelta(days=1, hours=1)), []).extend(
        ["A1B2", "B2B2"]
    )
    for day, pairs in days.items():
        row = by_date[day.isoformat()]
        real = [pair[:2] for pair in pairs]
        predicted = [pair[2:] for pair in pairs]
        assert row["count"] == len(pairs)
        assert row["accuracy"] == pytest.approx(accuracy_score(real, predicted))
        assert row["weighted_f1"] == pytest.approx(
            f1_score(real, predicted, average="weighted", zero_division=0)
        )
    empty = [row for row in trend if row["date"] not in {d.isoformat() for d in days}]
    assert {(r["count"], r["accuracy"], r["weighted_f1"]) for r in empty} == {
        (0, None, None)
    }


def test_metrics_of_another_version_are_its_own(window, categories):
    # Given a retired version that predicted one product of the window
    other = ModelVersionFactory(name="v-retired", status="retired")
    product = ProductFactory(category=categories["A1"], confirmed_at=timezone.now())
    PredictionFactory(
        model_version=other, product=product, predicted_category=categories["A1"]
    )
    # When its metrics are read
    metrics = model_metrics_window(days=7, model_version=other)
    # Then only its prediction counts
    assert (metrics["count"], metrics["accuracy"], metrics["weighted_f1"]) == (
        1,
        1.0,
        1.0,
    )


def test_metrics_without_an_active_model_are_empty():
    # When there is no model at all
    metrics = model_metrics_window(days=30)
    # Then the shape is the same, with nothing in it
    assert metrics["model_version"] is None
    assert (metrics["count"], metrics["accuracy"], metrics["weighted_f1"]) == (
        0,
        None,
        None,
    )
    assert metrics["per_category"] == []
    assert metrics["confusion"] == {"labels": [], "matrix": []}
    assert metrics["real_vs_predicted"] == []
    assert len(metrics["trend"]) == 31


def test_metrics_are_json_serialisable(window):
    import json

    # When the metrics are dumped as JSON and read back
    metrics = model_metrics_window(days=7)
    # Then nothing is lost
    assert json.loads(json.dumps(metrics))["count"] == 5


def test_a_window_under_one_day_is_refused():
    from rakuten.exceptions import ApplicationError

    with pytest.raises(ApplicationError):
        model_metrics_window(days=0)


def test_sellers_summary_counts_the_last_listings(window):
    # When the sellers' summary of the active model is read
    score = model_score_recent(last=3)
    # Then it counts the three latest confirmed products: 0 and 2 (right), 4 (wrong)
    assert score == {"right": 2, "total": 3}
