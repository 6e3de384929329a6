"""A taxonomy split end to end on the batch engine, with the session's real model: the
sample job picks the staff sample, the apply job moves the confident products
(restricted to their old category's candidates) and queues the rest; a job cancelled
midway leaves the migration consistent, and the undo restores everything."""

import random

import pytest

from catalog.models import Category, CategoryMove, Product
from ml.models import BatchJob, BatchResult, ReviewItem
from ml.services.batch import batch_chunk_run, batch_job_cancel
from ml.services.review_queue import review_item_decide
from ml.services.taxonomy_migrations import (
    taxonomy_migration_predict,
    taxonomy_migration_start,
    taxonomy_migration_undo_all,
)
from tests.factories import CategoryFactory, ProductFactory, product_text


@pytest.fixture
def merged(active_model, training_categories, settings):
    """The old taxonomy merged books (9101) and video games (9102) into 9900; 9103
    stays. 5 products of each true category in 9900 (and 6 without a known word), 2
    in 9103."""
    settings.ML_MIGRATION_SAMPLE_PER_CATEGORY = 2
    settings.ML_REVIEW_TARGET_PRECISION = 0.6
    Category.objects.exclude(code="9103").update(active=False)
    old = CategoryFactory(code="9900", name="Livres et jeux")
    rng = random.Random(5)
    truth = {}
    for code, n in (("9101", 5), ("9102", 5), ("9103", 2)):
        for _ in range(n):
            title, description = product_text(code, rng)
            category = old if code != "9103" else training_categories["9103"]
            product = ProductFactory(
                title=title, description=description, category=category
            )
            truth[product.pk] = code
    # and 6 the model cannot read (no word it knows): unsure, they wait for staff
    for n in range(6):
        product = ProductFactory(title=f"objet {n}", description="", category=old)
        truth[product.pk] = "9101"
    return truth


def _start(tmp_path, django_capture_on_commit_callbacks, user):
    new, mapping = tmp_path / "new.csv", tmp_path / "map.csv"
    new.write_text("code,name\n9101,Livres\n9102,Jeux vidéo\n9103,Piscine\n")
    mapping.write_text("old_code,new_code\n9900,9101\n9900,9102\n")
    with django_capture_on_commit_callbacks(execute=True):
        return taxonomy_migration_start(
            categories_path=new, mapping_path=mapping, user=user
        )


def test_sample_then_apply(
    merged, sent, tmp_path, django_capture_on_commit_callbacks, staff_user, active_model
):
    truth = merged
    plan, migration = _start(tmp_path, django_capture_on_commit_callbacks, staff_user)
    assert plan.split == {"9900": ["9101", "9102"]} and plan.kept == ["9103"]
    # The sample job ran over the 16 split products; its end picked 2 per new category
    for chunk_id in sent:
        batch_chunk_run(chunk_id=chunk_id)
    sample_job = BatchJob.objects.get(scope_params__phase="sample")
    assert (sample_job.status, sample_job.total) == ("finished", 16)
    codes = {
        s["code"] for r in BatchResult.objects.filter(job=sample_job) for s in r.top_k
    }
    assert codes <= {"9101", "9102"}
    sample = ReviewItem.objects.filter(reason="split_sample")
    assert sample.count() == 4
    # Staff label the sample with the true categories (via the queue's decision)
    for item in sample:
        review_item_decide(
            item=item, user=staff_user, category_code=truth[item.product_id]
        )
    # The apply job predicts the 12 products still waiting, at the threshold where
    # the model's validation precision reaches the target (0.6: at 0.9999 here)
    active_model.metrics = {
        **active_model.metrics,
        "fusion": {"precision_curve": [[0.0, 0.5, 1.0], [0.9999, 0.99, 0.1]]},
    }
    active_model.save(update_fields=["metrics"])
    sent.clear()
    with django_capture_on_commit_callbacks(execute=True):
        job = taxonomy_migration_predict(migration=migration, user=staff_user)
    assert (job.total, job.apply_threshold) == (12, 0.9999)
    for chunk_id in sent:
        batch_chunk_run(chunk_id=chunk_id)
    moved = CategoryMove.objects.filter(migration=migration, how="model")
    waiting = ReviewItem.objects.filter(status="waiting", job=job)
    assert moved.count() + waiting.count() == 12
    assert waiting.count() >= 2  # at least the unreadable ones the sample left
    assert {m.model_version_id for m in moved} == {active_model.pk}
    for move in moved:
        assert move.new_category.code == truth[move.product_id]
        assert move.probability >= job.apply_threshold
    applied = BatchResult.objects.filter(job=job, applied=True)
    assert sorted(applied.values_list("item_id", flat=True)) == sorted(
        m.product_id for m in moved
    )
    for item in waiting:
        assert item.result.job_id == job.pk and item.probability < 0.9999
        assert {s["code"] for s in item.suggestions} <= {"9101", "9102"}


def test_a_cancelled_job_then_undo(
    merged, sent, tmp_path, django_capture_on_commit_callbacks, staff_user, settings
):
    settings.ML_MIGRATION_SAMPLE_PER_CATEGORY = 0
    before = sorted(Product.objects.values_list("pk", "category__code"))
    plan, migration = _start(tmp_path, django_capture_on_commit_callbacks, staff_user)
    sent.clear()
    with django_capture_on_commit_callbacks(execute=True):
        job = taxonomy_migration_predict(migration=migration, user=staff_user)
    # Given the apply job cancelled before its chunk is delivered
    batch_job_cancel(job=job, user=staff_user)
    for chunk_id in sent:
        assert batch_chunk_run(chunk_id=chunk_id) == "skipped"
    migration.refresh_from_db()
    assert migration.status == "awaiting"
    assert migration.moves.filter(new_category__isnull=True).count() == 16
    # When the migration is undone, the catalogue is as before
    taxonomy_migration_undo_all(migration=migration, user=staff_user)
    assert sorted(Product.objects.values_list("pk", "category__code")) == before
