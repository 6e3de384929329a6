"""Scheduled retraining, exactly once per schedule window, and the recovery of runs
whose worker died or whose message never reached the broker (the watchdog)."""

from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from audit.services import audit_event_record
from ml.metrics import training_run_observe
from ml.models import (
    TrainingRun,
)
from ml.options import training_options_clean, training_options_pick
from ml.selectors.model_versions import model_version_get_active
from ml.services.training_queue import (
    training_run_enqueue_on_commit,
    training_runs_send_pending,
)
from ml.services.training_runs import training_run_execute
from rakuten.exceptions import ApplicationError


def schedule_key_for(*, kind: str, now: datetime | None = None) -> str:
    """The schedule window a retraining belongs to: the ISO week for incremental runs
    ("incremental:2026-W48"), the month for full ones ("full:2026-11")."""
    now = timezone.localtime(now or timezone.now())
    if kind == TrainingRun.Kind.INCREMENTAL:
        year, week, _ = now.isocalendar()
        return f"incremental:{year}-W{week:02d}"
    return f"full:{now:%Y-%m}"


def training_run_schedule(
    *, kind: str, schedule_key: str | None = None, now: datetime | None = None
) -> tuple[TrainingRun, bool]:
    """The run of this schedule window, created on first call (``created`` True).
    However often it is called, even concurrently, one run exists per key: the
    unique ``schedule_key`` decides, and the loser reads the winner's row."""
    if kind not in TrainingRun.Kind.values:
        raise ApplicationError(f"Unknown retraining kind {kind!r}.")
    key = schedule_key or schedule_key_for(kind=kind, now=now)
    existing = TrainingRun.objects.filter(schedule_key=key).first()
    if existing is not None:
        return existing, False
    # Retrain with the active model's options (its backbone, epochs, ...).
    active = model_version_get_active()
    active_run = getattr(active, "training_run", None) if active else None
    options = training_options_pick(
        active_run.parameters if active_run else {}, scheduled=True
    )
    if not options:
        options = {
            "text_only": active is None or not active.backbone,
            "backbone": (active.backbone if active is not None else "") or None,
        }
    parameters = training_options_clean(options)
    parameters["gate"] = True  # promoted by the gate, not unconditionally
    try:
        with transaction.atomic():
            run = TrainingRun.objects.create(
                kind=kind, parameters=parameters, schedule_key=key
            )
            audit_event_record(
                verb="training_run.scheduled", obj=run, message=f"{kind} run {key}"
            )
    except IntegrityError:
        return TrainingRun.objects.get(schedule_key=key), False
    return run, True


def training_run_scheduled_execute(
    *, kind: str, schedule_key: str | None = None, worker: str = ""
) -> TrainingRun:
    """Beat's retraining: find or create the window's run and execute it here (the
    task already runs on the ``ml`` queue). A second delivery finds the run finished
    or running and does nothing."""
    run, _ = training_run_schedule(kind=kind, schedule_key=schedule_key)
    return training_run_execute(run_id=run.pk, worker=worker)


def training_runs_requeue_stale(*, now: datetime | None = None) -> dict[str, list]:
    """Runs marked running whose heartbeat is older than ``ML_STALE_RUN_SECONDS`` lost
    their worker. Each is queued again once (it resumes from its last checkpoint, as
    the same run id keeps the same work folder); a second loss marks it failed.
    Returns ``{"requeued": [ids], "failed": [ids]}``."""
    now = now or timezone.now()
    cutoff = now - timedelta(seconds=settings.ML_STALE_RUN_SECONDS)
    stale = TrainingRun.objects.filter(
        status=TrainingRun.Status.RUNNING, heartbeat_at__lt=cutoff
    )
    return _training_runs_requeue_lost(
        stale,
        still_lost=lambda run: run.heartbeat_at < cutoff,
        reason=lambda run: f"no heartbeat since {run.heartbeat_at:%Y-%m-%d %H:%M:%S}",
        now=now,
    )


def training_runs_recover(
    *, worker: str | None = None, now: datetime | None = None
) -> dict[str, list]:
    """The watchdog (beat, every minute) and a starting worker (``worker``: its node
    name): send the queued runs whose message never reached the broker, and queue
    again the runs whose worker died: those with a stale heartbeat, and, when
    ``worker`` is given, those that the worker of that name was running before it
    started again (it is their worker's successor, so their worker is gone).
    Returns ``{"requeued": [ids], "failed": [ids], "sent": [ids]}``."""
    now = now or timezone.now()
    outcome = training_runs_requeue_stale(now=now)
    if worker:
        lost = TrainingRun.objects.filter(
            status=TrainingRun.Status.RUNNING,
            worker__startswith=f"{worker} ",
            started_at__lt=now,
        )
        more = _training_runs_requeue_lost(
            lost,
            still_lost=lambda run: run.worker.startswith(f"{worker} "),
            reason=lambda run: f"its worker {run.worker} stopped ({worker} restarted)",
            now=now,
        )
        for key in ("requeued", "failed"):
            outcome[key] += more[key]
    outcome["sent"] = training_runs_send_pending(now=now)
    return outcome


def _training_runs_requeue_lost(
    runs, *, still_lost, reason, now: datetime
) -> dict[str, list]:
    outcome: dict[str, list] = {"requeued": [], "failed": []}
    for run_id in list(runs.values_list("pk", flat=True)):
        with transaction.atomic():
            run = TrainingRun.objects.select_for_update().get(pk=run_id)
            if run.status != TrainingRun.Status.RUNNING or not still_lost(run):
                continue  # it moved on while we looked
            why = reason(run)
            if run.attempts >= 1:
                run.status = TrainingRun.Status.FAILED
                run.error = "The worker stopped twice (no heartbeat): gave up."
                run.finished_at = now
                run.save(update_fields=["status", "error", "finished_at"])
                outcome["failed"].append(run.pk)
                training_run_observe(kind=run.kind, outcome="lost", seconds=None)
                verb = "training_run.failed"
            else:
                run.status = TrainingRun.Status.QUEUED
                run.attempts += 1
                run.enqueued_at = None  # the outbox: sent on commit, or again later
                run.worker = ""
                run.save(update_fields=["status", "attempts", "enqueued_at", "worker"])
                training_run_enqueue_on_commit(run_id=run.pk)
                outcome["requeued"].append(run.pk)
                verb = "training_run.requeued"
            audit_event_record(
                verb=verb, obj=run, message=why, data={"attempts": run.attempts}
            )
    return outcome
