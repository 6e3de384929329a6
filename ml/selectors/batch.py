"""Reads on batch prediction jobs: the list, one job, and its progress."""

from datetime import datetime

from django.db.models import QuerySet
from django.utils import timezone

from ml.models import BatchJob, BatchResult
from rakuten.exceptions import NotFoundError


def batch_job_list() -> QuerySet[BatchJob]:
    return BatchJob.objects.select_related("model_version", "created_by")


def batch_job_get(*, pk: int) -> BatchJob:
    try:
        return batch_job_list().get(pk=pk)
    except BatchJob.DoesNotExist as exc:
        raise NotFoundError("No such batch job.") from exc


def batch_job_progress(job: BatchJob, *, now: datetime | None = None) -> dict:
    """How far the job is: ``done``/``total`` items, ``percent``, ``chunks_done``/
    ``chunks_total``, ``elapsed_seconds`` since its first chunk started (to its end
    when it is over), ``items_per_second`` over that time, and ``eta_seconds`` at
    that rate (None before any chunk is done, and once the job is over)."""
    now = now or timezone.now()
    percent = 100.0 * job.done / job.total if job.total else 100.0
    elapsed = rate = eta = None
    if job.started_at is not None:
        end = job.finished_at or job.cancelled_at or now
        elapsed = max((end - job.started_at).total_seconds(), 0.0)
        if job.done and elapsed > 0:
            rate = job.done / elapsed
            if job.status in (BatchJob.Status.PENDING, BatchJob.Status.RUNNING):
                eta = (job.total - job.done) / rate
    return {
        "done": job.done,
        "total": job.total,
        "percent": round(percent, 1),
        "chunks_done": job.chunks_done,
        "chunks_total": job.chunks_total,
        "elapsed_seconds": None if elapsed is None else round(elapsed, 1),
        "items_per_second": None if rate is None else round(rate, 1),
        "eta_seconds": None if eta is None else round(eta, 1),
    }


def batch_result_list(*, job: BatchJob) -> QuerySet[BatchResult]:
    return BatchResult.objects.filter(job=job).order_by("item_id")


def batch_job_result_counts(*, job: BatchJob) -> dict:
    """Results written, applied, and empty (nothing to predict from)."""
    results = BatchResult.objects.filter(job=job)
    return {
        "results": results.count(),
        "applied": results.filter(applied=True).count(),
        "empty": results.filter(predicted_code="").count(),
    }
