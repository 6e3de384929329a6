"""The live metrics compare each confirmed label with the model's prediction for the
text that was saved: a prediction the seller saw before editing the title or the
description is left out. The figures are exactly scikit-learn's on the stored
labels and predictions."""

import pytest
from sklearn.metrics import accuracy_score, f1_score

from catalog.models import Product
from catalog.services.listings import listing_create
from ml.models import Prediction
from ml.selectors.monitoring import model_metrics_window, model_score_recent
from ml.services.predictions import prediction_create

pytestmark = pytest.mark.django_db

# (title typed when the seller chose, title saved, code of the category chosen)
LISTINGS = [
    ("roman poche auteur", "roman poche auteur", "9101"),
    ("chapitre edition roman", "chapitre edition roman", "9102"),
    ("console manette jeu", "console manette jeu", "9102"),
    ("nintendo playstation", "nintendo playstation", "9101"),
    ("piscine filtre pompe", "piscine filtre pompe", "9103"),
    ("chlore bassin piscine", "chlore bassin piscine", "9103"),
    # Chosen, then the text was edited: the prediction was for the earlier text.
    ("roman poche", "roman poche - piscine chlore bassin", "9103"),
    ("console jeu", "console jeu - roman auteur", "9101"),
    ("piscine pompe", "piscine pompe bassin", "9102"),
]


def test_metrics_count_only_predictions_for_the_saved_text(
    seller, active_model, training_categories
):
    for typed, saved, code in LISTINGS:
        prediction = prediction_create(title=typed, user=seller)
        listing_create(
            seller=seller,
            title=saved,
            category=training_categories[code],
            prediction_id=prediction.pk,
            choice_source="list",
        )
    # The stored labels and the predictions made for the saved texts
    stored = Prediction.objects.filter(product__isnull=False).select_related(
        "product__category"
    )
    assert [p.for_saved_text for p in stored.order_by("pk")] == [
        typed == saved for typed, saved, _ in LISTINGS
    ]
    for_saved = [p for p in stored if p.for_saved_text]
    real = [p.product.category.code for p in for_saved]
    predicted = [p.top_k[0]["code"] for p in for_saved]
    assert len(real) == 6
    assert 0 < accuracy_score(real, predicted) < 1

    # (counting every linked prediction would give other figures)
    everything = [p.top_k[0]["code"] for p in stored]
    assert accuracy_score(
        [p.product.category.code for p in stored], everything
    ) != accuracy_score(real, predicted)

    metrics = model_metrics_window(days=1)

    assert metrics["count"] == 6
    assert metrics["accuracy"] == accuracy_score(real, predicted)
    assert metrics["weighted_f1"] == f1_score(
        real, predicted, average="weighted", zero_division=0
    )
    assert sorted(row["product_id"] for row in metrics["real_vs_predicted"]) == sorted(
        p.product_id for p in for_saved
    )
    assert metrics["top1_kept_rate"] == sum(
        r == p for r, p in zip(real, predicted, strict=True)
    ) / len(real)
    score = model_score_recent()
    assert score == {
        "right": sum(r == p for r, p in zip(real, predicted, strict=True)),
        "total": 6,
    }
    # The edited listings are still stored with the seller's category
    edited = Product.objects.filter(title__contains=" - ")
    assert sorted(p.category.code for p in edited) == ["9101", "9103"]
