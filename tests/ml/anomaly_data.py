"""Listings with known predictions, for the anomaly and label-guard tests."""

from datetime import timedelta

from django.utils import timezone

from tests.factories import PredictionFactory, ProductFactory


def listing_with_prediction(
    *,
    seller,
    chosen,
    predicted,
    probability: float = 0.9,
    title: str | None = None,
    confirmed_at=None,
    model_version=None,
):
    """A seller's listing confirmed in ``chosen``, linked to a prediction whose first
    suggestion was ``predicted`` (with ``probability``). Returns the product."""
    extra = {"title": title} if title else {}
    product = ProductFactory(
        seller=seller,
        category=chosen,
        confirmed_at=confirmed_at or timezone.now() - timedelta(hours=1),
        **extra,
    )
    fields = {"model_version": model_version} if model_version else {}
    PredictionFactory(
        product=product,
        predicted_category=predicted,
        top_k=[
            {
                "category_id": predicted.pk,
                "code": predicted.code,
                "name": predicted.name,
                "probability": probability,
            }
        ],
        requested_by=seller,
        **fields,
    )
    return product
