"""Work survives the broker and the worker (issue 13), with real processes: a run
created while the broker is down is answered 202 (no 500), stays queued, and runs
once the broker is back; a worker SIGKILLed mid-run is replaced by a worker of the
same name, which takes the run back at once (not after the stale-run delay) and
finishes it once, even when the message is delivered again."""

import contextlib
import os
import random
import shutil
import signal
import socket
import subprocess
import time
from datetime import timedelta

import pytest
from django.db.models import Max
from django.utils import timezone

from ml.models import ModelVersion, TrainingRun
from ml.options import training_options_serializer_fields
from ml.services.training_queue import PENDING_GRACE_SECONDS
from ml.services.training_runs import training_run_create
from ml.tasks import training_run_execute_task
from rakuten.celery import app
from tests.factories import ProductFactory, product_text
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
    runs = list(TrainingRun.objects.values("pk", "status", "stage", "attempts"))
    pytest.fail(f"timed out waiting for {what}: {runs}")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def _broker(url: str):
    """Send this process's tasks to ``url`` (the services send through the app).
    Celery reads CELERY_BROKER_URL from the environment before its configuration, so
    both change; the connection pools are dropped (not closed: tasks sent before may
    still hold them) so that new ones are made for the new address."""

    def switch(to: str | None, conf: str) -> None:
        if to is None:
            os.environ.pop("CELERY_BROKER_URL", None)
        else:
            os.environ["CELERY_BROKER_URL"] = to
        app.conf.broker_url = conf
        app._pool = None
        app.amqp._producer_pool = None

    before_env = os.environ.get("CELERY_BROKER_URL")
    before_conf = app.conf.broker_url
    switch(url, url)
    try:
        assert app.connection_for_write().as_uri().endswith(url.rsplit(":", 1)[1])
        yield
    finally:
        switch(before_env, before_conf)


def _redis_server(port: int, log_path) -> subprocess.Popen:
    with open(log_path, "ab") as log:
        server = subprocess.Popen(
            ["redis-server", "--port", str(port), "--save", "", "--appendonly", "no"],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError):
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return server
        time.sleep(0.1)
    server.kill()
    pytest.fail("the private redis-server did not start")


def _products(training_categories, n: int) -> None:
    rng = random.Random(0)
    for i in range(n):
        code = sorted(training_categories)[i % 3]
        title, description = product_text(code, rng)
        ProductFactory(
            title=title,
            description=description,
            category=training_categories[code],
            seller=None,
            confirmed_at=timezone.now(),
        )


@pytest.fixture
def artifacts(settings, tmp_path):
    settings.ML_ARTIFACTS_DIR = str(tmp_path / "ml")
    return tmp_path / "ml"


@pytest.mark.skipif(shutil.which("redis-server") is None, reason="no redis-server")
def test_a_run_created_while_the_broker_is_down_runs_when_it_is_back(
    restore_migration_data,
    transactional_db,
    django_db_serialized_rollback,
    test_database_url,
    training_categories,
    staff_user,
    api_as,
    artifacts,
    tmp_path,
):
    if app.conf.task_always_eager:
        pytest.skip("CELERY_TASK_ALWAYS_EAGER is on: tasks would not reach a worker")
    # Given a broker address where nothing listens yet, and products to learn from
    _products(training_categories, 60)
    port = _free_port()
    url = f"redis://127.0.0.1:{port}/0"
    worker = server = None
    log_path = tmp_path / "worker.log"
    passed = False
    try:
        training_options_serializer_fields()  # imports torch: not part of the timing
        with _broker(url):
            # When staff start a run
            started = time.monotonic()
            response = api_as(staff_user).post(
                "/api/v1/training-runs/",
                {"text_only": True, "epochs": 2},
                format="json",
            )
            answered_in = time.monotonic() - started
        # Then the API answers 202 at once, and the run is committed, queued, unsent
        assert response.status_code == 202, response.content
        assert answered_in < 5
        assert (response.json()["status"], response.json()["enqueued_at"]) == (
            "queued",
            None,
        )
        run = TrainingRun.objects.get()
        assert (run.status, run.enqueued_at, run.celery_task_id) == ("queued", None, "")
        # When the broker comes back and a worker starts (after the few seconds a run
        # is left to its creator's own send)
        server = _redis_server(port, tmp_path / "redis.log")
        left = run.created_at + timedelta(seconds=PENDING_GRACE_SECONDS + 1)
        time.sleep(max(0.0, (left - timezone.now()).total_seconds()))
        worker = start_worker(
            log_path,
            test_database_url,
            queues="ml,watchdog",
            env={"CELERY_BROKER_URL": url, "ML_ARTIFACTS_DIR": str(artifacts)},
        )
        # Then the worker sends the run on starting and runs it, once
        _poll(
            lambda: TrainingRun.objects.get(pk=run.pk).enqueued_at is not None,
            timeout=60,
            worker=worker,
            what="the run to be sent",
        )
        done = _poll(
            lambda: (
                (r := TrainingRun.objects.get(pk=run.pk)).status
                in ("succeeded", "failed")
                and r
            ),
            timeout=240,
            worker=worker,
            what="the run to finish",
        )
        assert (done.status, done.attempts, done.error) == ("succeeded", 0, "")
        assert done.enqueued_at is not None and done.celery_task_id != ""
        assert ModelVersion.objects.count() == 1
        passed = True
    finally:
        if worker is not None:
            stop_worker(worker)
        if server is not None:
            server.terminate()
            server.wait(timeout=10)
        if not passed and log_path.exists():
            print(log_path.read_text(errors="replace"))


def _purge_ml_queue():
    with app.connection_for_write() as conn, contextlib.suppress(Exception):
        conn.default_channel.queue_purge("ml")


def test_a_killed_workers_run_is_taken_back_when_a_worker_starts(
    restore_migration_data,
    transactional_db,
    django_db_serialized_rollback,
    test_database_url,
    training_categories,
    artifacts,
    settings,
    tmp_path,
):
    if app.conf.task_always_eager:
        pytest.skip("CELERY_TASK_ALWAYS_EAGER is on: tasks would not reach a worker")
    # Given a worker training a run (the stale-run delay is the default, 120 s)
    assert settings.ML_STALE_RUN_SECONDS == 120
    _products(training_categories, 240)
    _purge_ml_queue()
    env = {"ML_ARTIFACTS_DIR": str(artifacts)}
    log_path = tmp_path / "worker.log"
    worker = start_worker(log_path, test_database_url, queues="ml,watchdog", env=env)
    passed = False
    try:
        run = training_run_create(parameters={"text_only": True, "epochs": 10})
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
        running = TrainingRun.objects.get(pk=run.pk)
        assert running.worker.startswith("celery@")
        # When the worker is SIGKILLed and a new one starts under the same name
        os.kill(worker.pid, signal.SIGKILL)
        worker.wait(timeout=10)
        assert TrainingRun.objects.get(pk=run.pk).status == "running"
        restarted = time.monotonic()
        worker = start_worker(
            log_path, test_database_url, queues="ml,watchdog", env=env
        )
        # Then it takes the run back within a minute (attempt 1), not after 120 s
        _poll(
            lambda: (
                (r := TrainingRun.objects.get(pk=run.pk)).attempts == 1
                and r.status == "running"
            ),
            timeout=60,
            worker=worker,
            what="the run to be taken back",
        )
        taken_back_in = time.monotonic() - restarted
        assert taken_back_in < 60
        # and the original message, delivered again, changes nothing
        training_run_execute_task.delay(run.pk)
        done = _poll(
            lambda: (
                (r := TrainingRun.objects.get(pk=run.pk)).status
                in ("succeeded", "failed")
                and r
            ),
            timeout=240,
            worker=worker,
            what="the run to finish",
        )
        assert (done.status, done.attempts, done.error) == ("succeeded", 1, "")
        time.sleep(2)
        assert ModelVersion.objects.count() == 1
        assert TrainingRun.objects.aggregate(n=Max("pk"))["n"] == run.pk
        epochs = [
            line.split()[2] for line in done.log.splitlines() if " epoch " in line
        ]
        assert epochs[-1] == "10/10" and len(epochs) == len(set(epochs))
        print(f"taken back {taken_back_in:.1f}s after the new worker was started")
        passed = True
    finally:
        stop_worker(worker)
        if not passed:
            print(log_path.read_text(errors="replace"))
