"""A real Celery worker process runs an import task sent by the test process, through
the configured broker (SQLite file by default, Redis in CI), and stores its result in
the database (django-celery-results)."""

import csv
import time

import pytest
from django_celery_results.models import TaskResult

from catalog.models import Category, Product
from catalog.tasks import import_generic_csv
from rakuten.celery import app
from tests.workers import start_worker, stop_worker, wait_for

pytestmark = pytest.mark.worker


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
    worker = start_worker(log_path, test_database_url)
    passed = False
    try:
        # When the task is sent to the broker and a worker picks it up
        started = time.monotonic()
        result = import_generic_csv.delay(str(csv_path), None, True)
        summary = wait_for(result, worker, timeout=90)
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
        stop_worker(worker)
        if not passed:
            print(f"--- worker output (exit {worker.returncode}) ---")
            print(log_path.read_text(errors="replace"))
