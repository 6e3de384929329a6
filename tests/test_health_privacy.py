"""/healthz tells anonymous callers (and non-staff users) only ``ok`` or
``degraded``: no database vendor, model name, hash or F1, and never an error's text
(user names, hosts, ports). Staff get the details, with a session or an access
token."""

import json
from unittest import mock

import pytest
from django.db import connection
from django.db.utils import OperationalError
from rest_framework_simplejwt.tokens import RefreshToken

from ml.models import ModelVersion

pytestmark = pytest.mark.django_db

DB_ERROR = "(1045, \"Access denied for user 'root'@'127.0.0.1' (using password: NO)\")"
BROKER_DOWN = {"ok": False, "error": "Error 111 connecting to redis.internal:6399."}
SECRETS = ("root", "127.0.0.1", "redis.internal", "6399", "1045", "sha256", "vendor")


@pytest.fixture
def active_model(db):
    return ModelVersion.objects.create(
        name="texte+image v7",
        status=ModelVersion.Status.ACTIVE,
        backbone="vgg16",
        bundle_sha256="ab" * 32,
        metrics={"fused": {"weighted_f1": 0.81, "accuracy": 0.83}},
    )


def bearer(user) -> dict:
    return {"HTTP_AUTHORIZATION": f"Bearer {RefreshToken.for_user(user).access_token}"}


def assert_status_only(response, status: str, code: int):
    assert response.status_code == code
    assert response.json() == {"status": status}
    text = response.content.decode()
    assert [word for word in SECRETS if word in text] == []


def test_anonymous_gets_ok_and_nothing_else(client, active_model):
    assert_status_only(client.get("/healthz"), "ok", 200)


def test_anonymous_gets_degraded_without_the_broker_s_address(client):
    with mock.patch("rakuten.health._broker", return_value=BROKER_DOWN):
        assert_status_only(client.get("/healthz"), "degraded", 200)


def test_anonymous_gets_a_503_without_the_database_error(client):
    with mock.patch.object(
        connection, "cursor", side_effect=OperationalError(DB_ERROR)
    ):
        assert_status_only(client.get("/healthz"), "degraded", 503)


def test_sellers_and_bad_tokens_get_the_status_only(
    client_logged_in_as, client, seller, active_model
):
    assert_status_only(client_logged_in_as(seller).get("/healthz"), "ok", 200)
    assert_status_only(client.get("/healthz", **bearer(seller)), "ok", 200)
    forged = {"HTTP_AUTHORIZATION": "Bearer not.a.token"}
    assert_status_only(client.get("/healthz", **forged), "ok", 200)


def test_staff_get_the_details_with_a_session_or_a_token(
    client_logged_in_as, client, staff_user, active_model
):
    by_session = client_logged_in_as(staff_user).get("/healthz")
    by_token = client.get("/healthz", **bearer(staff_user))
    for response in (by_session, by_token):
        assert response.status_code == 200
        body = response.json()
        assert set(body) == {"status", "database", "broker", "model"}
        assert body["database"] == {"ok": True, "vendor": connection.vendor}
        assert body["model"]["active"]["sha256"] == "ab" * 32
        assert body["model"]["active"]["weighted_f1"] == 0.81


def test_staff_see_the_error_text(client_logged_in_as, staff_user):
    staff = client_logged_in_as(staff_user)
    with mock.patch("rakuten.health._broker", return_value=BROKER_DOWN):
        body = json.loads(staff.get("/healthz").content)
    assert (body["status"], body["broker"]) == ("degraded", BROKER_DOWN)
