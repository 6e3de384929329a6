"""Task outcomes are recorded for the admin (django-celery-results). A real worker
storing a result is ``tests/test_celery_worker.py``; here a task run eagerly (as with
``CELERY_TASK_ALWAYS_EAGER``) leaves its row too."""

import pytest
from django.conf import settings
from django.contrib import admin
from django_celery_results.models import TaskResult

from ml.tasks import training_runs_requeue_stale_task
from rakuten.celery import app


def test_results_go_to_the_database_and_the_admin_lists_them():
    assert settings.CELERY_RESULT_BACKEND == "django-db"
    assert app.conf.result_backend == "django-db"
    assert app.conf.result_extended is True
    assert admin.site.is_registered(TaskResult)


@pytest.fixture
def eager():
    before = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = before


@pytest.mark.django_db
def test_a_task_run_eagerly_leaves_a_task_result(eager, admin_client):
    # When a task runs (eagerly, as in development)
    result = training_runs_requeue_stale_task.delay()
    # Then its outcome is recorded, with its name
    record = TaskResult.objects.get(task_id=result.id)
    assert (record.status, record.task_name) == (
        "SUCCESS",
        "ml.tasks.training_runs_requeue_stale",
    )
    # And the admin's task results list it
    html = admin_client.get("/admin/django_celery_results/taskresult/").content
    assert result.id.encode() in html
