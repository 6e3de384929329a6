"""The training runs' outbox and recovery, without a worker: what is sent, what is
queued again, and what a broker error does (the real-process cases are in
test_worker_outbox.py)."""

from datetime import timedelta

import pytest
from django.utils import timezone
from kombu.exceptions import OperationalError

from ml.models import TrainingRun
from ml.services.scheduling import training_runs_recover
from ml.services.training_queue import training_run_send, training_runs_send_pending
from ml.tasks import TRAINING_TIME_LIMIT, training_run_execute_task

pytestmark = pytest.mark.django_db


class FakeResult:
    def __init__(self, task_id):
        self.id = task_id


@pytest.fixture
def sent(monkeypatch):
    """The run ids sent to the broker (the broker itself is not the point here)."""
    ids = []

    def delay(run_id):
        ids.append(run_id)
        return FakeResult(f"task-{run_id}")

    monkeypatch.setattr(training_run_execute_task, "delay", delay)
    return ids


@pytest.fixture
def broker_down(monkeypatch):
    def delay(run_id):
        raise OperationalError("Error 111 connecting to 127.0.0.1:6399.")

    monkeypatch.setattr(training_run_execute_task, "delay", delay)


def _aged(run, seconds):
    TrainingRun.objects.filter(pk=run.pk).update(
        created_at=timezone.now() - timedelta(seconds=seconds)
    )


def test_a_send_records_the_message(sent):
    run = TrainingRun.objects.create()
    assert training_run_send(run_id=run.pk) is True
    run.refresh_from_db()
    assert (sent, run.celery_task_id) == ([run.pk], f"task-{run.pk}")
    assert run.enqueued_at is not None


def test_a_broker_error_leaves_the_run_pending(broker_down):
    run = TrainingRun.objects.create()
    assert training_run_send(run_id=run.pk) is False
    run.refresh_from_db()
    assert (run.status, run.enqueued_at, run.celery_task_id) == ("queued", None, "")


def test_only_unsent_queued_runs_past_the_grace_are_sent_again(sent):
    unsent = TrainingRun.objects.create()
    _aged(unsent, 30)
    young = TrainingRun.objects.create()  # its creator may still be sending it
    already = TrainingRun.objects.create(enqueued_at=timezone.now())
    _aged(already, 30)
    running = TrainingRun.objects.create(status="running")
    _aged(running, 30)
    assert training_runs_send_pending() == [unsent.pk]
    assert sent == [unsent.pk]
    assert TrainingRun.objects.get(pk=young.pk).enqueued_at is None


def test_a_starting_worker_takes_back_the_runs_of_its_predecessor(
    sent, django_capture_on_commit_callbacks
):
    # Given runs "running" on celery@a (its process died) and on celery@b, with
    # fresh heartbeats
    now = timezone.now()
    common = {"status": "running", "heartbeat_at": now, "started_at": now}
    lost = TrainingRun.objects.create(worker="celery@a 101", **common)
    other = TrainingRun.objects.create(worker="celery@b 202", **common)
    prefix = TrainingRun.objects.create(worker="celery@ab 303", **common)
    # When celery@a starts again
    with django_capture_on_commit_callbacks(execute=True):
        outcome = training_runs_recover(
            worker="celery@a", now=now + timedelta(seconds=1)
        )
    # Then its run is queued again (attempt 1) and sent; the others are untouched
    assert outcome == {"requeued": [lost.pk], "failed": [], "sent": []}
    assert sent == [lost.pk]
    lost.refresh_from_db()
    assert (lost.status, lost.attempts, lost.worker) == ("queued", 1, "")
    assert lost.enqueued_at is not None
    assert TrainingRun.objects.get(pk=other.pk).status == "running"
    assert TrainingRun.objects.get(pk=prefix.pk).status == "running"


def test_the_watchdog_sends_unsent_runs_and_requeues_stale_ones(
    sent, settings, django_capture_on_commit_callbacks
):
    settings.ML_STALE_RUN_SECONDS = 120
    old = timezone.now() - timedelta(seconds=121)
    stale = TrainingRun.objects.create(
        status="running", heartbeat_at=old, worker="celery@a 1"
    )
    unsent = TrainingRun.objects.create()
    _aged(unsent, 30)
    with django_capture_on_commit_callbacks(execute=True):
        outcome = training_runs_recover()
    assert outcome == {"requeued": [stale.pk], "failed": [], "sent": [unsent.pk]}
    assert sorted(sent) == sorted([stale.pk, unsent.pk])


def test_the_visibility_timeout_outlasts_the_training_time_limit(settings):
    assert settings.REDIS_VISIBILITY_TIMEOUT == 4 * 3600
    assert settings.REDIS_VISIBILITY_TIMEOUT > TRAINING_TIME_LIMIT == 3 * 3600 + 300
    assert (
        training_run_execute_task.acks_late,
        training_run_execute_task.reject_on_worker_lost,
    ) == (True, True)
    assert settings.CELERY_TASK_ROUTES["ml.tasks.training_runs_requeue_stale"] == {
        "queue": "watchdog"
    }
