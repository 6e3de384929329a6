from unittest import mock

import pytest
from django.conf import settings
from django.db import connection
from django.db.utils import OperationalError

from ml.models import ModelVersion
from rakuten.health import health_report

# /healthz gives its details to staff only (tests/test_health_privacy.py); these tests
# read them as staff.


@pytest.fixture
def client(client_logged_in_as, staff_user):
    return client_logged_in_as(staff_user)


@pytest.mark.django_db
def test_healthz_reports_a_healthy_platform(client):
    # Given a working database and no trained model
    # When staff ask the health endpoint
    response = client.get("/healthz")
    # Then it answers 200 with each component's state
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert "no-store" in response["Cache-Control"]
    body = response.json()
    assert set(body) == {"database", "broker", "model", "status"}
    assert body["database"] == {"ok": True, "vendor": connection.vendor}
    # (the configured broker: kombu's sqla transport on SQLite by default, or redis)
    transport = settings.CELERY_BROKER_URL.split("://")[0].split("+")[0]
    assert body["broker"] == {"ok": True, "transport": transport}
    assert body["model"] == {"active": None}
    assert body["status"] == "ok"


@pytest.mark.django_db
def test_healthz_reports_the_active_model(client):
    # Given an active model version
    version = ModelVersion.objects.create(
        name="texte+image v1",
        status=ModelVersion.Status.ACTIVE,
        backbone="vgg16",
        metrics={"fused": {"weighted_f1": 0.81, "accuracy": 0.83}},
    )
    # Then the health report names it
    body = client.get("/healthz").json()
    assert body["model"] == {
        "active": {
            "id": version.pk,
            "name": "texte+image v1",
            "status": "active",
            "sha256": None,
            "backbone": "vgg16",
            "is_demo": False,
            "weighted_f1": 0.81,
            "accuracy": 0.83,
            "warning": None,
        }
    }


@pytest.mark.django_db
def test_healthz_stays_up_when_only_the_broker_is_down(client):
    # Given a broker that does not answer
    down = {"ok": False, "error": "Error 111 connecting to 127.0.0.1:6399."}
    with mock.patch("rakuten.health._broker", return_value=down):
        response = client.get("/healthz")
    # Then the platform is up (the database answers) but degraded, the broker reported
    assert response.status_code == 200
    assert response.json()["broker"] == down
    assert response.json()["status"] == "degraded"


@pytest.mark.django_db
def test_healthz_is_503_when_the_database_check_fails(client):
    # Given the database check reports a failure
    failed = {"ok": False, "error": "Can't connect to MySQL server"}
    with mock.patch("rakuten.health._database", return_value=failed):
        response = client.get("/healthz")
    # Then the endpoint answers 503 "degraded"
    assert response.status_code == 503
    body = response.json()
    assert body["database"] == failed
    assert body["status"] == "degraded"


@pytest.mark.django_db
def test_healthz_is_503_when_the_database_raises(client):
    # Given every database cursor fails (the server is gone)
    error = OperationalError('(2002, "Can\'t connect to server")\nsecond line')
    with mock.patch.object(connection, "cursor", side_effect=error):
        healthy, report = health_report()
        response = client.get("/healthz")
    # Then the report has the error's first line and the model is unknown, not a 500
    assert healthy is False
    assert report["database"] == {
        "ok": False,
        "error": '(2002, "Can\'t connect to server")',
    }
    assert report["model"] == {"active": None}
    # and the endpoint answers 503, with the status alone (without a database, the
    # session cannot tell staff from anyone)
    assert response.status_code == 503
    assert response.json() == {"status": "degraded"}


@pytest.mark.django_db
def test_healthz_accepts_only_get(client):
    assert client.post("/healthz").status_code == 405
