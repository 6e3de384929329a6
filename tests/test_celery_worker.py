"""A real Celery worker process runs an import task sent by the test process, through
the configured broker (SQLite file by default, Redis in CI), and stores its result in
the database (django-celery-results)."""

import csv
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from celery.exceptions import TimeoutError as CeleryTimeoutError
from django.conf import settings
from django_celery_results.models import TaskResult

from catalog.models import Category, Product
from catalog.tasks import import_generic_csv
from rakuten.celery import app

BASE_DIR = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.worker


def _start_worker(log_path: Path, database_url: str) -> subprocess.Popen:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "rakuten.settings.test",
        "DATABASE_URL": database_url,
        "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
        "CELERY_TASK_ALWAYS_EAGER": "false",
        "HF_HUB_OFFLINE": "1",
        "PYTHONUNBUFFERED": "1",
    }
    with open(log_path, "wb") as log:
        return subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "rakuten",
                "worker",
                "--pool",
                "solo",
                "-Q",
                "default",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
                "-l",
                "info",
            ],
            cwd=BASE_DIR,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )


def _wait_for(result, worker: subprocess.Popen, *, timeout: float):
    """``result.get(timeout=...)``, failing fast if the worker process dies."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return result.get(timeout=2, interval=0.2)
        except CeleryTimeoutError:
            if worker.poll() is not None:
                pytest.fail(
                    f"the worker exited ({worker.returncode}) before the task ran"
                )
            if time.monotonic() > deadline:
                raise


def _stop_worker(worker: subprocess.Popen) -> None:
    if worker.poll() is None:
        worker.terminate()  # warm shutdown
        try:
            worker.wait(timeout=20)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait(timeout=10)


@pytest.fixture
def restore_migration_data(django_db_blocker):
    """Set up before ``transactional_db``, so torn down after its flush: put back the
    rows the migrations created (the 27 seeded categories, ...) for the tests that
    follow."""
    yield
    from django.db import connection

    contents = getattr(connection, "_test_serialized_contents", None)
    if contents:
        with django_db_blocker.unblock():
            connection.creation.deserialize_db_from_string(contents)


def test_a_real_worker_runs_the_import_task(
    restore_migration_data,
    transactional_db,
    django_db_serialized_rollback,  # starts from the migrations' data too
    test_database_url,
    tmp_path,
):
    if app.conf.task_always_eager:
        pytest.skip("CELERY_TASK_ALWAYS_EAGER is on: tasks would not reach a worker")
    # Given a generic CSV (one new category, one bad row) and an empty queue
    csv_path = tmp_path / "products.csv"
    with open(csv_path, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["product_id", "title", "description", "category", "image"])
        writer.writerow(["W1", "Piscine tubulaire 3m", "Avec pompe", "2583", ""])
        writer.writerow(["W2", "Robot de piscine", "Nettoyage du fond", "9300", ""])
        writer.writerow(["", "Sans identifiant", "", "2583", ""])
    app.control.purge()
    log_path = tmp_path / "worker.log"
    worker = _start_worker(log_path, test_database_url)
    passed = False
    try:
        # When the task is sent to the broker and a worker picks it up
        started = time.monotonic()
        result = import_generic_csv.delay(str(csv_path), None, True)
        summary = _wait_for(result, worker, timeout=90)
        elapsed = time.monotonic() - started
        # Then the worker returns the summary
        assert summary == {"created": 2, "updated": 0, "skipped": 0, "rejected": 1}
        assert result.status == "SUCCESS"
        # And the products and the new category are in the database
        assert sorted(
            Product.objects.values_list("external_id", "title", "category__code")
        ) == [
            ("W1", "Piscine tubulaire 3m", "2583"),
            ("W2", "Robot de piscine", "9300"),
        ]
        assert Category.objects.get(code="9300").name == "9300"
        # And the result is recorded by django-celery-results
        record = TaskResult.objects.get(task_id=result.id)
        assert (record.status, record.task_name) == (
            "SUCCESS",
            "catalog.import_generic_csv",
        )
        assert worker.poll() is None, "the worker stopped"
        print(f"worker round trip: {elapsed:.1f}s")
        passed = True
    finally:
        _stop_worker(worker)
        if not passed:
            print(f"--- worker output (exit {worker.returncode}) ---")
            print(log_path.read_text(errors="replace"))
