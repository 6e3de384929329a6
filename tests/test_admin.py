"""The ML admin: lists with their badges, and actions that call the services."""

import pytest

from ml.models import ModelActivation, TrainingRun
from tests.factories import ModelVersionFactory, PredictionFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client_logged_in_as):
    return client_logged_in_as(
        UserFactory(username="root", is_superuser=True, is_staff=True)
    )


@pytest.mark.parametrize(
    "model", ["modelversion", "trainingrun", "prediction", "modelactivation"]
)
def test_every_ml_model_has_a_searchable_changelist(admin_client, model):
    PredictionFactory()
    response = admin_client.get(f"/admin/ml/{model}/", {"q": "x"})
    assert response.status_code == 200


def test_dataset_resets_are_listed(admin_client):
    response = admin_client.get("/admin/ml/datasetreset/")
    assert response.status_code == 200


def test_version_list_shows_the_demo_badge_and_the_warning(admin_client):
    ModelVersionFactory(name="demo v", is_demo=True, warning="random weights")
    html = admin_client.get("/admin/ml/modelversion/").content.decode()
    assert ">demo model</span>" in html
    assert 'title="random weights">warning</span>' in html


def test_activate_action_calls_the_service(admin_client):
    old = ModelVersionFactory(status="active", active_marker=True)
    new = ModelVersionFactory()
    # When the admin runs "activate" on the new version
    response = admin_client.post(
        "/admin/ml/modelversion/",
        {"action": "activate", "_selected_action": [new.pk]},
        follow=True,
    )
    # Then it is active, the old one retired, and the activation recorded
    new.refresh_from_db()
    old.refresh_from_db()
    assert (new.status, old.status) == ("active", "retired")
    activation = ModelActivation.objects.get()
    assert (activation.version, activation.reason) == (new, "activated from the admin")
    assert "is now the active model." in response.content.decode()


def test_activate_action_needs_exactly_one_version(admin_client):
    versions = ModelVersionFactory.create_batch(2)
    response = admin_client.post(
        "/admin/ml/modelversion/",
        {"action": "activate", "_selected_action": [v.pk for v in versions]},
        follow=True,
    )
    assert b"Select exactly one version to activate." in response.content
    assert ModelActivation.objects.count() == 0


def test_restart_action_starts_a_run_with_the_same_options(
    admin_client, django_capture_on_commit_callbacks
):
    old = TrainingRun.objects.create(
        status="failed",
        kind="full",
        parameters={
            "backbone": "vgg16",
            "text_only": False,
            "epochs": 4,
            "activate": True,
            "allow_random_backbone": True,
            "is_demo": True,
        },
    )
    # When the admin runs "start a new training run" on it
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        admin_client.post(
            "/admin/ml/trainingrun/",
            {"action": "restart", "_selected_action": [old.pk]},
        )
    # Then a new run is queued with the same user-facing options
    new = TrainingRun.objects.exclude(pk=old.pk).get()
    assert (new.status, new.kind, new.created_by.username) == ("queued", "full", "root")
    assert new.parameters == {
        "backbone": "vgg16",
        "text_only": False,
        "epochs": 4,
        "activate": True,
        "allow_random_backbone": True,
    }
    assert len(callbacks) == 1
