"""One training-options schema (``ml.options``): the staff form, the API, the
``train_model`` command, the admin's restart and the scheduler take the same defaults
from it and refuse a bad value with the same message."""

import re

import pytest
from django.core.management import CommandError, call_command
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import RefreshToken

from ml.forms import TrainingRunForm
from ml.models import TrainingRun
from ml.options import (
    TRAINING_OPTION_NAMES,
    training_options_clean,
    training_options_defaults,
    training_options_pick,
)
from ml.services.scheduling import training_run_schedule
from rakuten.exceptions import ApplicationError

pytestmark = pytest.mark.django_db

DEFAULTS = {
    "backbone": "efficientnet_lite0",
    "text_only": False,
    "epochs": 8,
    "activate": False,
    "allow_random_backbone": False,
}

BAD_VALUES = [
    (
        {"backbone": "resnet"},
        "Unknown backbone 'resnet': use vgg16, efficientnet_lite0.",
    ),
    ({"epochs": 0}, "epochs must be between 1 and 200."),
    ({"epochs": 201}, "epochs must be between 1 and 200."),
]


@pytest.fixture
def staff_api(staff_user):
    client = APIClient()
    token = RefreshToken.for_user(staff_user).access_token
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


@pytest.fixture
def command_runs_nothing(monkeypatch):
    """``train_model`` records its run but does not train (its parameters are what is
    checked here)."""
    monkeypatch.setattr(
        "ml.management.commands.train_model.training_run_execute",
        lambda *, run_id, log: TrainingRun.objects.get(pk=run_id),
    )


def test_the_schema_defaults():
    assert training_options_defaults() == DEFAULTS
    assert training_options_clean({}) == DEFAULTS
    assert tuple(DEFAULTS) == TRAINING_OPTION_NAMES


def test_the_staff_form_starts_from_the_defaults():
    form = TrainingRunForm()
    assert {name: form[name].initial for name in DEFAULTS} == DEFAULTS


def test_the_staff_form_with_nothing_ticked_queues_the_defaults(
    client_logged_in_as, staff_user
):
    response = client_logged_in_as(staff_user).post("/staff/training/", {})
    assert response.status_code == 302
    assert TrainingRun.objects.get().parameters == DEFAULTS


def test_the_api_with_an_empty_body_queues_the_defaults(staff_api):
    response = staff_api.post("/api/v1/training-runs/", {}, format="json")
    assert response.status_code == 202
    assert response.json()["parameters"] == DEFAULTS
    assert TrainingRun.objects.get().parameters == DEFAULTS


def test_the_api_schema_documents_every_option_and_its_default(staff_api):
    schema = staff_api.get("/api/v1/schema/", {"format": "json"}).json()
    inputs = [
        component
        for name, component in schema["components"]["schemas"].items()
        if name.startswith("TrainingRunCreate") or name.endswith("Request")
        if "epochs" in component.get("properties", {})
    ]
    assert inputs, "no training-run input in the OpenAPI schema"
    properties = inputs[0]["properties"]
    assert {name: properties[name]["default"] for name in DEFAULTS} == DEFAULTS


def test_the_command_without_flags_trains_with_the_defaults(command_runs_nothing):
    call_command("train_model")
    run = TrainingRun.objects.get()
    assert (run.kind, run.parameters) == ("full", DEFAULTS)


def test_the_command_flags_set_the_options(command_runs_nothing):
    call_command(
        "train_model",
        "--backbone",
        "vgg16",
        "--text-only",
        "--epochs",
        "3",
        "--activate",
        "--allow-random-backbone",
    )
    assert TrainingRun.objects.get().parameters == {
        "backbone": "vgg16",
        "text_only": True,
        "epochs": 3,
        "activate": True,
        "allow_random_backbone": True,
    }


def test_the_scheduler_fills_the_active_models_missing_options_with_the_defaults():
    from tests.factories import ModelVersionFactory

    # Given an active model whose run stored only some options (and platform keys)
    version = ModelVersionFactory(status="active", active_marker=True)
    TrainingRun.objects.create(
        status="succeeded",
        model_version=version,
        parameters={"epochs": 3, "activate": True, "is_demo": True},
    )
    # When a retraining is scheduled
    run, _ = training_run_schedule(kind="incremental")
    # Then it carries the epochs over, never "activate" (the gate decides), and takes
    # the schema's defaults for the rest
    assert run.parameters == {**DEFAULTS, "epochs": 3, "gate": True}


def test_restart_and_schedule_pick_only_user_options():
    stored = {**DEFAULTS, "activate": True, "is_demo": True, "gate": True, "seed": 1}
    assert training_options_pick(stored) == {**DEFAULTS, "activate": True}
    assert "activate" not in training_options_pick(stored, scheduled=True)


@pytest.mark.parametrize(("bad", "message"), BAD_VALUES)
def test_a_bad_value_is_refused_the_same_way_everywhere(
    bad, message, staff_api, client_logged_in_as, staff_user, command_runs_nothing
):
    ((name, value),) = bad.items()
    # The service
    with pytest.raises(ApplicationError) as excinfo:
        training_options_clean(bad)
    assert excinfo.value.message == message
    # The API: a 400 with the same message
    response = staff_api.post("/api/v1/training-runs/", bad, format="json")
    assert response.status_code == 400
    assert response.json()["error"]["message"] == message
    # The staff form: the same message on the field
    form = TrainingRunForm(data={name: value})
    assert not form.is_valid()
    assert form.errors[name] == [message]
    page = client_logged_in_as(staff_user).post("/staff/training/", bad)
    assert page.status_code == 200
    # The command: one line, the same message
    with pytest.raises(CommandError, match=f"^{re.escape(message)}$"):
        call_command("train_model", f"--{name}", str(value))
    # And nothing was queued anywhere
    assert TrainingRun.objects.count() == 0


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"colour": "red"}, "Unknown training option(s): colour"),
        ({"text_only": "yes"}, "text_only must be true or false."),
        ({"epochs": "8"}, "epochs must be a whole number."),
        ({"epochs": True}, "epochs must be a whole number."),
    ],
)
def test_the_service_refuses_unknown_options_and_untyped_values(data, message):
    with pytest.raises(ApplicationError) as excinfo:
        training_options_clean(data)
    assert excinfo.value.message == message
