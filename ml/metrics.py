"""The ML platform's Prometheus figures (``/metrics``, docs/deployment.md).

Two kinds:

- counted where they happen, by the services: predictions (by model version and
  input), their latency and top-1 probability; training runs by kind and outcome,
  with their duration. In a worker process these reach Prometheus through
  prometheus-client's multiprocess mode or the worker's own port (rakuten.metrics);
- read from the database when Prometheus scrapes (``PlatformCollector``): the active
  model, the last metric snapshot's live figures next to the validation figures the
  alert rules compare them with, the open alerts by rule, and the running batch jobs.
  A few indexed queries per scrape; no row is written.

Metric names are the contract with deploy/prometheus/alerts.yml and the Grafana
dashboard (a test checks that every name they use is exposed)."""

import logging

from django.conf import settings
from django.db import DatabaseError
from django.db.models import Count
from django.utils import timezone
from prometheus_client import Counter, Histogram
from prometheus_client.core import GaugeMetricFamily, InfoMetricFamily

from ml.models import Alert, BatchJob, MetricSnapshot
from ml.selectors.model_versions import model_version_get_active

logger = logging.getLogger(__name__)

PREDICTIONS = Counter(
    "rakuten_predictions",
    "Predictions made, by model version and input (text, image, text+image).",
    ["model_version", "input"],
)
PREDICTION_LATENCY = Histogram(
    "rakuten_prediction_latency_seconds",
    "Time the model took for one prediction.",
    ["input"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
PREDICTION_TOP1 = Histogram(
    "rakuten_prediction_top1_probability",
    "Probability of the first suggestion.",
    buckets=(0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99, 1.0),
)
TRAINING_RUNS = Counter(
    "rakuten_training_runs",
    "Training attempts finished, by kind (full, incremental) and outcome "
    "(succeeded, failed, skipped; lost: the watchdog gave up on a dead worker).",
    ["kind", "outcome"],
)
TRAINING_DURATION = Histogram(
    "rakuten_training_duration_seconds",
    "Time from a training attempt's start to its end, by kind and outcome.",
    ["kind", "outcome"],
    buckets=(1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600, 7200, 14400),
)


def prediction_observe(
    *, model_version_id: int, used: str, latency_ms: float, top1: float | None
) -> None:
    """Count one prediction (``used``: the input the model read)."""
    used = used or "none"
    PREDICTIONS.labels(model_version=str(model_version_id), input=used).inc()
    PREDICTION_LATENCY.labels(input=used).observe(max(latency_ms, 0.0) / 1000)
    if top1 is not None:
        PREDICTION_TOP1.observe(top1)


def training_run_observe(*, kind: str, outcome: str, seconds: float | None) -> None:
    """Count one finished training attempt."""
    TRAINING_RUNS.labels(kind=kind, outcome=outcome).inc()
    if seconds is not None:
        TRAINING_DURATION.labels(kind=kind, outcome=outcome).observe(max(seconds, 0.0))


class PlatformCollector:
    """Figures read from the database at scrape time; a part whose query fails is
    left out (the rest of /metrics still answers)."""

    def collect(self):
        for part in (_active_model, _live_metrics, _open_alerts, _batch_jobs):
            try:
                found = list(part())
            except DatabaseError as exc:
                logger.warning("%s not read: %s", part.__name__, exc)
                continue
            yield from found


def _active_model():
    info = InfoMetricFamily(
        "rakuten_active_model", "The model version that answers predictions."
    )
    version = model_version_get_active()
    if version is not None:
        info.add_metric(
            [],
            {
                "model_version": str(version.pk),
                "name": version.name,
                "backbone": version.backbone or "text",
                "sha256": version.bundle_sha256[:12],
            },
        )
    yield info


def _live_metrics():
    """The last snapshot's live figures, each beside its validation figure, with the
    alert rule's settings, so that deploy/prometheus/alerts.yml judges the same drops
    as ml.services.monitoring."""
    labels = ["model_version"]
    category_labels = ["model_version", "category"]
    live_f1 = GaugeMetricFamily(
        "rakuten_live_weighted_f1",
        "Weighted F1 of the last metric snapshot (live, confirmed products).",
        labels=labels,
    )
    live_accuracy = GaugeMetricFamily(
        "rakuten_live_accuracy", "Accuracy of the last metric snapshot.", labels=labels
    )
    live_products = GaugeMetricFamily(
        "rakuten_live_products",
        "Confirmed products the last metric snapshot was computed on.",
        labels=labels,
    )
    snapshot_time = GaugeMetricFamily(
        "rakuten_live_snapshot_timestamp_seconds",
        "When the last metric snapshot was computed (Unix time).",
        labels=labels,
    )
    category_f1 = GaugeMetricFamily(
        "rakuten_live_category_f1",
        "F1 of one category in the last metric snapshot.",
        labels=category_labels,
    )
    category_support = GaugeMetricFamily(
        "rakuten_live_category_support",
        "Confirmed products of one category in the last metric snapshot.",
        labels=category_labels,
    )
    validation_f1 = GaugeMetricFamily(
        "rakuten_validation_weighted_f1",
        "Validation weighted F1 of the snapshot's model version.",
        labels=labels,
    )
    validation_category_f1 = GaugeMetricFamily(
        "rakuten_validation_category_f1",
        "Validation F1 of one category of the snapshot's model version.",
        labels=category_labels,
    )
    snapshot = MetricSnapshot.objects.select_related("model_version").first()
    if snapshot is not None:
        version = str(snapshot.model_version_id)
        if snapshot.weighted_f1 is not None:
            live_f1.add_metric([version], snapshot.weighted_f1)
        if snapshot.accuracy is not None:
            live_accuracy.add_metric([version], snapshot.accuracy)
        live_products.add_metric([version], snapshot.count)
        snapshot_time.add_metric([version], snapshot.computed_at.timestamp())
        for row in snapshot.per_category:
            category_f1.add_metric([version, row["code"]], row["f1"])
            category_support.add_metric([version, row["code"]], row["support"])
        validation = (snapshot.model_version.metrics or {}).get("fused") or {}
        if validation.get("weighted_f1") is not None:
            validation_f1.add_metric([version], validation["weighted_f1"])
        for code, row in sorted((validation.get("per_class") or {}).items()):
            if (row or {}).get("f1") is not None:
                validation_category_f1.add_metric([version, code], row["f1"])
    yield from (live_f1, live_accuracy, live_products, snapshot_time)
    yield from (category_f1, category_support, validation_f1, validation_category_f1)
    for name, value, text in (
        ("margin", settings.ML_ALERT_MARGIN, "ML_ALERT_MARGIN"),
        ("min_products", settings.ML_ALERT_MIN_PRODUCTS, "ML_ALERT_MIN_PRODUCTS"),
        (
            "min_category_support",
            settings.ML_ALERT_MIN_CATEGORY_SUPPORT,
            "ML_ALERT_MIN_CATEGORY_SUPPORT",
        ),
    ):
        yield GaugeMetricFamily(
            f"rakuten_alert_rule_{name}", f"The setting {text}.", value=value
        )


def _open_alerts():
    family = GaugeMetricFamily(
        "rakuten_alerts_open",
        "Open (not yet acknowledged or resolved) alerts, by rule.",
        labels=["rule"],
    )
    counts = dict(
        Alert.objects.filter(status=Alert.Status.OPEN)
        .values_list("kind")
        .annotate(n=Count("id"))
        .order_by()
    )
    for kind in Alert.Kind.values:
        family.add_metric([kind], counts.get(kind, 0))
    yield family


def _batch_jobs():
    """Each running batch job's progress and throughput since it started."""
    labels = ["job", "scope"]
    total = GaugeMetricFamily(
        "rakuten_batch_job_items", "Items of a running batch job.", labels=labels
    )
    done = GaugeMetricFamily(
        "rakuten_batch_job_items_done",
        "Items a running batch job has predicted.",
        labels=labels,
    )
    rate = GaugeMetricFamily(
        "rakuten_batch_job_items_per_second",
        "Items predicted per second since a running batch job started.",
        labels=labels,
    )
    now = timezone.now()
    running = BatchJob.objects.filter(status=BatchJob.Status.RUNNING).values_list(
        "pk", "scope", "total", "done", "started_at"
    )
    for pk, scope, job_total, job_done, started_at in running:
        key = [str(pk), scope]
        total.add_metric(key, job_total)
        done.add_metric(key, job_done)
        seconds = (now - started_at).total_seconds() if started_at else 0.0
        rate.add_metric(key, job_done / seconds if seconds > 0 else 0.0)
    yield from (total, done, rate)
