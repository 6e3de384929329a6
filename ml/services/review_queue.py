"""The confidence-routed review queue: a batch result at or above its job's threshold
is applied; below it, the product waits here for a person, who accepts the first
suggestion or chooses another category. Every decision is audited and becomes the
product's confirmed label (``confirmed_at``), which monitoring and retraining read."""

from collections.abc import Iterable

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from audit.services import audit_event_record
from catalog.models import Category, CategoryMove
from catalog.services.products import product_update
from catalog.services.taxonomy_migrations import category_move_decide
from ml.core.calibration import threshold_for_precision
from ml.models import BatchJob, BatchResult, ModelVersion, ReviewItem
from rakuten.exceptions import ApplicationError


def review_threshold(*, version: ModelVersion) -> float:
    """The probability from which ``version``'s predictions are applied: the lowest
    threshold of its validation precision curve that reaches
    ``ML_REVIEW_TARGET_PRECISION``; that target itself when the version has no curve
    (trained before the curve was stored), or none reaches it."""
    target = settings.ML_REVIEW_TARGET_PRECISION
    curve = ((version.metrics or {}).get("fusion") or {}).get("precision_curve")
    if not curve:
        return float(target)
    return threshold_for_precision(curve, target, default=float(target))


def results_stored(job: BatchJob, results: Iterable[BatchResult]) -> list[BatchResult]:
    """The stored rows of ``results``: the engine writes them with one
    ``bulk_create(ignore_conflicts=True)``, which leaves the objects it was given
    without primary keys."""
    results = list(results)
    if all(r.pk for r in results):
        return results
    return list(
        BatchResult.objects.filter(
            job=job, item_id__in=[r.item_id for r in results]
        ).order_by("item_id")
    )


def _suggestions(result: BatchResult) -> list[dict]:
    top = [
        {"code": s["code"], "probability": round(float(s["probability"]), 4)}
        for s in (result.top_k or [])
    ]
    if not top and result.predicted_code:
        top = [{"code": result.predicted_code, "probability": result.probability}]
    return top


@transaction.atomic
def review_items_from_results(
    *,
    job: BatchJob,
    results: Iterable[BatchResult],
    reason: str = ReviewItem.Reason.LOW_CONFIDENCE,
    moves: dict[int, CategoryMove] | None = None,
) -> int:
    """Queue the product results of ``job`` that are below its ``apply_threshold``
    (all of them when the job has none and a reason other than low confidence is
    given). A product already waiting is not queued twice. ``moves``: the taxonomy
    migration's waiting move of each product, linked so the decision completes it;
    such a product is queued whatever its probability (its scope did not apply it:
    e.g. the model's first choice was not a candidate), and a retired category's with
    the reason ``retired``. Returns the
    items created. Scopes call this from ``on_results``."""
    threshold = job.apply_threshold
    moves = moves or {}
    results = results_stored(job, results)
    if threshold is None and reason == ReviewItem.Reason.LOW_CONFIDENCE and not moves:
        return 0
    below = [
        r
        for r in results
        if r.product_id
        and not r.applied
        and (threshold is None or r.probability < threshold or r.product_id in moves)
    ]
    waiting = set(
        ReviewItem.objects.filter(
            status=ReviewItem.Status.WAITING,
            product_id__in=[r.product_id for r in below],
        ).values_list("product_id", flat=True)
    )
    items = []
    for result in below:
        if result.product_id in waiting:
            continue
        move = moves.get(result.product_id)
        item_reason = reason
        if move is not None and move.kind == CategoryMove.Kind.RETIRED:
            item_reason = ReviewItem.Reason.RETIRED
        suggestions = _suggestions(result)
        items.append(
            ReviewItem(
                product_id=result.product_id,
                job=job,
                result=result,
                move=move,
                suggestions=suggestions,
                suggested_code=suggestions[0]["code"] if suggestions else "",
                probability=suggestions[0]["probability"] if suggestions else 0.0,
                reason=item_reason,
            )
        )
        waiting.add(result.product_id)
    ReviewItem.objects.bulk_create(items)
    return len(items)


@transaction.atomic
def review_item_decide(
    *,
    item: ReviewItem,
    user,
    category_code: str = "",
    accept: bool = False,
) -> ReviewItem:
    """Decide a waiting item: ``accept`` its first suggestion, or choose
    ``category_code``. The product's category is confirmed (through the taxonomy
    migration's move when it waits for one), the item records who chose what, and the
    decision is audited."""
    item = (
        ReviewItem.objects.select_for_update()
        .select_related("product", "move")
        .get(pk=item.pk)
    )
    if item.status != ReviewItem.Status.WAITING:
        raise ApplicationError("This product was already reviewed.")
    if accept:
        if not item.suggested_code:
            raise ApplicationError(
                "There is no suggestion to accept: choose a category."
            )
        category_code = item.suggested_code
    category = Category.objects.filter(code=category_code).first()
    if category is None or not category.active:
        raise ApplicationError(
            "Unknown or retired category: choose an active one.",
            extra={"category": ["Unknown or retired category."]},
        )
    if item.move is not None:
        category_move_decide(
            move=item.move, category=category, how=CategoryMove.How.STAFF, user=user
        )
    else:
        product = item.product
        product_update(
            product=product,
            title=product.title,
            description=product.description,
            category=category,
            actor=user,
        )
    accepted = category.code == item.suggested_code
    item.status = (
        ReviewItem.Status.ACCEPTED if accepted else ReviewItem.Status.CORRECTED
    )
    item.chosen_category = category
    item.decided_by = user
    item.decided_at = timezone.now()
    item.save(update_fields=["status", "chosen_category", "decided_by", "decided_at"])
    ReviewItem.objects.filter(
        product_id=item.product_id, status=ReviewItem.Status.WAITING
    ).update(status=ReviewItem.Status.WITHDRAWN)
    audit_event_record(
        verb=f"review.{item.status}",
        obj=item.product,
        actor=user,
        message=(
            f"review: {category.code} "
            f"({'the first suggestion' if accepted else 'corrected'})"
        ),
        data={
            "review_item": item.pk,
            "category": category.code,
            "suggested": item.suggested_code or None,
            "probability": item.probability,
            "reason": item.reason,
        },
    )
    return item


def review_items_accept(*, items: Iterable[ReviewItem], user) -> int:
    """Accept the first suggestion of each waiting item (one transaction each, so a
    long selection does not hold one lock for all); returns the items accepted. Items
    already decided, or without a suggestion, are skipped."""
    accepted = 0
    for item in items:
        if item.status != ReviewItem.Status.WAITING or not item.suggested_code:
            continue
        try:
            review_item_decide(item=item, user=user, accept=True)
        except ApplicationError:
            continue
        accepted += 1
    return accepted


@transaction.atomic
def review_items_withdraw_for_migration(*, migration_id: int) -> int:
    """Withdraw the waiting items of an undone taxonomy migration."""
    return ReviewItem.objects.filter(
        status=ReviewItem.Status.WAITING, move__migration_id=migration_id
    ).update(status=ReviewItem.Status.WITHDRAWN)
