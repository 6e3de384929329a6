"""Reads for anomalies: listings whose seller confirmed another category than the
model's first suggestion (the prediction linked to the product). Queryable, per
category and per "predicted X, seller chose Y" pair; the label-quality guard's
reviews are read here too."""

from datetime import timedelta

from django.db.models import (
    BooleanField,
    Case,
    Count,
    F,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
    When,
)
from django.utils import timezone

from catalog.models import Product
from ml.models import Prediction, SellerLabelReview
from rakuten.exceptions import ApplicationError

PAIR_EXAMPLES = 3


def prediction_linked_list(*, days: int | None = None) -> QuerySet[Prediction]:
    """The latest prediction linked to each confirmed product (confirmed in the last
    ``days`` days; ever: None) whose first suggestion is a known category, annotated
    ``is_anomaly``: the seller's confirmed category is not the first suggestion."""
    latest = (
        Prediction.objects.filter(product=OuterRef("product"))
        .order_by("-created_at", "-id")
        .values("pk")[:1]
    )
    predictions = Prediction.objects.filter(
        product__isnull=False,
        product__category__isnull=False,
        product__confirmed_at__isnull=False,
        predicted_category__isnull=False,
        pk=Subquery(latest),
    )
    if days is not None:
        if days < 1:
            raise ApplicationError("The window must be at least one day.")
        since = timezone.now() - timedelta(days=days)
        predictions = predictions.filter(product__confirmed_at__gte=since)
    return predictions.annotate(
        is_anomaly=Case(
            When(predicted_category=F("product__category"), then=Value(False)),
            default=Value(True),
            output_field=BooleanField(),
        )
    )


def anomaly_list(*, days: int, category: str | None = None) -> QuerySet[Prediction]:
    """The anomalies among the products confirmed in the last ``days`` days (of the
    confirmed category ``category``, a code, when given), latest confirmed first."""
    anomalies = prediction_linked_list(days=days).filter(is_anomaly=True)
    if category:
        anomalies = anomalies.filter(product__category__code=category)
    return anomalies.select_related(
        "product__category", "product__seller", "predicted_category"
    ).order_by("-product__confirmed_at", "-product_id")


def anomaly_rates_by_category(*, days: int) -> list[dict]:
    """Per confirmed category: ``code``, ``name``, ``listings`` (linked products
    confirmed in the window), ``overrides`` (anomalies) and ``override_rate``; the
    highest rate first (then the most listings, then the code)."""
    rows = (
        prediction_linked_list(days=days)
        .values(code=F("product__category__code"), name=F("product__category__name"))
        .annotate(
            listings=Count("pk"),
            overrides=Count("pk", filter=~Q(predicted_category=F("product__category"))),
        )
        .order_by()
    )
    rates = [
        {**row, "override_rate": row["overrides"] / row["listings"]} for row in rows
    ]
    return sorted(rates, key=lambda r: (-r["override_rate"], -r["listings"], r["code"]))


def anomaly_pairs(
    *, days: int, limit: int = 10, examples: int = PAIR_EXAMPLES
) -> list[dict]:
    """The most frequent "predicted X, seller chose Y" pairs in the window:
    ``predicted`` and ``chosen`` ({code, name}), ``count`` and ``examples`` (the
    latest ``examples`` products: product_id, title). Most frequent first, then by
    codes."""
    anomalies = prediction_linked_list(days=days).filter(is_anomaly=True)
    pairs = (
        anomalies.values(
            predicted_code=F("predicted_category__code"),
            predicted_name=F("predicted_category__name"),
            predicted_id=F("predicted_category_id"),
            chosen_code=F("product__category__code"),
            chosen_name=F("product__category__name"),
            chosen_id=F("product__category_id"),
        )
        .annotate(count=Count("pk"))
        .order_by("-count", "predicted_code", "chosen_code")[:limit]
    )
    result = []
    for pair in pairs:
        shown = (
            anomalies.filter(
                predicted_category_id=pair["predicted_id"],
                product__category_id=pair["chosen_id"],
            )
            .order_by("-product__confirmed_at", "-product_id")
            .values("product_id", "product__title")[:examples]
        )
        result.append(
            {
                "predicted": {
                    "code": pair["predicted_code"],
                    "name": pair["predicted_name"],
                },
                "chosen": {"code": pair["chosen_code"], "name": pair["chosen_name"]},
                "count": pair["count"],
                "examples": [
                    {"product_id": row["product_id"], "title": row["product__title"]}
                    for row in shown
                ],
            }
        )
    return result


def anomaly_product_ids(*, products: QuerySet[Product]) -> set[int]:
    """Which of ``products`` are anomalies (their latest linked prediction's first
    suggestion is not their confirmed category)."""
    return set(
        prediction_linked_list()
        .filter(is_anomaly=True, product__in=products.values("pk"))
        .values_list("product_id", flat=True)
    )


# --- The label-quality guard's reviews ----------------------------------------------


def seller_label_review_list_unresolved() -> QuerySet[SellerLabelReview]:
    """Open and excluded reviews (staff act on them), open ones first."""
    return (
        SellerLabelReview.objects.exclude(status=SellerLabelReview.Status.CLEARED)
        .select_related("seller", "reviewed_by")
        .order_by(
            Case(
                When(status=SellerLabelReview.Status.OPEN, then=Value(0)),
                default=Value(1),
            ),
            "-opened_at",
            "-id",
        )
    )


def seller_label_review_get(*, pk: int) -> SellerLabelReview:
    from rakuten.exceptions import NotFoundError

    review = SellerLabelReview.objects.select_related("seller").filter(pk=pk).first()
    if review is None:
        raise NotFoundError("No such seller label review.")
    return review


def sellers_excluded_from_training() -> QuerySet:
    """Ids of the sellers under an open or excluded review: their listings are not
    trained on until staff clear the review."""
    return SellerLabelReview.objects.filter(active_key__isnull=False).values(
        "seller_id"
    )
