"""The loop on the staff pages, the admin and the API: alert banners, snapshots,
alert buttons, the audit page, the gate decision."""

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from audit.models import AuditEvent
from ml.models import Alert, MetricSnapshot
from tests.factories import ModelVersionFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def version():
    return ModelVersionFactory(status="active", active_marker=True, name="v-live")


@pytest.fixture
def open_alert(version):
    return Alert.objects.create(
        kind=Alert.Kind.GLOBAL,
        model_version=version,
        open_key="global",
        value=0.5,
        threshold=0.85,
        message="Weighted F1 over the last 7 days is 0.500",
    )


def test_staff_pages_show_the_alert_banner_and_sellers_do_not(
    open_alert, staff_user, seller, client_logged_in_as
):
    # When staff and a seller open a page
    staff_page = client_logged_in_as(staff_user).get(reverse("ml:training"))
    seller_page = client_logged_in_as(seller).get(reverse("catalog:listing_create"))
    # Then only the staff see the alert
    assert "Weighted F1 over the last 7 days is 0.500" in staff_page.text
    assert "model-alerts" not in seller_page.text


def test_the_admin_shows_the_alert_banner(open_alert, client):
    from tests.factories import UserFactory

    admin = UserFactory(username="root", is_staff=True, is_superuser=True)
    client.force_login(admin)
    page = client.get(reverse("admin:index"))
    assert page.status_code == 200
    assert "Model alert (open): Weighted F1 over the last 7 days is 0.500" in page.text


def test_performance_page_lists_snapshots_and_alerts_which_staff_can_resolve(
    open_alert, version, staff_user, client_logged_in_as
):
    # Given a snapshot
    MetricSnapshot.objects.create(
        model_version=version, window_days=7, count=40, weighted_f1=0.5, accuracy=0.5
    )
    client = client_logged_in_as(staff_user)
    # When staff open the performance page
    page = client.get(reverse("ml:performance"))
    # Then the snapshot and the alert are listed
    assert "Latest metric snapshots" in page.text and "0.500" in page.text
    assert reverse("ml:alert_resolve", args=[open_alert.pk]) in page.text
    # When they acknowledge, then resolve it
    client.post(reverse("ml:alert_acknowledge", args=[open_alert.pk]))
    open_alert.refresh_from_db()
    assert (open_alert.status, open_alert.acknowledged_by) == (
        "acknowledged",
        staff_user,
    )
    response = client.post(reverse("ml:alert_resolve", args=[open_alert.pk]))
    # Then it is resolved, and recorded in the audit log
    open_alert.refresh_from_db()
    assert response.status_code == 302
    assert (open_alert.status, open_alert.open_key) == ("resolved", None)
    assert list(
        AuditEvent.objects.order_by("id").values_list("verb", "actor__username")
    ) == [("alert.acknowledged", "staff"), ("alert.resolved", "staff")]


def test_sellers_cannot_touch_alerts(open_alert, seller, client_logged_in_as):
    response = client_logged_in_as(seller).post(
        reverse("ml:alert_resolve", args=[open_alert.pk])
    )
    assert response.status_code == 403
    open_alert.refresh_from_db()
    assert open_alert.status == "open"


def test_audit_page_lists_the_events(staff_user, client_logged_in_as):
    from audit.services import audit_event_record

    audit_event_record(verb="dataset.reset", obj_type="DatasetReset", obj_id=3)
    page = client_logged_in_as(staff_user).get(reverse("ml:audit"))
    assert page.status_code == 200
    assert "dataset.reset" in page.text and "DatasetReset #3" in page.text


def test_models_page_shows_a_held_gate_decision(staff_user, client_logged_in_as):
    ModelVersionFactory(
        name="candidate",
        gate={
            "promote": False,
            "reasons": ["weighted F1 0.700 < 0.800 (active 0.800 + margin 0.00)"],
            "candidate_metrics": {"n": 10, "weighted_f1": 0.7, "accuracy": 0.7},
            "active_metrics": {"n": 10, "weighted_f1": 0.8, "accuracy": 0.8},
            "active_version": 1,
        },
    )
    page = client_logged_in_as(staff_user).get(reverse("ml:model_versions"))
    assert "held for a staff decision" in page.text
    assert "weighted F1 0.700 &lt; 0.800" in page.text


def test_metrics_api_includes_the_snapshots(version, staff_user):
    MetricSnapshot.objects.create(
        model_version=version, window_days=7, count=40, weighted_f1=0.5, accuracy=0.6
    )
    client = APIClient()
    client.force_authenticate(staff_user)
    body = client.get(reverse("api-metrics")).json()
    assert [
        (s["model_version_id"], s["window_days"], s["count"], s["weighted_f1"])
        for s in body["snapshots"]
    ] == [(version.pk, 7, 40, 0.5)]
