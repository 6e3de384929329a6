"""The paths that had no throttle (issue 13): the Sell page's suggestions (each call
stores a prediction), sign-up, and queueing training runs (API and staff page; a
second full run needs ``force``). Rates are settings; over a rate the answer is 429
with Retry-After and nothing is stored."""

import pytest
from django.test import Client

from accounts.models import User
from ml.models import Prediction, TrainingRun

pytestmark = pytest.mark.django_db


@pytest.fixture
def rates(settings):
    """``rates(scope="n/minute", ...)`` sets those throttle rates."""

    def set_rates(**scopes):
        settings.REST_FRAMEWORK = {
            **settings.REST_FRAMEWORK,
            "DEFAULT_THROTTLE_RATES": {
                **settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"],
                **scopes,
            },
        }

    return set_rates


def test_the_rates_are_settings(settings):
    rates = settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]
    assert (rates["suggestions"], rates["signup"], rates["training_runs"]) == (
        "60/minute",
        "10/hour",
        "10/hour",
    )


def test_suggestions_are_throttled_per_user(
    client_logged_in_as, seller, other_seller, active_model, rates
):
    # Given a rate of 3 suggestions a minute
    rates(suggestions="3/minute")
    client = client_logged_in_as(seller)

    def suggest(c):
        return c.post("/products/suggestions/", {"title": "roman de poche auteur"})

    # When a seller asks four times
    responses = [suggest(client) for _ in range(4)]
    # Then the fourth is refused with a wait time, and stores no prediction
    assert [r.status_code for r in responses] == [200, 200, 200, 429]
    assert responses[3]["Retry-After"] == "60"
    assert "You sent this too often in a short time: try again in 60 seconds." in (
        responses[3].content.decode()
    )
    assert Prediction.objects.count() == 3
    # and another seller still gets suggestions
    assert suggest(client_logged_in_as(other_seller)).status_code == 200


def test_suggestions_throttle_answers_htmx_with_the_message_alone(
    client_logged_in_as, seller, active_model, rates
):
    rates(suggestions="1/minute")
    client = client_logged_in_as(seller)
    client.post("/products/suggestions/", {"title": "roman de poche"})
    response = client.post(
        "/products/suggestions/", {"title": "roman de poche"}, HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 429
    assert response.content.decode().strip() == (
        '<span class="throttled">You sent this too often in a short time: try again '
        "in 60 seconds.</span>"
    )


def _signup(client, n):
    return client.post(
        "/accounts/signup/",
        {
            "username": f"newseller{n}",
            "email": f"new{n}@example.com",
            "password1": "a-Long-enough-pass-42",
            "password2": "a-Long-enough-pass-42",
        },
    )


def test_signup_is_throttled_per_address(rates):
    # Given a rate of 2 sign-ups an hour
    rates(signup="2/hour")
    # When one address signs up three times (a fresh client each time: a signed-in
    # visitor is sent home), rotating X-Forwarded-For
    responses = [
        _signup(Client(REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR=f"192.0.2.{n}"), n)
        for n in range(3)
    ]
    # Then the third is refused and creates no account
    assert [r.status_code for r in responses] == [302, 302, 429]
    assert responses[2]["Retry-After"] == "3600"
    assert sorted(User.objects.values_list("username", flat=True)) == [
        "newseller0",
        "newseller1",
    ]
    # and another address may still sign up; the form itself (GET) is never counted
    assert Client(REMOTE_ADDR="10.0.0.2").get("/accounts/signup/").status_code == 200
    assert _signup(Client(REMOTE_ADDR="10.0.0.2"), 3).status_code == 302


def test_a_second_full_run_needs_force_on_the_api(api_as, staff_user):
    client = api_as(staff_user)

    def start(**data):
        return client.post(
            "/api/v1/training-runs/", {"text_only": True, **data}, format="json"
        )

    # Given a full run queued
    first = start()
    assert first.status_code == 202
    # When staff queue another full run
    second = start()
    # Then it is refused, with the reason and the way out
    assert second.status_code == 400
    assert second.json() == {
        "error": {
            "code": "invalid",
            "message": (
                f"Full training run #{first.json()['id']} is already queued: wait "
                "for it to finish, or force a second one."
            ),
            "fields": {"force": ["Tick to queue a second full run anyway."]},
        }
    }
    assert TrainingRun.objects.count() == 1
    # but an incremental run, or a forced full run, is queued
    assert start(kind="incremental").status_code == 202
    assert start(force=True).status_code == 202
    assert sorted(TrainingRun.objects.values_list("kind", flat=True)) == [
        "full",
        "full",
        "incremental",
    ]
    # and once the first run has finished, a full run needs no force
    TrainingRun.objects.filter(kind="full").update(status="succeeded")
    assert start().status_code == 202


def test_a_second_full_run_needs_force_on_the_staff_page(
    client_logged_in_as, staff_user
):
    client = client_logged_in_as(staff_user)
    form = {"backbone": "efficientnet_lite0", "text_only": "on", "epochs": 2}
    assert client.post("/staff/training/", form).status_code == 302
    refused = client.post("/staff/training/", form)
    assert refused.status_code == 200
    assert "Tick to queue a second full run anyway." in refused.content.decode()
    assert TrainingRun.objects.count() == 1
    forced = client.post("/staff/training/", {**form, "force": "on"})
    assert forced.status_code == 302
    assert TrainingRun.objects.count() == 2


def test_training_run_creation_is_throttled(
    api_as, client_logged_in_as, staff_user, rates
):
    # Given a rate of 2 training runs an hour
    rates(training_runs="2/hour")
    client = api_as(staff_user)
    statuses = [
        client.post(
            "/api/v1/training-runs/",
            {"kind": "incremental", "text_only": True},
            format="json",
        ).status_code
        for _ in range(3)
    ]
    # Then the third API call is throttled, and the staff page shares the count
    assert statuses == [202, 202, 429]
    page = client_logged_in_as(staff_user)
    form = {"kind": "incremental", "backbone": "efficientnet_lite0", "epochs": 2}
    assert page.post("/staff/training/", form).status_code == 429
    assert page.get("/staff/training/").status_code == 200  # reading is not counted
    assert TrainingRun.objects.count() == 2
