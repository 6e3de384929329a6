"""A taxonomy migration's ML side: its batch scope (candidates per product), the
staff sample of a split, a model's results applied above the threshold and queued
below, a review decision completing a move, a cancelled job, and the undo."""

import pytest

from catalog.models import Category, CategoryMove, Product, TaxonomyMigration
from ml.models import BatchJob, BatchResult, ReviewItem
from ml.services.review_queue import review_item_decide
from ml.services.taxonomy_migrations import (
    MigrationScope,
    migration_results_apply,
    migration_sample_pick,
    taxonomy_migration_start,
    taxonomy_migration_undo_all,
)
from tests.factories import CategoryFactory, ModelVersionFactory, ProductFactory

NEW = "code,name\nA2,Alpha deux\nB1,Beta un\nB2,Beta deux\nD,Delta\n"
MAPPING = "old_code,new_code\nA,A2\nB,B1\nB,B2\n"  # C is retired


@pytest.fixture
def migration(db, tmp_path, staff_user, settings):
    """A (2 products) -> A2, B (6) split into B1|B2, C (1) retired; no active model,
    so the sample (2 per new category) is picked in id order."""
    settings.ML_MIGRATION_SAMPLE_PER_CATEGORY = 2
    Category.objects.update(active=False)
    for code, n in (("A", 2), ("B", 6), ("C", 1)):
        ProductFactory.create_batch(n, category=CategoryFactory(code=code))
    new, mapping = tmp_path / "new.csv", tmp_path / "map.csv"
    new.write_text(NEW)
    mapping.write_text(MAPPING)
    plan, migration = taxonomy_migration_start(
        categories_path=new, mapping_path=mapping, user=staff_user
    )
    return migration


def _apply_job(migration, threshold=0.8):
    return BatchJob.objects.create(
        scope=BatchJob.Scope.MIGRATION,
        scope_params={"migration_id": migration.pk, "phase": "apply"},
        model_version=ModelVersionFactory(),
        apply_threshold=threshold,
    )


def _result(job, product_id, code, probability, other):
    return BatchResult.objects.create(
        job=job,
        item_id=product_id,
        product_id=product_id,
        predicted_code=code,
        probability=probability,
        top_k=[
            {"code": code, "probability": probability},
            {"code": other, "probability": round(1 - probability, 4)},
        ],
    )


def test_the_scope_restricts_each_product_to_its_candidates(migration):
    job = _apply_job(migration)
    scope = MigrationScope()
    ids = scope.item_ids(job)
    b_ids = sorted(
        Product.objects.filter(category__code="B").values_list("pk", flat=True)
    )
    c_id = Product.objects.get(category__code="C").pk
    assert ids == sorted([*b_ids, c_id])
    items = {item.item_id: item for item in scope.items(job, ids)}
    assert items[b_ids[0]].candidates == ("B1", "B2")
    assert items[c_id].candidates == ("A2", "B1", "B2", "D")
    sample_job = BatchJob(
        scope_params={"migration_id": migration.pk, "phase": "sample"}
    )
    assert scope.item_ids(sample_job) == b_ids
    assert scope.validate({"migration_id": str(migration.pk)}) == {
        "migration_id": migration.pk,
        "phase": "apply",
    }


def test_without_a_model_the_sample_is_picked_in_id_order(migration):
    # 2 per new category of the split, B1 and B2: the first four B products
    b_ids = sorted(
        Product.objects.filter(category__code="B").values_list("pk", flat=True)
    )
    items = ReviewItem.objects.filter(reason="split_sample").order_by("pk")
    assert [i.product_id for i in items] == b_ids[:4]
    assert all(i.move.kind == "split" for i in items)
    assert items[0].suggestions == [
        {"code": "B1", "probability": 0.0},
        {"code": "B2", "probability": 0.0},
    ]


def test_the_sample_takes_the_least_certain_first_per_new_category(migration):
    ReviewItem.objects.all().delete()
    b_ids = sorted(
        Product.objects.filter(category__code="B").values_list("pk", flat=True)
    )
    job = BatchJob.objects.create(
        scope=BatchJob.Scope.MIGRATION,
        scope_params={"migration_id": migration.pk, "phase": "sample"},
        model_version=ModelVersionFactory(),
    )
    # B1 predicted for the first three (0.9, 0.55, 0.7), B2 for the others
    for pk, code, p in zip(
        b_ids,
        ["B1", "B1", "B1", "B2", "B2", "B2"],
        [0.9, 0.55, 0.7, 0.6, 0.95, 0.51],
        strict=True,
    ):
        _result(job, pk, code, p, "B2" if code == "B1" else "B1")
    assert migration_sample_pick(migration_id=migration.pk, job=job) == 4
    picked = list(
        ReviewItem.objects.order_by("pk").values_list("product_id", flat=True)
    )
    # B1: 0.55 then 0.7; B2: 0.51 then 0.6
    assert picked == [b_ids[1], b_ids[2], b_ids[5], b_ids[3]]


def test_results_above_the_threshold_move_the_others_wait(migration, staff_user):
    b_ids = sorted(
        Product.objects.filter(category__code="B").values_list("pk", flat=True)
    )
    # the sample's first item (b_ids[0]) is still waiting when the apply job runs
    sample_item = ReviewItem.objects.get(product_id=b_ids[0])
    ReviewItem.objects.exclude(pk=sample_item.pk).delete()
    c_id = Product.objects.get(category__code="C").pk
    job = _apply_job(migration)
    results = [
        _result(job, b_ids[0], "B1", 0.93, "B2"),  # applied
        _result(job, b_ids[1], "B2", 0.62, "B1"),  # waits: below
        _result(job, c_id, "D", 0.4, "A2"),  # waits: retired
        _result(job, b_ids[2], "D", 0.99, "B1"),  # waits: not a candidate
    ]
    assert migration_results_apply(job=job, results=results) == 1
    move = CategoryMove.objects.get(migration=migration, product_id=b_ids[0])
    assert (move.new_category.code, move.how, move.model_version_id) == (
        "B1",
        "model",
        job.model_version_id,
    )
    assert Product.objects.get(pk=b_ids[0]).category.code == "B1"
    assert BatchResult.objects.get(job=job, item_id=b_ids[0]).applied is True
    # the model moved it: its sample item no longer waits
    sample_item.refresh_from_db()
    assert sample_item.status == "withdrawn"
    waiting = dict(
        ReviewItem.objects.filter(status="waiting").values_list("product_id", "reason")
    )
    assert waiting == {
        b_ids[1]: "low_confidence",
        c_id: "retired",
        b_ids[2]: "low_confidence",
    }
    # A staff decision on a waiting item completes its move, recorded as staff's
    item = ReviewItem.objects.get(product_id=c_id)
    review_item_decide(item=item, user=staff_user, category_code="D")
    move = CategoryMove.objects.get(migration=migration, product_id=c_id)
    assert (move.new_category.code, move.how, move.decided_by) == (
        "D",
        "staff",
        staff_user,
    )


def test_a_cancelled_job_leaves_the_migration_consistent(migration):
    """A job cancelled after its first chunk: the moves it decided stay decided and
    recorded, the others still wait, and the next job covers only those."""
    ReviewItem.objects.all().delete()
    b_ids = sorted(
        Product.objects.filter(category__code="B").values_list("pk", flat=True)
    )
    job = _apply_job(migration)
    migration_results_apply(
        job=job, results=[_result(job, pk, "B2", 0.9, "B1") for pk in b_ids[:3]]
    )
    job.status = BatchJob.Status.CANCELLED
    job.save()
    migration.refresh_from_db()
    assert migration.status == TaxonomyMigration.Status.AWAITING
    assert migration.moves.filter(how="model").count() == 3
    again = _apply_job(migration)
    remaining = MigrationScope().item_ids(again)
    c_id = Product.objects.get(category__code="C").pk
    assert remaining == sorted([*b_ids[3:], c_id])
    assert Product.objects.filter(category__code="B2").count() == 3
    assert Product.objects.filter(category__code="B").count() == 3


def test_undo_withdraws_the_queue_and_restores_the_catalogue(migration, staff_user):
    before = sorted(
        (pk, code)
        for pk, code in Product.objects.values_list(
            "pk", "category_moves__old_category__code"
        )
    )
    item = ReviewItem.objects.order_by("pk").first()
    review_item_decide(item=item, user=staff_user, category_code="B2")
    taxonomy_migration_undo_all(migration=migration, user=staff_user)
    assert sorted(Product.objects.values_list("pk", "category__code")) == sorted(
        (pk, code or "A") for pk, code in before
    )
    assert set(ReviewItem.objects.values_list("status", flat=True)) == {
        "corrected",
        "withdrawn",
    }
    assert ReviewItem.objects.filter(status="withdrawn").count() == 3
    assert sorted(
        Category.objects.filter(active=True).values_list("code", flat=True)
    ) == [
        "A",
        "B",
        "C",
    ]
