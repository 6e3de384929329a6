"""Queue Celery tasks from the services, by task name.

Tasks are the interface layer: they import their service. If services imported the
task modules back, the two would form an import cycle, so a service names the task
instead and :func:`enqueue_on_commit` looks it up in the Celery app's registry. The
lookup goes through the task object, so ``CELERY_TASK_ALWAYS_EAGER`` and the task's own
options (queue, limits) apply as with ``task.delay``.
"""

from django.db import transaction

from rakuten.celery import app


def task_get(name: str):
    """The registered task called ``name``; the task modules are imported on first
    use (as a worker does at start), so web processes find them too."""
    if name not in app.tasks:
        app.loader.import_default_modules()
    return app.tasks[name]


def enqueue_on_commit(name: str, *args) -> None:
    """Send task ``name`` with ``args`` once the current transaction commits (at once
    outside a transaction), so a worker never reads rows that are not there yet."""
    transaction.on_commit(lambda: task_get(name).delay(*args))
