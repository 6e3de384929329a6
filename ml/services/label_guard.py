"""The label-quality guard: a seller whose confirmed categories contradict a
confident model far more often than the norm is flagged to staff
(``SellerLabelReview``); their listings leave the training data until staff clear
the review (or stay out: excluded)."""

from collections import defaultdict

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from audit.services import audit_event_record
from catalog.models import Product
from ml.models import SellerLabelReview
from ml.selectors.anomalies import prediction_linked_list


def seller_label_stats() -> dict[int, dict]:
    """Per seller id: ``listings`` (their confirmed listings with a linked prediction,
    since their last cleared review) and ``confident_overrides`` (those whose seller
    chose another category than a first suggestion of probability at least
    ``ML_LABEL_GUARD_CONFIDENCE``), ``rate`` and ``since``."""
    confidence = float(settings.ML_LABEL_GUARD_CONFIDENCE)
    cleared = dict(
        SellerLabelReview.objects.filter(status=SellerLabelReview.Status.CLEARED)
        .order_by("seller_id", "reviewed_at")
        .values_list("seller_id", "reviewed_at")
    )  # the latest clearing per seller wins (ordered last)
    rows = (
        prediction_linked_list()
        .filter(product__seller__isnull=False, product__source=Product.Source.LISTING)
        .values_list(
            "product__seller_id", "is_anomaly", "top_k", "product__confirmed_at"
        )
    )
    stats: dict[int, dict] = defaultdict(
        lambda: {"listings": 0, "confident_overrides": 0}
    )
    for seller_id, is_anomaly, top_k, confirmed_at in rows.iterator():
        since = cleared.get(seller_id)
        if since is not None and confirmed_at <= since:
            continue
        entry = stats[seller_id]
        entry["listings"] += 1
        probability = (top_k[0] or {}).get("probability") if top_k else None
        if is_anomaly and probability is not None and probability >= confidence:
            entry["confident_overrides"] += 1
    for seller_id, entry in stats.items():
        entry["rate"] = entry["confident_overrides"] / entry["listings"]
        since = cleared.get(seller_id)
        entry["since"] = since.isoformat() if since else None
    return dict(stats)


def seller_label_reviews_evaluate() -> list[SellerLabelReview]:
    """Open a review for every seller over the guard's thresholds (at least
    ``ML_LABEL_GUARD_MIN_LISTINGS`` listings, at least ``ML_LABEL_GUARD_MAX_RATE`` of
    them confident overrides) who has no open or excluded review. Returns the
    reviews opened (audited). The daily monitoring run calls it."""
    stats = seller_label_stats()
    listings = sum(entry["listings"] for entry in stats.values())
    overrides = sum(entry["confident_overrides"] for entry in stats.values())
    platform_rate = overrides / listings if listings else None
    under_review = set(
        SellerLabelReview.objects.filter(active_key__isnull=False).values_list(
            "seller_id", flat=True
        )
    )
    opened = []
    for seller_id, entry in sorted(stats.items()):
        if seller_id in under_review:
            continue
        if entry["listings"] < settings.ML_LABEL_GUARD_MIN_LISTINGS:
            continue
        if entry["rate"] < settings.ML_LABEL_GUARD_MAX_RATE:
            continue
        review = _review_open(
            seller_id=seller_id,
            stats={
                **entry,
                "confidence": float(settings.ML_LABEL_GUARD_CONFIDENCE),
                "platform_rate": platform_rate,
            },
        )
        if review is not None:
            opened.append(review)
    return opened


def _review_open(*, seller_id: int, stats: dict) -> SellerLabelReview | None:
    try:
        with transaction.atomic():  # a concurrent evaluation may open it first
            review = SellerLabelReview.objects.create(
                seller_id=seller_id, active_key=str(seller_id), stats=stats
            )
            audit_event_record(
                verb="seller_label_review.opened",
                obj=review,
                message=(
                    f"Seller #{seller_id} contradicted a confident model in "
                    f"{stats['confident_overrides']} of {stats['listings']} listings; "
                    "their listings are left out of training until reviewed."
                ),
                data=stats,
            )
    except IntegrityError:
        return None
    return review


@transaction.atomic
def seller_label_review_clear(*, review: SellerLabelReview, user) -> SellerLabelReview:
    """Staff found the seller's categories sound: the review closes and their
    listings are trained on again (only later listings count for a next review)."""
    return _review_close(
        review=review, user=user, status=SellerLabelReview.Status.CLEARED
    )


@transaction.atomic
def seller_label_review_exclude(
    *, review: SellerLabelReview, user
) -> SellerLabelReview:
    """Staff confirmed the seller's categories are unreliable: their listings stay out
    of training (until a clearing)."""
    return _review_close(
        review=review, user=user, status=SellerLabelReview.Status.EXCLUDED
    )


def _review_close(*, review: SellerLabelReview, user, status: str) -> SellerLabelReview:
    review = SellerLabelReview.objects.select_for_update().get(pk=review.pk)
    if review.status == status or review.status == SellerLabelReview.Status.CLEARED:
        return review
    review.status = status
    review.reviewed_by = user
    review.reviewed_at = timezone.now()
    review.active_key = (
        None if status == SellerLabelReview.Status.CLEARED else str(review.seller_id)
    )
    review.save(update_fields=["status", "reviewed_by", "reviewed_at", "active_key"])
    audit_event_record(
        verb=f"seller_label_review.{status}",
        obj=review,
        actor=user,
        data={"seller_id": review.seller_id},
    )
    return review
