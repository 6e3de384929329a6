"""Celery tasks of the ml app: thin, they take primary keys and call one service."""

import logging

from celery import shared_task
from celery.signals import worker_ready
from django.conf import settings
from django.db import DatabaseError
from django.db import OperationalError as DatabaseOperationalError
from kombu.exceptions import OperationalError as BrokerError

from ml.services.batch import batch_chunk_run, batch_jobs_requeue_stale
from ml.services.batch_predict import batch_predictor_warm
from ml.services.listing_suggestions import listing_import_suggest
from ml.services.mlflow_mirror import mlflow_mirror_sync
from ml.services.monitoring import model_monitoring_run
from ml.services.scheduling import (
    training_run_scheduled_execute,
    training_runs_recover,
)
from ml.services.training_runs import TrainingFailedError, training_run_execute
from rakuten.exceptions import ApplicationError

logger = logging.getLogger(__name__)

# Training is long and CPU-heavy: its own queue (routed in settings), late
# acknowledgement (a message is acknowledged when the run is over, and given back to
# the broker if the worker process is lost), and limits so a stuck run cannot hold a
# worker forever. The Redis visibility timeout (settings) is longer than the hard
# limit, so a running task's message is never delivered twice while it runs.
TRAINING_SOFT_TIME_LIMIT = 3 * 3600
TRAINING_TIME_LIMIT = TRAINING_SOFT_TIME_LIMIT + 300
TRAINING_TASK_OPTIONS = {
    "bind": True,
    "acks_late": True,
    "reject_on_worker_lost": True,
    "soft_time_limit": TRAINING_SOFT_TIME_LIMIT,
    "time_limit": TRAINING_TIME_LIMIT,
}


@shared_task(name="ml.tasks.training_run_execute", **TRAINING_TASK_OPTIONS)
def training_run_execute_task(self, run_id: int) -> int:
    try:
        run = training_run_execute(run_id=run_id, worker=self.request.hostname or "")
    except TrainingFailedError:
        return run_id  # recorded on the run; retrying would fail the same way
    return run.pk


@shared_task(name="ml.tasks.retraining_scheduled", **TRAINING_TASK_OPTIONS)
def retraining_scheduled_task(self, kind: str, schedule_key: str | None = None) -> int:
    """Beat's weekly (incremental) and monthly (full) retraining; one run per schedule
    window however often the message is delivered."""
    try:
        run = training_run_scheduled_execute(
            kind=kind, schedule_key=schedule_key, worker=self.request.hostname or ""
        )
    except TrainingFailedError:
        return 0  # recorded on the run; retrying would fail the same way
    return run.pk


@shared_task(name="ml.tasks.metrics_snapshot")
def metrics_snapshot_task(days: int | None = None) -> list[int]:
    """Beat's daily snapshot of the live metrics, and the alerts it opens."""
    return [alert.pk for alert in model_monitoring_run(days=days)]


@shared_task(name="ml.tasks.listing_import_suggest")
def listing_import_suggest_task(import_id: int) -> int | None:
    """Start the batch job that suggests a seller's listing import (queued by
    ``catalog.services.listing_imports`` by name); a second delivery starts none."""
    listing_import = listing_import_suggest(import_id=import_id)
    return listing_import.batch_job_id if listing_import is not None else None


@shared_task(name="ml.tasks.training_runs_requeue_stale")
def training_runs_requeue_stale_task() -> dict:
    """The watchdog (beat, every minute, routed to the ``watchdog`` queue): queue again
    the runs whose worker died (no heartbeat), and send the queued runs whose message
    never reached the broker; and send again the pending chunks of batch jobs that
    made no progress for ``BATCH_STALE_SECONDS``."""
    outcome = training_runs_recover()
    outcome["batch_jobs_requeued"] = batch_jobs_requeue_stale()["requeued"]
    return outcome


@worker_ready.connect
def training_runs_recover_on_worker_ready(sender, **kwargs) -> None:
    """A worker that starts takes back at once the runs its predecessor of the same
    name lost, and sends the runs the broker never got. A failure here is logged: it
    must not stop the worker (the watchdog tries again every minute)."""
    try:
        outcome = training_runs_recover(worker=sender.hostname)
    except (DatabaseError, BrokerError) as exc:
        logger.warning("training runs not recovered at worker start: %s", exc)
    else:
        logger.info("training runs recovered at worker start: %s", outcome)


@worker_ready.connect
def batch_predictor_warm_on_worker_ready(sender, **kwargs) -> None:
    """A worker that consumes the ``batch`` queue loads the active model at start
    (``BATCH_WARM_ON_START``), not on its first chunk. A failure is logged: the
    first chunk loads it then."""
    if not settings.BATCH_WARM_ON_START:
        return
    if "batch" not in (sender.app.amqp.queues.consume_from or {}):
        return
    try:
        version = batch_predictor_warm()
    except (ApplicationError, DatabaseError) as exc:
        logger.warning("batch model not loaded at worker start: %s", exc)
    else:
        logger.info("batch model loaded at worker start: %s", version)


@shared_task(name="ml.tasks.mlflow_mirror_sync", soft_time_limit=600, time_limit=660)
def mlflow_mirror_sync_task() -> dict:
    """Mirror the pending runs, versions and activations to MLflow (after a run or an
    activation commits, and from beat every ten minutes); nothing without
    ``MLFLOW_TRACKING_URI``."""
    return mlflow_mirror_sync()


# A chunk predicts a few hundred products (seconds on a CPU; minutes with photos on a
# slow backbone): late acknowledgement (given back to the broker if the worker is
# lost) and limits so that a stuck chunk cannot hold a worker forever. A chunk is
# safe to run twice (ml.services.batch), so a transient database error (a lock wait or
# deadlock between chunks writing at once) is retried.
BATCH_CHUNK_SOFT_TIME_LIMIT = 30 * 60
BATCH_CHUNK_TIME_LIMIT = BATCH_CHUNK_SOFT_TIME_LIMIT + 60


@shared_task(
    name="ml.tasks.batch_chunk_run",
    bind=True,
    acks_late=True,
    reject_on_worker_lost=True,
    soft_time_limit=BATCH_CHUNK_SOFT_TIME_LIMIT,
    time_limit=BATCH_CHUNK_TIME_LIMIT,
    autoretry_for=(DatabaseOperationalError,),
    retry_backoff=True,
    max_retries=5,
)
def batch_chunk_run_task(self, chunk_id: int) -> str:
    """One chunk of a batch prediction job (routed to the ``batch`` queue)."""
    return batch_chunk_run(chunk_id=chunk_id, worker=self.request.hostname or "")
