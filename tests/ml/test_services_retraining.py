"""Scheduled retraining, exactly once per schedule window, and the recovery of runs
whose worker died: ``training_run_schedule``, ``training_run_scheduled_execute``,
``training_runs_requeue_stale``, the beat schedules."""

import threading
import time
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from ml.core import pipeline
from ml.models import ModelVersion, TrainingRun
from ml.services.scheduling import (
    schedule_key_for,
    training_run_schedule,
    training_runs_requeue_stale,
)
from ml.services.training_runs import training_run_execute
from ml.tasks import retraining_scheduled_task
from tests.factories import confirmed_catalogue


@pytest.fixture
def train_calls(monkeypatch):
    """Counts the core's ``train_model`` calls (the real one still runs)."""
    calls = []
    real = pipeline.train_model

    def counting(*args, **kwargs):
        calls.append(kwargs.get("work_dir"))
        return real(*args, **kwargs)

    monkeypatch.setattr(pipeline, "train_model", counting)
    return calls


@pytest.mark.django_db
def test_the_beat_schedules_are_in_the_database():
    # Given the migrations' data, then the loop's schedules are there, enabled
    tasks = {
        t.name: (t.task, t.args, t.queue, str(t.crontab or t.interval))
        for t in PeriodicTask.objects.filter(name__startswith="ml: ")
    }
    assert {name: value[:3] for name, value in tasks.items()} == {
        "ml: daily metric snapshot and alerts": (
            "ml.tasks.metrics_snapshot",
            "[]",
            "ml",
        ),
        "ml: weekly incremental retraining": (
            "ml.tasks.retraining_scheduled",
            '["incremental"]',
            "ml",
        ),
        "ml: monthly full retraining": (
            "ml.tasks.retraining_scheduled",
            '["full"]',
            "ml",
        ),
        "ml: requeue stale training runs": (
            "ml.tasks.training_runs_requeue_stale",
            "[]",
            "watchdog",
        ),
    }
    assert tasks["ml: requeue stale training runs"][3] == "every minute"
    assert tasks["ml: weekly incremental retraining"][3].startswith("0 3 * * 1")
    assert tasks["ml: monthly full retraining"][3].startswith("0 4 1 * *")


def test_schedule_keys_name_the_week_and_the_month():
    at = timezone.make_aware(timezone.datetime(2026, 11, 26, 12, 0))
    assert schedule_key_for(kind="incremental", now=at) == "incremental:2026-W48"
    assert schedule_key_for(kind="full", now=at) == "full:2026-11"


@pytest.mark.django_db
def test_two_deliveries_of_a_scheduled_retraining_train_once(
    artifacts, train_calls, training_categories, django_capture_on_commit_callbacks
):
    # Given a catalogue and no active model
    confirmed_catalogue(training_categories, per_category=12, seed=0)
    # When beat's message for this month's full retraining is delivered twice
    with django_capture_on_commit_callbacks(execute=True):
        first = retraining_scheduled_task("full")
        second = retraining_scheduled_task("full")
    # Then one run exists for the window, it trained once, and it was promoted by the
    # gate (no model was active)
    run = TrainingRun.objects.get()
    assert first == second == run.pk
    assert run.schedule_key == schedule_key_for(kind="full")
    assert (run.status, run.kind, run.attempts) == ("succeeded", "full", 0)
    assert len(train_calls) == 1
    assert run.model_version.status == ModelVersion.Status.ACTIVE
    assert run.model_version.gate["promote"] is True
    assert run.model_version.gate["reasons"] == ["no model is active"]


@pytest.mark.django_db
def test_a_run_running_on_another_worker_is_not_started_again(
    artifacts, train_calls, training_categories
):
    # Given a run another worker is training (fresh heartbeat)
    run, _ = training_run_schedule(kind="full")
    TrainingRun.objects.filter(pk=run.pk).update(
        status="running", heartbeat_at=timezone.now()
    )
    # When a second delivery executes it
    result = training_run_execute(run_id=run.pk)
    # Then nothing trains and the run is left as it was
    assert result.status == "running"
    assert train_calls == []
    assert TrainingRun.objects.get(pk=run.pk).status == "running"


@pytest.mark.django_db
def test_a_stale_run_is_requeued_once_then_failed(
    settings, django_capture_on_commit_callbacks, monkeypatch
):
    # Given a run whose worker went silent 10 minutes ago, and a fresh one
    from ml import tasks

    settings.ML_STALE_RUN_SECONDS = 300
    queued = []
    monkeypatch.setattr(
        tasks.training_run_execute_task, "delay", lambda pk: queued.append(pk)
    )
    old = timezone.now() - timedelta(minutes=10)
    stale = TrainingRun.objects.create(status="running", heartbeat_at=old)
    fresh = TrainingRun.objects.create(status="running", heartbeat_at=timezone.now())
    # When the stale runs are looked for
    with django_capture_on_commit_callbacks(execute=True):
        outcome = training_runs_requeue_stale()
    # Then the stale run is queued again (once), the fresh one is untouched
    assert outcome == {"requeued": [stale.pk], "failed": []}
    assert queued == [stale.pk]
    stale.refresh_from_db()
    assert (stale.status, stale.attempts) == ("queued", 1)
    assert TrainingRun.objects.get(pk=fresh.pk).status == "running"
    # When it goes silent a second time
    TrainingRun.objects.filter(pk=stale.pk).update(status="running", heartbeat_at=old)
    with django_capture_on_commit_callbacks(execute=True):
        outcome = training_runs_requeue_stale()
    # Then it is marked failed and not queued again
    assert outcome == {"requeued": [], "failed": [stale.pk]}
    assert queued == [stale.pk]
    stale.refresh_from_db()
    assert (stale.status, stale.attempts) == ("failed", 1)
    assert "gave up" in stale.error


def test_concurrent_deliveries_create_and_train_one_run(
    restore_migration_data,
    transactional_db,
    django_db_serialized_rollback,
    artifacts,
    train_calls,
    training_categories,
):
    if connection.vendor == "sqlite":
        pytest.skip("SQLite serialises writers: run with DATABASE_URL=mysql://...")
    # Given a catalogue
    confirmed_catalogue(training_categories, per_category=12, seed=0)
    barrier = threading.Barrier(2)
    results, errors = [], []

    def deliver():
        try:
            barrier.wait(timeout=10)
            results.append(retraining_scheduled_task("incremental", "incremental:X"))
        except Exception as exc:  # reported below
            errors.append(exc)
        finally:
            connection.close()

    # When two workers receive the same scheduled retraining at the same moment
    threads = [threading.Thread(target=deliver) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    # Then both return the same run, which trained exactly once
    assert errors == []
    run = TrainingRun.objects.get()
    assert results == [run.pk, run.pk]
    assert len(train_calls) == 1
    assert TrainingRun.objects.get().schedule_key == "incremental:X"


@pytest.mark.django_db
def test_an_attempt_superseded_by_a_requeue_registers_nothing(
    artifacts, training_categories, monkeypatch
):
    # Given a queued run whose worker is declared dead while it trains
    confirmed_catalogue(training_categories, per_category=12, seed=0)
    run, _ = training_run_schedule(kind="full")
    real = pipeline.train_model

    def requeued_meanwhile(*args, **kwargs):
        result = real(*args, **kwargs)
        TrainingRun.objects.filter(pk=run.pk).update(status="queued", attempts=1)
        return result

    monkeypatch.setattr(pipeline, "train_model", requeued_meanwhile)
    # When the old attempt finishes
    result = training_run_execute(run_id=run.pk)
    # Then it registers no version and leaves the run to the new attempt
    assert (result.status, result.attempts, result.model_version) == ("queued", 1, None)
    assert ModelVersion.objects.count() == 0


def test_a_long_epoch_keeps_the_heartbeat_fresh(
    restore_migration_data,
    transactional_db,
    django_db_serialized_rollback,
    artifacts,
    training_categories,
    monkeypatch,
):
    # Given a core that reports no progress for a while
    from ml.services import training_runs

    monkeypatch.setattr(training_runs, "HEARTBEAT_THREAD_SECONDS", 0.05)
    confirmed_catalogue(training_categories, per_category=4, seed=0)
    run, _ = training_run_schedule(kind="full")
    beats = []
    real = pipeline.train_model

    def silent_then_train(*args, **kwargs):
        started = TrainingRun.objects.get(pk=run.pk).heartbeat_at
        time.sleep(0.5)
        beats.append(TrainingRun.objects.get(pk=run.pk).heartbeat_at > started)
        return real(*args, **kwargs)

    monkeypatch.setattr(pipeline, "train_model", silent_then_train)
    # When the run trains, then its heartbeat moved on during the silent stretch
    assert training_run_execute(run_id=run.pk).status == "succeeded"
    assert beats == [True]


@pytest.mark.django_db
def test_a_scheduled_run_reuses_the_active_model_options():
    # Given an active model trained text-only for 3 epochs
    from tests.factories import ModelVersionFactory

    version = ModelVersionFactory(status="active", active_marker=True)
    TrainingRun.objects.create(
        status="succeeded",
        model_version=version,
        parameters={"text_only": True, "epochs": 3, "activate": True, "is_demo": True},
    )
    # When this week's incremental run is scheduled
    run, created = training_run_schedule(kind="incremental")
    # Then it trains the same way, is gated, and is not activated unconditionally
    assert created is True
    assert run.parameters == {
        "backbone": "efficientnet_lite0",
        "text_only": True,
        "epochs": 3,
        "activate": False,
        "allow_random_backbone": False,
        "gate": True,
    }
    assert training_run_schedule(kind="incremental") == (run, False)
