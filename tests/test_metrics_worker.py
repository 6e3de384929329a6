"""A real Celery worker's metrics: a training run it executes is counted, on its own
port (``METRICS_WORKER_PORT``) and in prometheus-client's multiprocess folder, which
the web's ``/metrics`` reads (``PROMETHEUS_MULTIPROC_DIR``)."""

import socket
import time
import urllib.request

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector

from ml.models import TrainingRun
from ml.services.training_runs import training_run_create
from rakuten.celery import app
from tests.factories import confirmed_catalogue
from tests.metrics import value
from tests.workers import start_worker, stop_worker

pytestmark = pytest.mark.worker


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _get(url: str) -> str | None:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.read().decode()
    except OSError:
        return None


def test_a_worker_exposes_the_training_runs_it_executes(
    restore_migration_data,
    transactional_db,
    django_db_serialized_rollback,
    test_database_url,
    training_categories,
    tmp_path,
    settings,
):
    if app.conf.task_always_eager:
        pytest.skip("CELERY_TASK_ALWAYS_EAGER is on: tasks would not reach a worker")
    # Given a confirmed catalogue and a worker with a metrics port and a multiprocess
    # folder
    confirmed_catalogue(training_categories, per_category=8, seed=4)
    multiproc = tmp_path / "prometheus"
    multiproc.mkdir()
    port = _free_port()
    app.control.purge()
    log_path = tmp_path / "worker.log"
    worker = start_worker(
        log_path,
        test_database_url,
        queues="ml",
        env={
            "METRICS_WORKER_PORT": str(port),
            "PROMETHEUS_MULTIPROC_DIR": str(multiproc),
            "ML_ARTIFACTS_DIR": str(tmp_path / "ml"),
        },
    )
    passed = False
    try:
        url = f"http://127.0.0.1:{port}/metrics"
        deadline = time.monotonic() + 90
        while (before := _get(url)) is None:
            assert worker.poll() is None, "the worker exited"
            assert time.monotonic() < deadline, "no metrics port"
            time.sleep(0.5)
        labels = {"kind": "full", "outcome": "succeeded"}
        assert value(before, "rakuten_training_runs_total", **labels) == 0
        # When a training run is queued and the worker executes it
        run = training_run_create(
            parameters={"text_only": True, "epochs": 2}, enqueue=True
        )
        deadline = time.monotonic() + 180
        while run.status not in (
            TrainingRun.Status.SUCCEEDED,
            TrainingRun.Status.FAILED,
        ):
            assert worker.poll() is None, "the worker exited"
            assert time.monotonic() < deadline, "the run did not finish"
            time.sleep(1)
            run.refresh_from_db()
        assert run.status == TrainingRun.Status.SUCCEEDED
        # Then its port counts one successful full run and its duration
        after = _get(url)
        assert value(after, "rakuten_training_runs_total", **labels) == 1
        duration = "rakuten_training_duration_seconds"
        assert value(after, f"{duration}_count", **labels) == 1
        # and so does the multiprocess folder the web's /metrics reads
        registry = CollectorRegistry()
        MultiProcessCollector(registry, path=str(multiproc))
        web = generate_latest(registry).decode()
        assert value(web, "rakuten_training_runs_total", **labels) == 1
        assert value(web, f"{duration}_sum", **labels) == value(
            after, f"{duration}_sum", **labels
        )
        passed = True
    finally:
        stop_worker(worker)
        if not passed:
            print(log_path.read_text(errors="replace")[-5000:])
