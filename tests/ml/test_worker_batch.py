"""A real worker on the ``batch`` queue is SIGKILLed in the middle of a chunk. A fresh
worker finishes the job after the watchdog's requeue (and a second delivery of the
same chunk's message): every product is predicted exactly once, none is missing."""

import contextlib
import os
import random
import signal
import time

import pytest
from django.db.models import Count

from catalog.models import Product
from ml.models import BatchChunk, BatchJob, BatchResult
from ml.services.batch import batch_job_create, batch_jobs_requeue_stale
from ml.tasks import batch_chunk_run_task
from rakuten.celery import app
from tests.factories import product_text
from tests.workers import start_worker, stop_worker

pytestmark = pytest.mark.worker


def _poll(condition, *, timeout: float, worker, what: str, interval: float = 0.2):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        if worker.poll() is not None:
            pytest.fail(f"the worker exited ({worker.returncode}) waiting for {what}")
        time.sleep(interval)
    chunks = list(BatchChunk.objects.values("index", "status", "attempts", "worker"))
    pytest.fail(f"timed out waiting for {what}: {chunks}")


def _purge_batch_queue():
    # The queue may not exist yet.
    with app.connection_for_write() as conn, contextlib.suppress(Exception):
        conn.default_channel.queue_purge("batch")


def test_a_worker_killed_mid_chunk_leaves_no_product_predicted_twice_or_missing(
    restore_migration_data,
    transactional_db,
    django_db_serialized_rollback,
    test_database_url,
    active_model,
    training_categories,
    settings,
    tmp_path,
):
    if app.conf.task_always_eager:
        pytest.skip("CELERY_TASK_ALWAYS_EAGER is on: tasks would not reach a worker")
    # Given 900 products
    rng = random.Random(5)
    codes = sorted(training_categories)
    Product.objects.bulk_create(
        Product(
            title=(text := product_text(codes[i % 3], rng))[0],
            description=text[1],
            category=training_categories[codes[i % 3]],
            source=Product.Source.IMPORT,
        )
        for i in range(900)
    )
    _purge_batch_queue()
    log_path = tmp_path / "worker.log"
    worker = start_worker(log_path, test_database_url, queues="batch")
    passed = False
    try:
        # When a job of 3 chunks is created and its worker is killed while it
        # predicts the first chunk it took
        job = batch_job_create(scope="all", chunk_size=300)
        assert (job.total, job.chunks_total) == (900, 3)
        taken = _poll(
            lambda: BatchChunk.objects.filter(
                job=job, status="pending", attempts=1
            ).first(),
            timeout=120,
            worker=worker,
            what="a chunk to be taken",
            interval=0.01,
        )
        os.kill(worker.pid, signal.SIGKILL)
        worker.wait(timeout=10)
        # Then that chunk wrote nothing and is still pending
        taken.refresh_from_db()
        assert taken.status == "pending"
        assert not BatchResult.objects.filter(
            job=job, item_id__in=taken.item_ids
        ).exists()
        # When a fresh worker starts, the watchdog finds the job silent, and the
        # killed chunk's own message is delivered again as well (acks_late)
        worker = start_worker(log_path, test_database_url, queues="batch")
        settings.BATCH_STALE_SECONDS = 1
        time.sleep(1.5)
        BatchJob.objects.filter(pk=job.pk).update(progress_at=None)
        assert batch_jobs_requeue_stale() == {"requeued": [job.pk]}
        batch_chunk_run_task.delay(taken.pk)
        # Then the job finishes, with one result per product, none missing
        _poll(
            lambda: BatchJob.objects.get(pk=job.pk).status == "finished",
            timeout=240,  # generous: CI machines are often busy
            worker=worker,
            what="the job to finish",
        )
        job.refresh_from_db()
        assert (job.done, job.chunks_done, job.total) == (900, 3, 900)
        results = BatchResult.objects.filter(job=job)
        assert results.count() == 900
        assert set(results.values_list("product_id", flat=True)) == set(
            Product.objects.values_list("pk", flat=True)
        )
        assert not results.values("item_id").annotate(n=Count("pk")).filter(n__gt=1)
        assert results.filter(predicted_code="").count() == 0
        # the killed chunk was taken at least twice; the duplicates wrote nothing
        taken.refresh_from_db()
        assert taken.status == "done" and taken.attempts >= 2
        time.sleep(1)
        assert BatchResult.objects.filter(job=job).count() == 900
        passed = True
    finally:
        stop_worker(worker)
        if not passed:
            print(f"--- worker output (exit {worker.returncode}) ---")
            print(log_path.read_text(errors="replace"))
