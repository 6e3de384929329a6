"""THE reliability test: a real worker is SIGKILLed in the middle of a training run.
Nothing is lost, no partial model appears, the active model is unchanged; a fresh
worker resumes the run after the stale-run requeue, and it completes exactly once even
when the message is delivered again."""

import contextlib
import os
import random
import signal
import time

import pytest
from django.db.models import Max
from django.utils import timezone

from catalog.models import Product
from ml.models import ModelVersion, Prediction, TrainingRun
from ml.services.model_versions import model_version_activate
from ml.services.scheduling import training_runs_requeue_stale
from ml.services.training_runs import training_run_create
from ml.tasks import training_run_execute_task
from rakuten.celery import app
from tests.factories import PredictionFactory, ProductFactory, product_text
from tests.workers import start_worker, stop_worker

pytestmark = pytest.mark.worker


def _poll(condition, *, timeout: float, worker=None, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        if worker is not None and worker.poll() is not None:
            pytest.fail(f"the worker exited ({worker.returncode}) waiting for {what}")
        time.sleep(0.2)
    runs = list(TrainingRun.objects.values("pk", "status", "stage", "progress", "log"))
    pytest.fail(f"timed out waiting for {what}: {runs}")


def _purge_ml_queue():
    # The queue may not exist yet.
    with app.connection_for_write() as conn, contextlib.suppress(Exception):
        conn.default_channel.queue_purge("ml")


def test_a_killed_training_run_resumes_and_completes_exactly_once(
    restore_migration_data,
    transactional_db,
    django_db_serialized_rollback,
    test_database_url,
    training_categories,
    trained_bundle,
    settings,
    tmp_path,
):
    if app.conf.task_always_eager:
        pytest.skip("CELERY_TASK_ALWAYS_EAGER is on: tasks would not reach a worker")
    artifacts = tmp_path / "ml"
    settings.ML_ARTIFACTS_DIR = str(artifacts)
    worker_env = {"ML_ARTIFACTS_DIR": str(artifacts)}
    # Given an active model, 300 confirmed products and some predictions
    active = model_version_activate(
        version=ModelVersion.objects.create(
            name="text test model",
            status=ModelVersion.Status.READY,
            **trained_bundle,
        ),
        reason="test",
    )
    rng = random.Random(0)
    for i in range(240):
        code = sorted(training_categories)[i % 3]
        title, description = product_text(code, rng)
        product = ProductFactory(
            title=title,
            description=description,
            category=training_categories[code],
            seller=None,
            confirmed_at=timezone.now(),
        )
        if i % 10 == 0:
            PredictionFactory(
                model_version=active,
                product=product,
                predicted_category=training_categories[code],
            )
    counts = (Product.objects.count(), Prediction.objects.count())
    labels = sorted(Product.objects.values_list("pk", "category_id"))
    versions = ModelVersion.objects.count()
    _purge_ml_queue()
    log_path = tmp_path / "worker.log"
    worker = start_worker(log_path, test_database_url, queues="ml", env=worker_env)
    passed = False
    try:
        # When a training run is queued and the worker is killed while it trains,
        # after its first checkpoint
        run = training_run_create(
            parameters={"text_only": True, "epochs": 10, "activate": True}
        )
        checkpoints = artifacts / "runs" / str(run.pk) / "checkpoints"
        _poll(
            lambda: (
                TrainingRun.objects.get(pk=run.pk).status == "running"
                and checkpoints.exists()
                and any(checkpoints.iterdir())
            ),
            timeout=120,
            worker=worker,
            what="the run's first checkpoint",
        )
        os.kill(worker.pid, signal.SIGKILL)
        worker.wait(timeout=10)
        killed = TrainingRun.objects.get(pk=run.pk)
        # Then the run is left "running", no model version appeared, the active model
        # is unchanged and no product, label or prediction is lost
        assert killed.status == "running" and killed.model_version is None
        assert ModelVersion.objects.count() == versions
        assert ModelVersion.objects.get(status="active") == active
        assert (Product.objects.count(), Prediction.objects.count()) == counts
        assert sorted(Product.objects.values_list("pk", "category_id")) == labels
        # When a fresh worker starts and the stale-run check runs
        worker = start_worker(log_path, test_database_url, queues="ml", env=worker_env)
        settings.ML_STALE_RUN_SECONDS = 1
        time.sleep(1.5)
        outcome = training_runs_requeue_stale()
        assert outcome == {"requeued": [run.pk], "failed": []}
        # and the original message is delivered again as well (acks_late)
        training_run_execute_task.delay(run.pk)
        # Then the run completes, once, and its model is activated
        done = _poll(
            lambda: (
                (r := TrainingRun.objects.get(pk=run.pk)).status
                in ("succeeded", "failed")
                and r
            ),
            timeout=240,  # generous: CI machines are often busy
            worker=worker,
            what="the run to finish",
        )
        assert (done.status, done.attempts, done.error) == ("succeeded", 1, "")
        assert ModelVersion.objects.count() == versions + 1
        assert ModelVersion.objects.get(status="active") == done.model_version
        # the duplicate message finds the run finished and trains nothing
        time.sleep(2)
        assert ModelVersion.objects.count() == versions + 1
        assert TrainingRun.objects.aggregate(n=Max("pk"))["n"] == run.pk
        # and it resumed from its checkpoint: no epoch was trained twice
        epochs = [
            line.split()[2] for line in done.log.splitlines() if " epoch " in line
        ]
        assert epochs[-1] == "10/10"
        assert len(epochs) == len(set(epochs))
        passed = True
    finally:
        stop_worker(worker)
        if not passed:
            print(f"--- worker output (exit {worker.returncode}) ---")
            print(log_path.read_text(errors="replace"))
