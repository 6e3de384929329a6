"""Reads on the review queue."""

from django.db.models import Q, QuerySet

from ml.models import ReviewItem


def review_item_list(
    *,
    status: str = ReviewItem.Status.WAITING,
    category: str = "",
    min_probability: float | None = None,
    max_probability: float | None = None,
    reason: str = "",
) -> QuerySet[ReviewItem]:
    """Review items, least certain first. ``category`` matches the first suggestion
    or the product's current category (a split's old one)."""
    items = ReviewItem.objects.select_related(
        "product", "product__category", "move", "chosen_category"
    )
    if status:
        items = items.filter(status=status)
    if category:
        items = items.filter(
            Q(suggested_code=category) | Q(product__category__code=category)
        )
    if min_probability is not None:
        items = items.filter(probability__gte=min_probability)
    if max_probability is not None:
        items = items.filter(probability__lt=max_probability)
    if reason:
        items = items.filter(reason=reason)
    return items.order_by("probability", "id")


def review_item_get(*, pk: int) -> ReviewItem | None:
    return review_item_list(status="").filter(pk=pk).first()


def review_item_count_waiting() -> int:
    return ReviewItem.objects.filter(status=ReviewItem.Status.WAITING).count()
