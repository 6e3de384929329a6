"""Batch prediction jobs (``ml.services.batch``): chunks, exactly-once results and
counters, one finish, cancel and resume, scopes and their errors, the watchdog."""

from datetime import timedelta

import pytest
from django.utils import timezone

from audit.models import AuditEvent
from catalog.models import Product
from ml.models import BatchChunk, BatchJob, BatchResult
from ml.selectors.batch import batch_job_progress
from ml.services import batch_scopes
from ml.services.batch import (
    batch_chunk_run,
    batch_job_cancel,
    batch_job_resume,
    batch_jobs_requeue_stale,
)
from rakuten.exceptions import ApplicationError, ConflictError
from tests.factories import ModelVersionFactory

pytestmark = pytest.mark.django_db


def test_a_job_predicts_every_product_once_and_finishes_once(
    active_model, catalogue, sent, create, staff_user
):
    # Given 30 products and the active model, when a job of chunks of 8 is created
    job = create(scope="all", chunk_size=8, user=staff_user)
    # Then 4 chunks are written and sent, nothing predicted yet
    chunks = list(BatchChunk.objects.filter(job=job).order_by("index"))
    assert (job.status, job.total, job.chunks_total) == ("pending", 30, 4)
    assert [len(c.item_ids) for c in chunks] == [8, 8, 8, 6]
    assert sent == [c.pk for c in chunks]
    assert job.model_version == active_model and job.created_by == staff_user
    # When every chunk runs, the first one twice (a re-delivered message)
    outcomes = [batch_chunk_run(chunk_id=pk, worker="w1") for pk in sent]
    outcomes.append(batch_chunk_run(chunk_id=sent[0], worker="w2"))
    # Then every product has one result, counted once, and the job finished once
    assert outcomes == ["done", "done", "done", "done", "skipped"]
    job.refresh_from_db()
    assert (job.status, job.done, job.chunks_done) == ("finished", 30, 4)
    assert BatchResult.objects.filter(job=job).count() == 30
    assert sorted(BatchResult.objects.values_list("product_id", flat=True)) == sorted(
        p.pk for p in catalogue
    )
    assert AuditEvent.objects.filter(verb="batch_job.finished").count() == 1
    # and the predictions are the model's: it knows these words
    by_product = {p.pk: p.category for p in catalogue}
    right = sum(
        by_product[r.product_id] is not None
        and r.predicted_code == by_product[r.product_id].code
        for r in BatchResult.objects.filter(job=job)
    )
    assert right >= 20
    result = BatchResult.objects.filter(job=job).first()
    assert result.used == "text" and len(result.top_k) == 3
    assert result.top_k[0]["code"] == result.predicted_code
    assert result.applied is False
    progress = batch_job_progress(job)
    assert (progress["done"], progress["total"], progress["percent"]) == (30, 30, 100)
    assert progress["eta_seconds"] is None and progress["items_per_second"] > 0


def test_a_chunk_redone_while_another_delivery_wrote_it_writes_nothing(
    active_model, catalogue, sent, create
):
    # Given a job of 2 chunks whose first chunk was already written by another
    # delivery while this one predicted
    job = create(scope="all", chunk_size=15)
    first = BatchChunk.objects.get(job=job, index=0)
    assert batch_chunk_run(chunk_id=first.pk) == "done"
    BatchChunk.objects.filter(pk=first.pk).update(status="pending")  # as seen before
    # When the late delivery writes
    assert batch_chunk_run(chunk_id=first.pk) == "done"
    # Then the results stay unique (the conditional UPDATE let it through, the unique
    # constraint kept one row per product)
    assert BatchResult.objects.filter(job=job).count() == 15


def test_scopes_categories_unlabelled_and_products(
    active_model, catalogue, training_categories, sent, create
):
    codes = sorted(training_categories)
    job = create(scope="categories", scope_params={"categories": [codes[0]]})
    assert job.total == 10 and job.scope_params == {"categories": [codes[0]]}
    job = create(scope="unlabelled")
    assert job.total == Product.objects.filter(category=None).count() == 4
    ids = [catalogue[3].pk, catalogue[1].pk]
    job = create(scope="products", scope_params={"product_ids": ids})
    assert BatchChunk.objects.get(job=job).item_ids == sorted(ids)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"scope": "everything"}, "Unknown batch scope 'everything'"),
        ({"scope": "categories"}, "Give categories as a non-empty list"),
        (
            {"scope": "categories", "scope_params": {"categories": ["NOPE"]}},
            "Unknown category: NOPE.",
        ),
        (
            {"scope": "products", "scope_params": {"product_ids": [987654]}},
            "No such product: 987654.",
        ),
        ({"scope": "all", "chunk_size": 0}, "The chunk size must be"),
        ({"scope": "all", "apply_threshold": 1.5}, "The apply threshold is"),
    ],
)
def test_bad_input_is_refused_and_nothing_is_written(
    active_model, catalogue, sent, create, kwargs, message
):
    with pytest.raises(ApplicationError) as info:
        create(**kwargs)
    assert message in info.value.message
    assert (BatchJob.objects.count(), BatchChunk.objects.count(), sent) == (0, 0, [])


def test_no_active_model_and_a_scope_not_installed_are_clear_errors(
    catalogue, sent, create, monkeypatch
):
    with pytest.raises(ApplicationError, match="No model is active"):
        create(scope="all")
    monkeypatch.setitem(batch_scopes.SCOPES, "import", "ml.services.nowhere:Scope")
    with pytest.raises(ApplicationError) as info:
        create(scope="import", model_version=ModelVersionFactory())
    assert info.value.message == (
        "The batch scope 'import' is not available on this platform "
        "(ml.services.nowhere:Scope cannot be imported)."
    )
    assert BatchJob.objects.count() == 0


def test_an_empty_scope_finishes_at_once(active_model, sent, create):
    job = create(scope="unlabelled")
    assert (job.status, job.total, job.chunks_total, sent) == ("finished", 0, 0, [])


def test_cancel_then_resume(active_model, catalogue, sent, create, staff_user):
    # Given a job with one of its 3 chunks done
    job = create(scope="all", chunk_size=10)
    batch_chunk_run(chunk_id=sent[0])
    # When it is cancelled
    job = batch_job_cancel(job=job, user=staff_user)
    # Then its queued chunks are skipped when delivered
    assert job.status == "cancelled" and job.cancelled_at is not None
    assert batch_chunk_run(chunk_id=sent[1]) == "skipped"
    assert BatchResult.objects.filter(job=job).count() == 10
    with pytest.raises(ConflictError):
        batch_job_cancel(job=job)
    # When it is resumed, only its 2 pending chunks are sent again
    sent.clear()
    job = batch_job_resume(job=job, user=staff_user)
    assert job.status == "running"
    pending = list(
        BatchChunk.objects.filter(job=job, status="pending")
        .order_by("index")
        .values_list("pk", flat=True)
    )
    assert len(pending) == 2
    for pk in pending:
        batch_chunk_run(chunk_id=pk)
    job.refresh_from_db()
    assert (job.status, job.done, BatchResult.objects.filter(job=job).count()) == (
        "finished",
        30,
        30,
    )
    with pytest.raises(ConflictError, match="finished"):
        batch_job_resume(job=job)
    assert list(
        AuditEvent.objects.filter(object_type="BatchJob")
        .order_by("pk")
        .values_list("verb", flat=True)
    ) == [
        "batch_job.created",
        "batch_job.cancelled",
        "batch_job.resumed",
        "batch_job.finished",
    ]


def test_an_apply_threshold_marks_the_confident_results_applied_only(
    active_model, catalogue, sent, create
):
    job = create(scope="all", chunk_size=100, apply_threshold=0.5)
    batch_chunk_run(chunk_id=sent[0])
    results = BatchResult.objects.filter(job=job)
    assert (
        results.filter(applied=True).count()
        == results.filter(probability__gte=0.5).count()
    )
    assert results.filter(applied=True, probability__lt=0.5).count() == 0
    # and no product's category was touched
    assert sorted(Product.objects.values_list("pk", "category_id")) == sorted(
        (p.pk, p.category_id) for p in catalogue
    )


def test_an_unreadable_bundle_fails_the_job_with_the_reason(
    catalogue, sent, create, training_categories
):
    version = ModelVersionFactory()
    job = create(scope="all", model_version=version)
    assert batch_chunk_run(chunk_id=sent[0]) == "failed"
    job.refresh_from_db()
    assert job.status == "failed" and job.error.startswith(
        f"chunk 0: Model version #{version.pk}: "
    )
    assert BatchResult.objects.count() == 0


def test_the_watchdog_sends_again_the_pending_chunks_of_a_job_with_no_progress(
    active_model, catalogue, sent, create, settings, django_capture_on_commit_callbacks
):
    settings.BATCH_STALE_SECONDS = 60
    job = create(scope="all", chunk_size=10)
    batch_chunk_run(chunk_id=sent[0])
    sent.clear()
    # a job with recent progress is left alone
    assert batch_jobs_requeue_stale() == {"requeued": []}
    # one silent for longer than BATCH_STALE_SECONDS gets its pending chunks again
    later = timezone.now() + timedelta(seconds=61)
    with django_capture_on_commit_callbacks(execute=True):
        assert batch_jobs_requeue_stale(now=later) == {"requeued": [job.pk]}
    assert sent == list(
        BatchChunk.objects.filter(job=job, index__in=[1, 2])
        .order_by("index")
        .values_list("pk", flat=True)
    )
    # and only once per silence
    with django_capture_on_commit_callbacks(execute=True):
        assert batch_jobs_requeue_stale(now=later) == {"requeued": []}


def test_chunks_go_to_the_batch_queue_late_acknowledged_with_limits(settings):
    from django.db import OperationalError

    from ml.tasks import batch_chunk_run_task
    from rakuten.celery import app

    route = app.amqp.router.route({}, "ml.tasks.batch_chunk_run")
    assert route["queue"].name == "batch"
    assert app.amqp.router.route({}, "ml.tasks.metrics_snapshot")["queue"].name == "ml"
    task = batch_chunk_run_task
    assert (task.acks_late, task.reject_on_worker_lost) == (True, True)
    assert (task.soft_time_limit, task.time_limit) == (1800, 1860)
    assert task.autoretry_for == (OperationalError,) and task.max_retries == 5
