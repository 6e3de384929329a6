from celery import shared_task

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
    from ml.services import TrainingFailedError, training_run_execute

    try:
        run = training_run_execute(run_id=run_id)
    except TrainingFailedError:
        return run_id  # recorded on the run; retrying would fail the same way
    return run.pk
