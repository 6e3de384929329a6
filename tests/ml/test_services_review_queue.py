"""The review queue: below-threshold batch results wait; every decision confirms the
product's category and is audited."""

import pytest

from audit.models import AuditEvent
from catalog.models import Product
from ml.models import BatchJob, BatchResult, ReviewItem
from ml.services.review_queue import (
    review_item_decide,
    review_items_accept,
    review_items_from_results,
    review_threshold,
)
from rakuten.exceptions import ApplicationError
from tests.factories import CategoryFactory, ModelVersionFactory, ProductFactory


@pytest.fixture
def queue(db):
    """A job with threshold 0.8 and four results: 0.95 and 0.85 (applied) and 0.6
    and 0.3 (below), for four unlabelled products; X and Y are the categories."""
    x, y = CategoryFactory(code="X"), CategoryFactory(code="Y")
    job = BatchJob.objects.create(
        scope=BatchJob.Scope.ALL,
        model_version=ModelVersionFactory(),
        apply_threshold=0.8,
    )
    results = []
    for probability in (0.95, 0.85, 0.6, 0.3):
        product = ProductFactory(category=None)
        results.append(
            BatchResult.objects.create(
                job=job,
                item_id=product.pk,
                product=product,
                predicted_code="X",
                probability=probability,
                top_k=[
                    {"code": "X", "probability": probability},
                    {"code": "Y", "probability": round(1 - probability, 2)},
                ],
                applied=probability >= 0.8,
            )
        )
    return job, results, x, y


def test_only_the_results_below_the_threshold_wait_and_only_once(queue):
    job, results, x, y = queue
    assert review_items_from_results(job=job, results=results) == 2
    assert review_items_from_results(job=job, results=results) == 0
    items = list(ReviewItem.objects.order_by("probability"))
    assert [(i.product_id, i.probability, i.suggested_code) for i in items] == [
        (results[3].product_id, 0.3, "X"),
        (results[2].product_id, 0.6, "X"),
    ]
    assert items[0].suggestions == [
        {"code": "X", "probability": 0.3},
        {"code": "Y", "probability": 0.7},
    ]
    assert {i.reason for i in items} == {"low_confidence"}


def test_a_job_without_threshold_queues_nothing(queue):
    job, results, x, y = queue
    job.apply_threshold = None
    assert review_items_from_results(job=job, results=results) == 0


def test_accept_and_correct_confirm_the_product_and_are_audited(queue, staff_user):
    job, results, x, y = queue
    review_items_from_results(job=job, results=results)
    low, mid = ReviewItem.objects.order_by("probability")
    # When staff accept one and correct the other
    review_item_decide(item=mid, user=staff_user, accept=True)
    review_item_decide(item=low, user=staff_user, category_code="Y")
    # Then both products are confirmed in the chosen category
    mid.refresh_from_db()
    low.refresh_from_db()
    assert (mid.status, mid.chosen_category, mid.decided_by) == (
        "accepted",
        x,
        staff_user,
    )
    assert (low.status, low.chosen_category) == ("corrected", y)
    p_mid, p_low = (Product.objects.get(pk=i.product_id) for i in (mid, low))
    assert (p_mid.category, p_low.category) == (x, y)
    assert p_mid.confirmed_at is not None and p_low.confirmed_at is not None
    # and each decision is in the audit log, with the category change
    verbs = list(
        AuditEvent.objects.filter(actor=staff_user)
        .order_by("pk")
        .values_list("verb", flat=True)
    )
    assert verbs == [
        "product.category_changed",
        "review.accepted",
        "product.category_changed",
        "review.corrected",
    ]
    # A decided item cannot be decided again
    with pytest.raises(ApplicationError):
        review_item_decide(item=low, user=staff_user, accept=True)


def test_a_retired_or_unknown_category_is_refused_and_nothing_changes(
    queue, staff_user
):
    job, results, x, y = queue
    review_items_from_results(job=job, results=results)
    item = ReviewItem.objects.order_by("probability").first()
    y.active = False
    y.save()
    for code in ("Y", "NOPE"):
        with pytest.raises(ApplicationError):
            review_item_decide(item=item, user=staff_user, category_code=code)
    item.refresh_from_db()
    assert item.status == "waiting"
    assert Product.objects.get(pk=item.product_id).category is None
    assert not AuditEvent.objects.filter(verb__startswith="review.").exists()


def test_bulk_accept_accepts_every_waiting_item(queue, staff_user):
    job, results, x, y = queue
    review_items_from_results(job=job, results=results)
    first = ReviewItem.objects.order_by("probability").first()
    review_item_decide(item=first, user=staff_user, category_code="Y")
    accepted = review_items_accept(
        items=list(ReviewItem.objects.all()), user=staff_user
    )
    assert accepted == 1
    assert sorted(ReviewItem.objects.values_list("status", flat=True)) == [
        "accepted",
        "corrected",
    ]
    assert AuditEvent.objects.filter(verb="review.accepted").count() == 1


def test_the_threshold_reaches_the_target_precision_on_the_curve(settings, db):
    settings.ML_REVIEW_TARGET_PRECISION = 0.9
    curve = [[0.5, 0.8, 0.9], [0.7, 0.92, 0.6], [0.9, 0.99, 0.2]]
    with_curve = ModelVersionFactory(metrics={"fusion": {"precision_curve": curve}})
    assert review_threshold(version=with_curve) == 0.7
    # without a curve (an older version), the target itself
    assert review_threshold(version=ModelVersionFactory()) == 0.9
    # a curve that never reaches the target: the target too
    settings.ML_REVIEW_TARGET_PRECISION = 0.999
    assert review_threshold(version=with_curve) == 0.999
