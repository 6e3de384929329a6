"""Metric snapshots and alerts: ``metric_snapshot_create``, ``alerts_evaluate``,
``alert_acknowledge``, ``alert_resolve``, ``model_monitoring_run``."""

import random
from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone
from sklearn.metrics import accuracy_score, f1_score

from accounts.models import User
from audit.models import AuditEvent
from ml.models import Alert, MetricSnapshot
from ml.services.monitoring import (
    alert_acknowledge,
    alert_resolve,
    alerts_evaluate,
    metric_snapshot_create,
    model_monitoring_run,
)
from tests.factories import (
    CategoryFactory,
    ModelVersionFactory,
    PredictionFactory,
    ProductFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def alert_settings(settings):
    settings.ML_ALERT_MARGIN = 0.05
    settings.ML_ALERT_MIN_PRODUCTS = 30
    settings.ML_ALERT_MIN_CATEGORY_SUPPORT = 10
    settings.ML_ALERT_TRIGGERS_RETRAINING = False
    return settings


@pytest.fixture
def staff_with_email(db):
    return UserFactory(username="ops", role=User.Role.STAFF, email="ops@example.com")


def _window(categories, version, real, predicted):
    now = timezone.now()
    for i, (r, p) in enumerate(zip(real, predicted, strict=True)):
        product = ProductFactory(
            category=categories[r], confirmed_at=now - timedelta(hours=i + 1)
        )
        PredictionFactory(
            model_version=version, product=product, predicted_category=categories[p]
        )


def test_snapshot_freezes_the_window_metrics_which_equal_sklearn():
    # Given an active version and 8 products confirmed this week
    categories = {code: CategoryFactory(code=code) for code in ("A1", "B2", "C3")}
    version = ModelVersionFactory(status="active", active_marker=True)
    real = ["A1", "A1", "A1", "B2", "B2", "C3", "C3", "C3"]
    predicted = ["A1", "A1", "B2", "B2", "C3", "C3", "C3", "A1"]
    _window(categories, version, real, predicted)
    # When a 7-day snapshot is taken
    snapshot = metric_snapshot_create(days=7)
    # Then it stores sklearn's numbers for that version and window
    snapshot.refresh_from_db()
    assert (snapshot.model_version, snapshot.window_days, snapshot.count) == (
        version,
        7,
        8,
    )
    assert snapshot.accuracy == pytest.approx(accuracy_score(real, predicted))
    assert snapshot.weighted_f1 == pytest.approx(
        f1_score(real, predicted, average="weighted", zero_division=0)
    )
    per_class = f1_score(real, predicted, average=None, labels=["A1", "B2", "C3"])
    assert [(r["code"], r["support"]) for r in snapshot.per_category] == [
        ("A1", 3),
        ("B2", 2),
        ("C3", 3),
    ]
    assert [r["f1"] for r in snapshot.per_category] == pytest.approx(list(per_class))
    assert snapshot.top1_kept_rate == pytest.approx(0.625)


def test_no_snapshot_without_an_active_model():
    # Given no active version, when a snapshot is asked for, then none is stored
    assert metric_snapshot_create(days=7) is None
    assert MetricSnapshot.objects.count() == 0


@pytest.mark.parametrize("seed", [0, 1, 2, 3, 4])
def test_alert_fires_on_shifted_data_and_not_on_unshifted_data(
    seed, alert_settings, active_model, training_categories, seller, sell
):
    rng = random.Random(seed)
    codes = sorted(training_categories)
    # Given 45 products written like the training data and confirmed as such
    for i in range(45):
        code = codes[i % 3]
        sell(seller, code, training_categories[code], rng)
    # When the daily check runs
    opened = model_monitoring_run(days=7)
    # Then no alert opens: the live F1 is within the margin of the validation F1
    snapshot = MetricSnapshot.objects.get()
    validation = active_model.metrics["fused"]["weighted_f1"]
    assert snapshot.count == 45
    assert snapshot.weighted_f1 >= validation - 0.05
    assert opened == [] and Alert.objects.count() == 0
    # Given 60 more products whose sellers now use the words of another category
    # (the meaning of the words shifted)
    for i in range(60):
        code = codes[i % 3]
        shifted = codes[(i + 1) % 3]
        sell(seller, shifted, training_categories[code], rng)
    # When the check runs again
    opened = model_monitoring_run(days=7)
    # Then a global alert and one per category open, each below its threshold
    snapshot = MetricSnapshot.objects.order_by("-id").first()
    assert snapshot.count == 105
    kinds = sorted((a.kind, a.category.code if a.category else None) for a in opened)
    assert kinds == [("category", code) for code in codes] + [("global", None)]
    glob = next(a for a in opened if a.kind == Alert.Kind.GLOBAL)
    assert glob.value == pytest.approx(snapshot.weighted_f1)
    assert glob.threshold == pytest.approx(validation - 0.05)
    assert glob.value < glob.threshold
    assert glob.status == Alert.Status.OPEN and glob.model_version == active_model


def _active_version_knowing_a1_b2():
    """An active model of labels A1 and B2, validated at weighted F1 0.9."""
    return ModelVersionFactory(
        status="active",
        active_marker=True,
        label_codes=["A1", "B2"],
        metrics={
            "fused": {
                "weighted_f1": 0.9,
                "per_class": {"A1": {"f1": 0.9}, "B2": {"f1": 0.9}},
            }
        },
    )


def _failing_version(categories):
    version = _active_version_knowing_a1_b2()
    # 40 products, half right: weighted F1 0.5 < 0.85
    real = ["A1", "B2"] * 20
    predicted = ["A1", "A1", "B2", "B2"] * 10
    _window(categories, version, real, predicted)
    return version


def test_an_alert_e_mails_the_staff_once_and_is_not_duplicated(
    alert_settings, staff_with_email, django_capture_on_commit_callbacks
):
    # Given a version whose live F1 is far below its validation F1
    categories = {code: CategoryFactory(code=code) for code in ("A1", "B2")}
    _failing_version(categories)
    # When the check runs
    with django_capture_on_commit_callbacks(execute=True):
        first = model_monitoring_run(days=7)
    # Then one global alert opens (categories have 20 products: enough) and the staff
    # get one e-mail listing them
    assert sorted(a.kind for a in first) == ["category", "category", "global"]
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["ops@example.com"]
    assert "Weighted F1 over the last 7 days is 0.500 on 40 products" in (
        mail.outbox[0].body
    )
    # When the check runs again on the same data
    with django_capture_on_commit_callbacks(execute=True):
        second = model_monitoring_run(days=7)
    # Then no new alert opens and no new e-mail is sent
    assert second == []
    assert Alert.objects.count() == 3
    assert len(mail.outbox) == 1
    assert AuditEvent.objects.filter(verb="alert.opened").count() == 3


def test_acknowledged_alert_stays_unique_and_resolved_one_can_reopen(
    alert_settings, staff_user
):
    # Given an open global alert
    categories = {code: CategoryFactory(code=code) for code in ("A1", "B2")}
    _failing_version(categories)
    settings = alert_settings
    settings.ML_ALERT_MIN_CATEGORY_SUPPORT = 1000  # global rule only
    snapshot = metric_snapshot_create(days=7)
    (alert,) = alerts_evaluate(snapshot=snapshot)
    # When staff acknowledge it and the check runs again
    alert = alert_acknowledge(alert=alert, user=staff_user)
    again = alerts_evaluate(snapshot=metric_snapshot_create(days=7))
    # Then it is acknowledged by them, and no second alert opens
    assert (alert.status, alert.acknowledged_by) == ("acknowledged", staff_user)
    assert again == [] and Alert.objects.count() == 1
    # When they resolve it and the metric is still bad
    alert = alert_resolve(alert=alert, user=staff_user)
    reopened = alerts_evaluate(snapshot=metric_snapshot_create(days=7))
    # Then the old alert is resolved and a new one opens
    assert alert.status == "resolved" and alert.open_key is None
    assert len(reopened) == 1 and reopened[0].pk != alert.pk
    assert Alert.objects.filter(status="open").count() == 1


def test_products_of_a_category_the_model_does_not_know_open_an_alert(
    alert_settings,
):
    # Given a model that knows A1 and B2 and predicts them well, then 12 products
    # confirmed in a new category N3 (a taxonomy change) and 5 in another, N4
    categories = {code: CategoryFactory(code=code) for code in ("A1", "B2", "N3", "N4")}
    version = _active_version_knowing_a1_b2()
    real = ["A1", "B2"] * 30 + ["N3"] * 12 + ["N4"] * 5
    predicted = ["A1", "B2"] * 30 + ["A1"] * 12 + ["B2"] * 5
    _window(categories, version, real, predicted)
    # When the daily check runs (twice)
    opened = model_monitoring_run(days=7)
    again = model_monitoring_run(days=7)
    # Then (beside the F1 alerts) one alert names N3, which has enough products (10)
    # to matter, and only once
    unknown = [a for a in opened if a.kind == Alert.Kind.UNKNOWN_CATEGORY]
    assert [a.category.code for a in unknown] == ["N3"]
    assert "12 products were confirmed as" in unknown[0].message
    assert "does not know" in unknown[0].message
    assert again == []
    assert Alert.objects.filter(open_key__startswith="unknown:").count() == 1


def test_too_few_products_open_no_alert(alert_settings):
    # Given a bad live F1 on only 40 products, under a minimum of 50
    alert_settings.ML_ALERT_MIN_PRODUCTS = 50
    alert_settings.ML_ALERT_MIN_CATEGORY_SUPPORT = 50
    categories = {code: CategoryFactory(code=code) for code in ("A1", "B2")}
    _failing_version(categories)
    # When the check runs, then nothing opens
    assert model_monitoring_run(days=7) == []
    assert Alert.objects.count() == 0


def test_an_alert_can_queue_an_incremental_retraining(
    alert_settings, django_capture_on_commit_callbacks, monkeypatch
):
    # Given alerts that trigger retraining
    alert_settings.ML_ALERT_TRIGGERS_RETRAINING = True
    sent = []
    from ml import tasks

    monkeypatch.setattr(
        tasks.retraining_scheduled_task, "delay", lambda *a: sent.append(a)
    )
    categories = {code: CategoryFactory(code=code) for code in ("A1", "B2")}
    _failing_version(categories)
    # When the check opens alerts
    with django_capture_on_commit_callbacks(execute=True):
        opened = model_monitoring_run(days=7)
    # Then one incremental retraining is queued, keyed by the first alert
    assert sent == [("incremental", f"alert:{opened[0].pk}")]
