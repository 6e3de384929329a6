"""Celery tasks of the ml app: thin, they take primary keys and call one service."""

from celery import shared_task

from ml.services.monitoring import model_monitoring_run
from ml.services.scheduling import (
    training_run_scheduled_execute,
    training_runs_requeue_stale,
)
from ml.services.training_runs import TrainingFailedError, training_run_execute

# Training is long and CPU-heavy: its own queue (routed in settings), late
# acknowledgement, and limits so a stuck run cannot hold a worker forever.
TRAINING_SOFT_TIME_LIMIT = 3 * 3600
TRAINING_TIME_LIMIT = TRAINING_SOFT_TIME_LIMIT + 300


@shared_task(
    name="ml.tasks.training_run_execute",
    acks_late=True,
    soft_time_limit=TRAINING_SOFT_TIME_LIMIT,
    time_limit=TRAINING_TIME_LIMIT,
)
def training_run_execute_task(run_id: int) -> int:
    try:
        run = training_run_execute(run_id=run_id)
    except TrainingFailedError:
        return run_id  # recorded on the run; retrying would fail the same way
    return run.pk


@shared_task(
    name="ml.tasks.retraining_scheduled",
    acks_late=True,
    soft_time_limit=TRAINING_SOFT_TIME_LIMIT,
    time_limit=TRAINING_TIME_LIMIT,
)
def retraining_scheduled_task(kind: str, schedule_key: str | None = None) -> int:
    """Beat's weekly (incremental) and monthly (full) retraining; one run per schedule
    window however often the message is delivered."""
    try:
        run = training_run_scheduled_execute(kind=kind, schedule_key=schedule_key)
    except TrainingFailedError:
        return 0  # recorded on the run; retrying would fail the same way
    return run.pk


@shared_task(name="ml.tasks.metrics_snapshot")
def metrics_snapshot_task(days: int | None = None) -> list[int]:
    """Beat's daily snapshot of the live metrics, and the alerts it opens."""
    return [alert.pk for alert in model_monitoring_run(days=days)]


@shared_task(name="ml.tasks.training_runs_requeue_stale")
def training_runs_requeue_stale_task() -> dict:
    """Queue again the runs whose worker died (no heartbeat)."""
    return training_runs_requeue_stale()
