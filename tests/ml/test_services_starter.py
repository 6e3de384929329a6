"""The starter model is requested, not trained, by ``run_platform``: one queued
text-only demo run that activates its model, trained by the worker."""

import pytest

from ml.models import ModelVersion, TrainingRun
from ml.services.starter import starter_model_request
from tests.factories import ProductFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def queued(monkeypatch):
    """The task ids sent to the worker's training task (nothing runs)."""
    from ml.tasks import training_run_execute_task

    sent = []
    monkeypatch.setattr(training_run_execute_task, "delay", sent.append)
    return sent


@pytest.fixture
def request_starter(django_capture_on_commit_callbacks):
    """``starter_model_request`` in a transaction that commits (on-commit callbacks
    run, as in ``run_platform``)."""

    def call():
        with django_capture_on_commit_callbacks(execute=True):
            return starter_model_request()

    return call


def test_the_starter_run_is_queued_once_and_enqueued_once(
    queued, django_capture_on_commit_callbacks
):
    # Given a confirmed product and no active model
    ProductFactory()
    # When the starter model is requested twice (two `make run`)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        run = starter_model_request()
        again = starter_model_request()
    # Then one queued text-only demo run that activates its model, sent once
    assert run is not None and again.pk == run.pk
    run = TrainingRun.objects.get()
    assert run.status == TrainingRun.Status.QUEUED
    assert run.parameters["text_only"] is True
    assert run.parameters["activate"] is True
    assert run.parameters["is_demo"] is True
    assert run.parameters["epochs"] == 10
    assert len(callbacks) == 1
    assert queued == [run.pk]


def test_a_running_starter_run_is_not_requested_again(queued, request_starter):
    # Given the starter run already running on the worker
    ProductFactory()
    run = request_starter()
    TrainingRun.objects.filter(pk=run.pk).update(status=TrainingRun.Status.RUNNING)
    queued.clear()
    # When it is requested again
    again = request_starter()
    # Then that run is returned and nothing else is queued
    assert again.pk == run.pk
    assert TrainingRun.objects.count() == 1
    assert queued == []


def test_a_failed_starter_run_is_requested_again(queued, request_starter):
    # Given a starter run that failed
    ProductFactory()
    failed = request_starter()
    TrainingRun.objects.filter(pk=failed.pk).update(status=TrainingRun.Status.FAILED)
    # When it is requested again
    run = request_starter()
    # Then a new run is queued
    assert run.pk != failed.pk
    assert queued == [failed.pk, run.pk]


def test_nothing_is_requested_when_a_model_is_active(queued, request_starter):
    # Given an active model
    ProductFactory()
    ModelVersion.objects.create(name="v1", status=ModelVersion.Status.ACTIVE)
    # Then no starter run is requested
    assert request_starter() is None
    assert TrainingRun.objects.count() == 0
    assert queued == []


def test_nothing_is_requested_without_a_confirmed_product(queued, request_starter):
    # Given only a product waiting for its category
    ProductFactory(category=None)
    # Then there is nothing to learn from: no run
    assert request_starter() is None
    assert TrainingRun.objects.count() == 0
    assert queued == []


def test_run_platform_queues_the_starter_model_and_starts_at_once(
    queued, monkeypatch, capsys, django_capture_on_commit_callbacks
):
    # Given a fresh platform whose processes are not really started
    from django.core.management import call_command

    import ml.management.commands.run_platform as command

    started = []

    def fake_run_processes(specs):
        # the starter run is queued (not trained) when the processes start
        started.append(
            (
                [spec.name for spec in specs],
                list(TrainingRun.objects.values_list("status", flat=True)),
            )
        )
        return 0

    monkeypatch.setattr(command, "run_processes", fake_run_processes)
    monkeypatch.setattr(
        command, "demo_catalogue_ensure", lambda: ProductFactory() and None
    )
    # When `make run` starts it
    with (
        django_capture_on_commit_callbacks(execute=True),
        pytest.raises(SystemExit) as exit_info,
    ):
        call_command("run_platform", "--addr", "127.0.0.1:8765")
    # Then web, worker and beat start with the starter run queued, and it says so
    assert exit_info.value.code == 0
    assert started == [(["web", "worker", "batch-worker", "beat"], ["queued"])]
    run = TrainingRun.objects.get()
    assert queued == [run.pk]
    out = capsys.readouterr().out
    assert (
        f"No active model yet: the starter model trains on the worker (training run "
        f"#{run.pk}, queued); it is activated when done. Watch it on "
        "http://127.0.0.1:8765/products/new/ (sellers), "
        "http://127.0.0.1:8765/staff/training/ (staff) or "
        "http://127.0.0.1:8765/healthz (details for staff)."
    ) in out


@pytest.mark.parametrize(
    ("debug", "server", "web"),
    [
        (True, "auto", ["manage.py", "runserver", "127.0.0.1:8765", "--noreload"]),
        (
            False,
            "runserver",
            ["manage.py", "runserver", "127.0.0.1:8765", "--noreload"],
        ),
        (
            False,
            "auto",
            ["-m", "gunicorn", "rakuten.wsgi", "--workers", "2", "--threads", "4"]
            + ["--timeout", "60", "-b", "127.0.0.1:8765"],
        ),
    ],
)
def test_run_platform_serves_with_gunicorn_unless_debugging(
    settings, monkeypatch, debug, server, web
):
    # Given the local settings (DEBUG on) or production-like ones (DEBUG off)
    from django.core.management import call_command

    import ml.management.commands.run_platform as command

    settings.DEBUG = debug
    started = []
    monkeypatch.setattr(command, "run_processes", lambda specs: started.extend(specs))
    # When `manage.py run_platform` starts the processes
    with pytest.raises(SystemExit):
        call_command(
            "run_platform",
            "--addr",
            "127.0.0.1:8765",
            "--no-bootstrap",
            "--server",
            server,
        )
    # Then the web process is Django's development server only when debugging
    assert started[0].name == "web"
    assert list(started[0].argv[1:]) == web
