"""The training runs' outbox: a run row and its message cannot disagree for long.

A run is committed ``queued`` first; its message is sent once the transaction commits
(:func:`training_run_enqueue_on_commit`). If the broker is unreachable then, nothing
fails: the run stays ``queued`` with no ``enqueued_at``, and is sent again by the
watchdog (beat, every minute, on its own ``watchdog`` queue) and whenever a worker
starts (:func:`training_runs_recover`). A run whose worker died while it trained is
queued again at once by a worker that starts under the same name, otherwise by the
watchdog once its heartbeat is ``ML_STALE_RUN_SECONDS`` old. Every delivery is safe to
repeat: ``training_run_execute`` takes a run only while it is ``queued``."""

import logging
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone
from kombu.exceptions import OperationalError as BrokerError

from ml.models import TrainingRun
from rakuten.queueing import task_get

logger = logging.getLogger(__name__)

TRAINING_TASK = "ml.tasks.training_run_execute"
# A queued run younger than this may still be in its creator's on-commit send.
PENDING_GRACE_SECONDS = 10


def training_run_send(*, run_id: int) -> bool:
    """Send the run's message now. True when the broker accepted it (recorded on the
    run); False when the broker is unreachable (logged: the run stays pending)."""
    try:
        result = task_get(TRAINING_TASK).delay(run_id)
    except (BrokerError, ConnectionError, OSError) as exc:
        logger.warning(
            "training run %s stays queued: the broker is unreachable (%s); it is "
            "sent again when the broker is back",
            run_id,
            exc,
        )
        return False
    TrainingRun.objects.filter(pk=run_id, status=TrainingRun.Status.QUEUED).update(
        enqueued_at=timezone.now(), celery_task_id=getattr(result, "id", None) or ""
    )
    return True


def training_run_enqueue_on_commit(*, run_id: int) -> None:
    """Send the run's message once the current transaction commits."""
    transaction.on_commit(lambda: training_run_send(run_id=run_id))


def training_runs_send_pending(*, now: datetime | None = None) -> list[int]:
    """Send the queued runs whose message never reached the broker (older than a few
    seconds). Returns the ids the broker accepted."""
    now = now or timezone.now()
    pending = TrainingRun.objects.filter(
        status=TrainingRun.Status.QUEUED,
        enqueued_at__isnull=True,
        created_at__lt=now - timedelta(seconds=PENDING_GRACE_SECONDS),
    ).order_by("pk")
    return [
        pk
        for pk in pending.values_list("pk", flat=True)
        if training_run_send(run_id=pk)
    ]
