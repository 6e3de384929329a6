"""Batch prediction jobs: create one over a scope, run its chunks (Celery tasks on the
``batch`` queue), cancel, resume, and recover chunks whose worker or message was lost.

Exactly once, whatever the broker does (see ``ml.models.batch``): a chunk is predicted
outside any transaction, then written in one transaction that starts with the
conditional UPDATE ``pending -> done`` of its row. A second delivery of the same chunk
(``acks_late`` after a lost worker, or the watchdog's requeue) finds the row done and
writes nothing, or loses the UPDATE race and rolls back. Results are unique per (job,
item); the job's counters move with ``F()`` in that same transaction, and the job
finishes with one conditional UPDATE, whose winner runs the scope's ``on_finish``. A job
that fails or is cancelled runs the scope's optional ``on_stop`` in the transaction
that marks it so.
"""

import logging
import time
from collections.abc import Iterable, Iterator
from datetime import datetime, timedelta
from itertools import islice

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from audit.services import audit_event_record
from ml.models import BatchChunk, BatchJob, BatchResult, ModelVersion
from ml.selectors.model_versions import model_version_get_active
from ml.services.batch_predict import ItemPrediction, batch_items_predict
from ml.services.batch_scopes import batch_scope_get
from rakuten.exceptions import ApplicationError, ConflictError
from rakuten.queueing import enqueue_on_commit

logger = logging.getLogger(__name__)

BATCH_CHUNK_TASK = "ml.tasks.batch_chunk_run"
MAX_CHUNK_SIZE = 10_000
# Chunk rows written per INSERT when a job is created.
_CHUNK_ROWS_PER_INSERT = 1_000
_OPEN = (BatchJob.Status.PENDING, BatchJob.Status.RUNNING)


def batch_job_create(
    *,
    scope: str,
    scope_params: dict | None = None,
    model_version: ModelVersion | None = None,
    chunk_size: int | None = None,
    apply_threshold: float | None = None,
    user=None,
) -> BatchJob:
    """A job predicting ``scope`` with ``model_version`` (the active one by
    default), split into chunks of ``chunk_size`` items, each sent to the ``batch``
    queue once this transaction commits. A scope with no item finishes at once."""
    handler = batch_scope_get(scope)
    params = handler.validate(dict(scope_params or {}))
    version = model_version or model_version_get_active()
    if version is None:
        raise ApplicationError("No model is active: choose a model version.")
    if not version.bundle_sha256:
        raise ApplicationError(f"Model version #{version.pk} has no trained bundle.")
    size = settings.BATCH_CHUNK_SIZE if chunk_size is None else chunk_size
    if not isinstance(size, int) or not 1 <= size <= MAX_CHUNK_SIZE:
        raise ApplicationError(
            f"The chunk size must be a whole number from 1 to {MAX_CHUNK_SIZE}."
        )
    if apply_threshold is not None and not 0.0 <= apply_threshold <= 1.0:
        raise ApplicationError("The apply threshold is a probability, from 0 to 1.")
    with transaction.atomic():
        job = BatchJob.objects.create(
            scope=scope,
            scope_params=params,
            model_version=version,
            chunk_size=size,
            apply_threshold=apply_threshold,
            created_by=user if getattr(user, "is_authenticated", False) else None,
        )
        total, chunk_ids = _chunks_write(job, handler.item_ids(job), size)
        BatchJob.objects.filter(pk=job.pk).update(
            total=total, chunks_total=len(chunk_ids)
        )
        job.total, job.chunks_total = total, len(chunk_ids)
        audit_event_record(
            verb="batch_job.created",
            obj=job,
            actor=user,
            message=f"{scope} with model version #{version.pk}: {total} items "
            f"in {len(chunk_ids)} chunks",
            data={"scope": scope, "params": params, "model_version": version.pk},
        )
        if not chunk_ids:
            _job_finish_if_complete(job.pk)
        for chunk_id in chunk_ids:
            enqueue_on_commit(BATCH_CHUNK_TASK, chunk_id)
    job.refresh_from_db()
    return job


def _batched(ids: Iterable[int], size: int) -> Iterator[list[int]]:
    iterator = iter(ids)
    while part := list(islice(iterator, size)):
        yield part


def _chunks_write(
    job: BatchJob, ids: Iterable[int], size: int
) -> tuple[int, list[int]]:
    """Write the job's chunks in bulk; returns (items, chunk ids in order)."""
    total, index, rows = 0, 0, []
    for part in _batched(ids, size):
        rows.append(BatchChunk(job=job, index=index, item_ids=part))
        total, index = total + len(part), index + 1
        if len(rows) >= _CHUNK_ROWS_PER_INSERT:
            BatchChunk.objects.bulk_create(rows)
            rows = []
    if rows:
        BatchChunk.objects.bulk_create(rows)
    chunks = BatchChunk.objects.filter(job=job).order_by("index")
    chunk_ids = list(chunks.values_list("pk", flat=True))
    return total, chunk_ids


def batch_chunk_run(*, chunk_id: int, worker: str = "") -> str:
    """Predict one chunk and write its results, once. Returns what happened:
    ``"done"``, ``"already done"``, ``"skipped"`` (its job is over, cancelled or
    gone) or ``"failed"`` (the job could not predict: recorded on the job)."""
    chunk = BatchChunk.objects.select_related("job__model_version").filter(pk=chunk_id)
    chunk = chunk.first()
    if chunk is None or chunk.job.status not in _OPEN:
        return "skipped"
    if chunk.status == BatchChunk.Status.DONE:
        return "already done"
    job = chunk.job
    now = timezone.now()
    BatchChunk.objects.filter(pk=chunk.pk).update(
        attempts=F("attempts") + 1, worker=worker[:255]
    )
    BatchJob.objects.filter(pk=job.pk, status=BatchJob.Status.PENDING).update(
        status=BatchJob.Status.RUNNING, started_at=now
    )
    BatchJob.objects.filter(pk=job.pk).update(progress_at=now)
    started = time.perf_counter()
    try:
        handler = batch_scope_get(job.scope)
        items = handler.items(job, list(chunk.item_ids))
        predictions = batch_items_predict(version=job.model_version, items=items)
    except ApplicationError as exc:
        _job_fail(job, f"chunk {chunk.index}: {exc.message}")
        return "failed"
    seconds = time.perf_counter() - started
    by_id = {item.item_id: item for item in items}
    with transaction.atomic():
        won = BatchChunk.objects.filter(
            pk=chunk.pk, status=BatchChunk.Status.PENDING
        ).update(
            status=BatchChunk.Status.DONE,
            seconds=seconds,
            done_at=timezone.now(),
            worker=worker[:255],
        )
        if not won:
            return "already done"  # another delivery wrote it meanwhile
        results = [_result(job, p, by_id[p.item_id]) for p in predictions]
        BatchResult.objects.bulk_create(results, ignore_conflicts=True, batch_size=500)
        handler.on_results(job, results)
        BatchJob.objects.filter(pk=job.pk).update(
            done=F("done") + len(chunk.item_ids),
            chunks_done=F("chunks_done") + 1,
            progress_at=timezone.now(),
        )
        _job_finish_if_complete(job.pk)
    return "done"


def _result(job: BatchJob, prediction: ItemPrediction, item) -> BatchResult:
    return BatchResult(
        job=job,
        item_id=prediction.item_id,
        product_id=item.product_id,
        predicted_code=prediction.code,
        probability=prediction.probability,
        top_k=[{"code": c, "probability": round(p, 6)} for c, p in prediction.top],
        used=prediction.used,
    )


def _job_finish_if_complete(job_id: int) -> bool:
    """Finish the job if every chunk is done (inside the caller's transaction): one
    conditional UPDATE, so only one caller wins and runs the scope's on_finish."""
    won = BatchJob.objects.filter(
        pk=job_id, status__in=_OPEN, chunks_done__gte=F("chunks_total")
    ).update(status=BatchJob.Status.FINISHED, finished_at=timezone.now())
    if not won:
        return False
    job = BatchJob.objects.select_related("model_version").get(pk=job_id)
    batch_scope_get(job.scope).on_finish(job)
    audit_event_record(
        verb="batch_job.finished",
        obj=job,
        message=f"{job.done} of {job.total} items predicted",
    )
    return True


def _job_fail(job: BatchJob, error: str) -> None:
    with transaction.atomic():
        failed = BatchJob.objects.filter(pk=job.pk, status__in=_OPEN).update(
            status=BatchJob.Status.FAILED,
            error=error[:2000],
            finished_at=timezone.now(),
        )
        if failed:
            _scope_stop(job, BatchJob.Status.FAILED)
            audit_event_record(verb="batch_job.failed", obj=job, message=error[:500])
    logger.warning("batch job %s failed: %s", job.pk, error)


def _scope_stop(job: BatchJob, status: str) -> None:
    """Run the scope's optional ``on_stop`` (inside the caller's transaction, which
    marked the job failed or cancelled). A scope without it, or one that cannot be
    loaded (the reason the job failed), does nothing."""
    try:
        handler = batch_scope_get(job.scope)
    except ApplicationError:
        return
    on_stop = getattr(handler, "on_stop", None)
    if on_stop is not None:
        on_stop(job, status)


def batch_job_cancel(*, job: BatchJob, user=None) -> BatchJob:
    """Stop a pending or running job: its queued chunks are skipped when they are
    delivered; a chunk already predicting still writes its results. It can be
    resumed."""
    with transaction.atomic():
        cancelled = BatchJob.objects.filter(pk=job.pk, status__in=_OPEN).update(
            status=BatchJob.Status.CANCELLED, cancelled_at=timezone.now()
        )
        if not cancelled:
            job.refresh_from_db()
            raise ConflictError(f"The job is {job.status}: there is nothing to cancel.")
        _scope_stop(job, BatchJob.Status.CANCELLED)
        audit_event_record(verb="batch_job.cancelled", obj=job, actor=user)
    job.refresh_from_db()
    return job


def batch_job_resume(*, job: BatchJob, user=None) -> BatchJob:
    """Start again a cancelled, failed or stuck job: its pending chunks are sent
    again (done ones are kept). A finished job cannot be resumed."""
    with transaction.atomic():
        job = BatchJob.objects.select_for_update().get(pk=job.pk)
        if job.status == BatchJob.Status.FINISHED:
            raise ConflictError("The job is finished: there is nothing to resume.")
        job.status = (
            BatchJob.Status.RUNNING if job.started_at else BatchJob.Status.PENDING
        )
        job.error = ""
        job.cancelled_at = job.finished_at = None
        job.progress_at = timezone.now()
        job.save(
            update_fields=[
                "status",
                "error",
                "cancelled_at",
                "finished_at",
                "progress_at",
            ]
        )
        audit_event_record(verb="batch_job.resumed", obj=job, actor=user)
        if not _job_finish_if_complete(job.pk):
            _chunks_send_pending(job)
    job.refresh_from_db()
    return job


def _chunks_send_pending(job: BatchJob) -> list[int]:
    chunk_ids = list(
        job.chunks.filter(status=BatchChunk.Status.PENDING)
        .order_by("index")
        .values_list("pk", flat=True)
    )
    for chunk_id in chunk_ids:
        enqueue_on_commit(BATCH_CHUNK_TASK, chunk_id)
    return chunk_ids


def batch_jobs_requeue_stale(*, now: datetime | None = None) -> dict[str, list]:
    """The watchdog's part for batch jobs: a pending or running job with pending
    chunks and no progress for ``BATCH_STALE_SECONDS`` lost its worker (killed
    mid-chunk) or its messages; its pending chunks are sent again. Safe: a chunk that
    is done, or done meanwhile, writes nothing twice. Returns ``{"requeued": [job
    ids]}``."""
    now = now or timezone.now()
    cutoff = now - timedelta(seconds=settings.BATCH_STALE_SECONDS)
    stale = BatchJob.objects.filter(
        status__in=_OPEN,
        chunks_done__lt=F("chunks_total"),
        created_at__lt=cutoff,
    ).exclude(progress_at__gte=cutoff)
    requeued = []
    for job_id in list(stale.values_list("pk", flat=True)):
        with transaction.atomic():
            # one watchdog wins the job (a concurrent one finds it fresh)
            taken = (
                BatchJob.objects.filter(pk=job_id, status__in=_OPEN)
                .exclude(progress_at__gte=cutoff)
                .update(progress_at=now)
            )
            if taken:
                job = BatchJob.objects.get(pk=job_id)
                _chunks_send_pending(job)
                requeued.append(job_id)
    return {"requeued": requeued}
