"""``/metrics``: who may read it, and each metric family after the event it counts (a
predict call, training runs, a snapshot and its alerts, a batch job, a queued task)."""

import random
from datetime import timedelta

import pytest
from django.utils import timezone
from prometheus_client import CollectorRegistry, generate_latest

from catalog.models import Category
from ml.models import Alert, BatchJob, TrainingRun
from ml.services.monitoring import (
    alert_acknowledge,
    alerts_evaluate,
    metric_snapshot_create,
)
from ml.services.scheduling import training_runs_requeue_stale
from ml.services.training_runs import (
    TrainingFailedError,
    training_run_create,
    training_run_execute,
)
from rakuten.metrics import CeleryQueueCollector
from tests.factories import (
    CategoryFactory,
    ModelVersionFactory,
    PredictionFactory,
    ProductFactory,
    confirmed_catalogue,
)
from tests.metrics import TOKEN, families, scrape, value

pytestmark = pytest.mark.django_db


@pytest.fixture
def metrics_settings(settings):
    settings.METRICS_TOKEN = TOKEN
    settings.METRICS_ALLOWED_NETWORKS = []
    return settings


# --- Access ---------------------------------------------------------------------------


def test_metrics_are_closed_by_default(client, settings):
    # Given the default settings: no network, no token
    assert settings.METRICS_ALLOWED_NETWORKS == [] and settings.METRICS_TOKEN == ""
    # When anyone asks, with or without a bearer token, then it is refused
    assert client.get("/metrics").status_code == 403
    response = client.get("/metrics", HTTP_AUTHORIZATION="Bearer ")
    assert response.status_code == 403
    assert b"rakuten_" not in response.content


def test_an_anonymous_client_outside_the_networks_is_refused(client, metrics_settings):
    metrics_settings.METRICS_ALLOWED_NETWORKS = ["10.0.0.0/8", "fd00::/8"]
    # A client at 192.0.2.7, with no token or a wrong one, is refused
    for headers in ({}, {"HTTP_AUTHORIZATION": "Bearer wrong"}):
        response = client.get("/metrics", REMOTE_ADDR="192.0.2.7", **headers)
        assert response.status_code == 403
    # The token is only accepted as a bearer token
    response = client.get("/metrics", REMOTE_ADDR="192.0.2.7", HTTP_AUTHORIZATION=TOKEN)
    assert response.status_code == 403
    # X-Forwarded-For is ignored without a trusted proxy
    response = client.get(
        "/metrics", REMOTE_ADDR="192.0.2.7", HTTP_X_FORWARDED_FOR="10.1.2.3"
    )
    assert response.status_code == 403


def test_an_allowed_network_or_the_token_opens_metrics(client, metrics_settings):
    metrics_settings.METRICS_ALLOWED_NETWORKS = ["10.0.0.0/8", "fd00::/8"]
    for address in ("10.1.2.3", "fd00::5"):
        response = client.get("/metrics", REMOTE_ADDR=address)
        assert response.status_code == 200
        assert b"# TYPE rakuten_predictions_total counter" in response.content
    response = client.get(
        "/metrics", REMOTE_ADDR="192.0.2.7", HTTP_AUTHORIZATION=f"Bearer {TOKEN}"
    )
    assert response.status_code == 200


def test_behind_a_trusted_proxy_the_forwarded_client_address_counts(
    client, metrics_settings
):
    metrics_settings.METRICS_ALLOWED_NETWORKS = ["10.0.0.0/8"]
    metrics_settings.TRUSTED_PROXY_COUNT = 1
    # The proxy (127.0.0.1) forwards a client inside, then one outside, the network
    inside = client.get("/metrics", HTTP_X_FORWARDED_FOR="192.0.2.7, 10.9.9.9")
    outside = client.get("/metrics", HTTP_X_FORWARDED_FOR="10.9.9.9, 192.0.2.7")
    assert (inside.status_code, outside.status_code) == (200, 403)


# --- Requests and predictions ---------------------------------------------------------


def test_a_predict_call_moves_the_request_and_prediction_families(
    client, api_as, seller, active_model, metrics_settings
):
    before = scrape(client)
    # When a seller asks for a suggestion from a title
    response = api_as(seller).post(
        "/api/v1/predict/", {"title": "piscine filtre chlore"}, format="json"
    )
    assert response.status_code == 200
    assert response.json()["used"] == "text"
    after = scrape(client)
    version = str(active_model.pk)

    def delta(name, /, **labels):
        return value(after, name, **labels) - value(before, name, **labels)

    # Then one prediction of this version from text, one latency and one top-1
    # probability observation
    assert delta("rakuten_predictions_total", model_version=version, input="text") == 1
    assert delta("rakuten_predictions_total", model_version=version, input="image") == 0
    assert delta("rakuten_prediction_latency_seconds_count", input="text") == 1
    assert delta("rakuten_prediction_top1_probability_count") == 1
    top1 = response.json()["top_k"][0]["probability"]  # (rounded to 4 places)
    assert delta("rakuten_prediction_top1_probability_sum") == pytest.approx(
        top1, abs=1e-4
    )
    assert delta("rakuten_prediction_top1_probability_bucket", le="1.0") == 1
    # and one POST answered 200 by the predict view (django-prometheus)
    assert (
        delta(
            "django_http_responses_total_by_status_view_method_total",
            status="200",
            view="api-predict",
            method="POST",
        )
        == 1
    )
    assert (
        value(
            after,
            "django_http_requests_latency_seconds_by_view_method_count",
            view="api-predict",
            method="POST",
        )
        >= 1
    )
    # and the active model is the info metric's version
    assert value(
        after,
        "rakuten_active_model_info",
        model_version=version,
        name="text test model",
        backbone="text",
        sha256=active_model.bundle_sha256[:12],
    ) == (1)


# --- Training runs --------------------------------------------------------------------


def test_training_runs_are_counted_by_kind_and_outcome(
    client, artifacts, training_categories, metrics_settings
):
    before = scrape(client)
    # Given a confirmed catalogue, when a full run trains, then an incremental run
    # finds nothing new and is skipped
    confirmed_catalogue(training_categories, per_category=8, seed=3)
    run = training_run_create(
        parameters={"text_only": True, "epochs": 2, "activate": True}, enqueue=False
    )
    assert training_run_execute(run_id=run.pk).status == TrainingRun.Status.SUCCEEDED
    incremental = training_run_create(
        parameters={"text_only": True, "epochs": 2},
        kind=TrainingRun.Kind.INCREMENTAL,
        enqueue=False,
    )
    skipped = training_run_execute(run_id=incremental.pk)
    assert skipped.status == TrainingRun.Status.SKIPPED
    after = scrape(client)

    def delta(name, /, **labels):
        return value(after, name, **labels) - value(before, name, **labels)

    runs = "rakuten_training_runs_total"
    assert delta(runs, kind="full", outcome="succeeded") == 1
    assert delta(runs, kind="incremental", outcome="skipped") == 1
    assert delta(runs, kind="full", outcome="failed") == 0
    duration = "rakuten_training_duration_seconds"
    assert delta(f"{duration}_count", kind="full", outcome="succeeded") == 1
    assert delta(f"{duration}_sum", kind="full", outcome="succeeded") > 0
    assert delta(f"{duration}_count", kind="incremental", outcome="skipped") == 1


def test_a_failed_training_run_is_counted_once(client, artifacts, metrics_settings):
    before = scrape(client)
    # Given no product at all, a full run fails
    Category.objects.update(active=False)
    run = training_run_create(parameters={"text_only": True}, enqueue=False)
    with pytest.raises(TrainingFailedError):
        training_run_execute(run_id=run.pk)
    # and executing it again does nothing (it has finished)
    assert training_run_execute(run_id=run.pk).status == TrainingRun.Status.FAILED
    after = scrape(client)
    labels = {"kind": "full", "outcome": "failed"}
    assert value(after, "rakuten_training_runs_total", **labels) - value(
        before, "rakuten_training_runs_total", **labels
    ) == (1)


def test_a_run_the_watchdog_gives_up_on_is_counted_lost(
    client, settings, metrics_settings
):
    # Given a run already queued again once, whose worker died too (no heartbeat)
    settings.ML_STALE_RUN_SECONDS = 120
    TrainingRun.objects.create(
        status=TrainingRun.Status.RUNNING,
        kind=TrainingRun.Kind.INCREMENTAL,
        attempts=1,
        heartbeat_at=timezone.now() - timedelta(seconds=121),
        worker="celery@a 1",
    )
    before = scrape(client)
    # When the watchdog runs (twice: the second finds nothing more)
    assert len(training_runs_requeue_stale()["failed"]) == 1
    assert training_runs_requeue_stale() == {"requeued": [], "failed": []}
    after = scrape(client)
    # Then one incremental run is counted lost, with no duration
    labels = {"kind": "incremental", "outcome": "lost"}
    runs = "rakuten_training_runs_total"
    assert value(after, runs, **labels) - value(before, runs, **labels) == 1
    count = "rakuten_training_duration_seconds_count"
    assert value(after, count, **labels) == value(before, count, **labels)


# --- Live metrics and alerts ----------------------------------------------------------


def _failing_version():
    """An active model validated at weighted F1 0.9 (0.9 per category), whose 40
    confirmed products it predicted half right: live weighted F1 0.5."""
    categories = {code: CategoryFactory(code=code) for code in ("A1", "B2")}
    version = ModelVersionFactory(
        status="active",
        active_marker=True,
        label_codes=["A1", "B2"],
        metrics={
            "fused": {
                "weighted_f1": 0.9,
                "per_class": {"A1": {"f1": 0.9}, "B2": {"f1": 0.8}},
            }
        },
    )
    now = timezone.now()
    real = ["A1", "B2"] * 20
    predicted = ["A1", "A1", "B2", "B2"] * 10
    for i, (r, p) in enumerate(zip(real, predicted, strict=True)):
        product = ProductFactory(
            category=categories[r], confirmed_at=now - timedelta(hours=i + 1)
        )
        PredictionFactory(
            model_version=version, product=product, predicted_category=categories[p]
        )
    return version


def test_the_last_snapshot_and_open_alerts_are_exposed(
    client, settings, staff_user, metrics_settings
):
    settings.ML_ALERT_MARGIN = 0.05
    settings.ML_ALERT_MIN_PRODUCTS = 30
    settings.ML_ALERT_MIN_CATEGORY_SUPPORT = 10
    version = str(_failing_version().pk)
    empty = scrape(client)
    assert value(empty, "rakuten_alerts_open", rule="global") == 0
    assert "rakuten_live_weighted_f1" in families(empty)
    # When a snapshot is taken and the alert rules judge it
    snapshot = metric_snapshot_create(days=7)
    opened = alerts_evaluate(snapshot=snapshot)
    assert sorted(a.kind for a in opened) == ["category", "category", "global"]
    text = scrape(client)
    # Then the live figures are the snapshot's, beside the validation figures
    assert (snapshot.count, snapshot.weighted_f1, snapshot.accuracy) == (40, 0.5, 0.5)
    assert value(text, "rakuten_live_weighted_f1", model_version=version) == 0.5
    assert value(text, "rakuten_live_accuracy", model_version=version) == 0.5
    assert value(text, "rakuten_live_products", model_version=version) == 40
    assert value(text, "rakuten_validation_weighted_f1", model_version=version) == 0.9
    for row in snapshot.per_category:
        labels = {"model_version": version, "category": row["code"]}
        assert value(text, "rakuten_live_category_f1", **labels) == row["f1"]
        assert value(text, "rakuten_live_category_support", **labels) == 20
    assert value(
        text, "rakuten_validation_category_f1", model_version=version, category="B2"
    ) == (0.8)
    assert value(
        text, "rakuten_live_snapshot_timestamp_seconds", model_version=version
    ) == (snapshot.computed_at.timestamp())
    # with the alert rule's settings
    assert value(text, "rakuten_alert_rule_margin") == 0.05
    assert value(text, "rakuten_alert_rule_min_products") == 30
    assert value(text, "rakuten_alert_rule_min_category_support") == 10
    # and the open alerts by rule
    assert value(text, "rakuten_alerts_open", rule="global") == 1
    assert value(text, "rakuten_alerts_open", rule="category") == 2
    assert value(text, "rakuten_alerts_open", rule="unknown_category") == 0
    # When staff acknowledge the global alert, it is no longer open
    glob = Alert.objects.get(kind=Alert.Kind.GLOBAL)
    alert_acknowledge(alert=glob, user=staff_user)
    text = scrape(client)
    assert value(text, "rakuten_alerts_open", rule="global") == 0
    assert value(text, "rakuten_alerts_open", rule="category") == 2


def test_a_snapshot_of_the_real_model_is_exposed(
    client, seller, sell, active_model, training_categories, metrics_settings
):
    rng = random.Random(5)
    codes = sorted(training_categories)
    for i in range(9):
        sell(seller, codes[i % 3], training_categories[codes[i % 3]], rng)
    snapshot = metric_snapshot_create(days=7)
    text = scrape(client)
    version = str(active_model.pk)
    assert snapshot.count == 9
    live = value(text, "rakuten_live_weighted_f1", model_version=version)
    assert live == snapshot.weighted_f1
    validation = value(text, "rakuten_validation_weighted_f1", model_version=version)
    assert validation == active_model.metrics["fused"]["weighted_f1"]
    for code in codes:
        labels = {"model_version": version, "category": code}
        assert value(text, "rakuten_live_category_support", **labels) == 3


# --- Batch jobs and queues ------------------------------------------------------------


def test_running_batch_jobs_report_progress_and_throughput(client, metrics_settings):
    version = ModelVersionFactory()
    running = BatchJob.objects.create(
        scope=BatchJob.Scope.ALL,
        model_version=version,
        status=BatchJob.Status.RUNNING,
        total=1000,
        done=250,
        started_at=timezone.now() - timedelta(seconds=10),
    )
    BatchJob.objects.create(
        scope=BatchJob.Scope.ALL,
        model_version=version,
        status=BatchJob.Status.FINISHED,
        total=10,
        done=10,
    )
    text = scrape(client)
    labels = {"job": str(running.pk), "scope": "all"}
    assert value(text, "rakuten_batch_job_items", **labels) == 1000
    assert value(text, "rakuten_batch_job_items_done", **labels) == 250
    # 250 items in a little over 10 s
    rate = value(text, "rakuten_batch_job_items_per_second", **labels)
    assert 20 < rate <= 25
    # Only running jobs are reported
    assert text.count("rakuten_batch_job_items_done{") == 1


def test_queue_depth_counts_the_messages_waiting_in_the_broker(
    client, metrics_settings
):
    from rakuten.celery import app

    queue = "metrics-test"
    metrics_settings.METRICS_CELERY_QUEUES = [queue, "never-used-queue"]
    with app.connection_for_write() as connection:
        connection.default_channel.queue_purge(queue)
    try:
        for _ in range(3):
            app.send_task("ml.tasks.no_such_task", queue=queue)
        text = scrape(client)
        assert value(text, "rakuten_celery_broker_up") == 1
        assert value(text, "rakuten_celery_queue_length", queue=queue) == 3
        assert value(text, "rakuten_celery_queue_length", queue="never-used-queue") == 0
    finally:
        with app.connection_for_write() as connection:
            connection.default_channel.queue_purge(queue)
    text = scrape(client)
    assert value(text, "rakuten_celery_queue_length", queue=queue) == 0


def test_an_unreachable_broker_gives_broker_down_and_no_depth():
    # Given a broker that does not answer (nothing listens on port 1)
    registry = CollectorRegistry()
    registry.register(CeleryQueueCollector(broker_url="redis://127.0.0.1:1/0"))
    # When the collector reads the queues
    text = generate_latest(registry).decode()
    # Then the broker is reported down, with no depth
    assert value(text, "rakuten_celery_broker_up") == 0
    assert "rakuten_celery_queue_length" not in text
