"""/healthz while the model that will be activated trains (``make run`` on a fresh
platform): 200, and the model reported as training with the run's progress."""

import pytest

from ml.models import ModelVersion, TrainingRun

pytestmark = pytest.mark.django_db


@pytest.fixture
def client(client_logged_in_as, staff_user):
    """The details of /healthz are for staff."""
    return client_logged_in_as(staff_user)


def _starter_run(**fields) -> TrainingRun:
    return TrainingRun.objects.create(
        parameters={
            "text_only": True,
            "epochs": 10,
            "activate": True,
            "is_demo": True,
        },
        **fields,
    )


def test_healthz_reports_a_queued_starter_run_as_training(client):
    # Given no active model and the starter run queued
    run = _starter_run()
    # When the health endpoint is asked
    response = client.get("/healthz")
    # Then the platform is up and the model is training
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["model"] == {
        "active": None,
        "status": "training",
        "training_run": {
            "id": run.pk,
            "status": "queued",
            "stage": "",
            "progress": 0.0,
            "is_demo": True,
        },
    }


def test_healthz_reports_the_running_run_s_progress(client):
    # Given the starter run 40% through its text stage
    run = _starter_run(status=TrainingRun.Status.RUNNING, progress=0.4, stage="text")
    # Then /healthz reports its progress
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json()["model"]["status"] == "training"
    assert response.json()["model"]["training_run"] == {
        "id": run.pk,
        "status": "running",
        "stage": "text",
        "progress": 0.4,
        "is_demo": True,
    }


def test_healthz_ignores_runs_that_will_not_activate_or_are_over(client):
    # Given a queued run that does not activate its model, and a failed starter run
    TrainingRun.objects.create(parameters={"text_only": True, "activate": False})
    _starter_run(status=TrainingRun.Status.FAILED)
    # Then no model is active and none is training
    assert client.get("/healthz").json()["model"] == {"active": None}


def test_healthz_reports_the_active_model_once_trained(client):
    # Given the starter run succeeded and its model is active
    version = ModelVersion.objects.create(
        name="demo text", status=ModelVersion.Status.ACTIVE, is_demo=True
    )
    _starter_run(status=TrainingRun.Status.SUCCEEDED, progress=1.0)
    # Then the active model is reported, as before
    model = client.get("/healthz").json()["model"]
    assert model == {"active": version.summary()}
