"""Monitoring: snapshots of the active model's live metrics, the alert rules evaluated
on them, and the alerts' life cycle (notify, acknowledge, resolve)."""

from dataclasses import dataclass

from django.conf import settings
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.utils import timezone

from audit.services import audit_event_record
from catalog.models import Category
from ml.models import (
    Alert,
    MetricSnapshot,
    ModelVersion,
    TrainingRun,
)
from ml.selectors.monitoring import model_metrics_window
from rakuten.queueing import enqueue_on_commit


@transaction.atomic
def metric_snapshot_create(
    *, days: int, model_version: ModelVersion | None = None
) -> MetricSnapshot | None:
    """Freeze the live metrics of ``model_version`` (the active one by default) over the
    last ``days`` days, as computed by ``model_metrics_window``. None when no
    model is active."""
    metrics = model_metrics_window(days=days, model_version=model_version)
    if metrics["model_version"] is None:
        return None
    return MetricSnapshot.objects.create(
        model_version_id=metrics["model_version"]["id"],
        window_days=days,
        count=metrics["count"],
        accuracy=metrics["accuracy"],
        weighted_f1=metrics["weighted_f1"],
        top1_kept_rate=metrics["top1_kept_rate"],
        per_category=[
            {key: row[key] for key in ("code", "name", "f1", "support")}
            for row in metrics["per_category"]
        ],
    )


@dataclass(frozen=True)
class _AlertCheck:
    kind: str
    key: str
    value: float
    threshold: float
    message: str
    category_code: str | None = None


def _alert_checks(snapshot: MetricSnapshot) -> tuple[list[_AlertCheck], set[str]]:
    """What the snapshot says, rule by rule: the failing checks, and the keys of the
    checks that had enough products and passed (their alerts may be resolved)."""
    validation = (snapshot.model_version.metrics or {}).get("fused") or {}
    margin = settings.ML_ALERT_MARGIN
    failing, passing = [], set()
    baseline = validation.get("weighted_f1")
    if (
        baseline is not None
        and snapshot.weighted_f1 is not None
        and snapshot.count >= settings.ML_ALERT_MIN_PRODUCTS
    ):
        threshold = baseline - margin
        if snapshot.weighted_f1 < threshold:
            failing.append(
                _AlertCheck(
                    kind=Alert.Kind.GLOBAL,
                    key="global",
                    value=snapshot.weighted_f1,
                    threshold=threshold,
                    message=(
                        f"Weighted F1 over the last {snapshot.window_days} days is "
                        f"{snapshot.weighted_f1:.3f} on {snapshot.count} products, "
                        f"below {threshold:.3f} (validation {baseline:.3f} - "
                        f"{margin:.2f})."
                    ),
                )
            )
        else:
            passing.add("global")
    per_class = validation.get("per_class") or {}
    known = set(snapshot.model_version.label_codes or [])
    for row in snapshot.per_category:
        if (
            row["code"] not in known
            and row["support"] >= settings.ML_ALERT_MIN_CATEGORY_SUPPORT
        ):
            failing.append(_unknown_category_check(snapshot, row))
            continue
        base = (per_class.get(row["code"]) or {}).get("f1")
        if base is None or row["support"] < settings.ML_ALERT_MIN_CATEGORY_SUPPORT:
            continue
        key = f"category:{row['code']}"
        threshold = base - margin
        if row["f1"] < threshold:
            failing.append(
                _AlertCheck(
                    kind=Alert.Kind.CATEGORY,
                    key=key,
                    value=row["f1"],
                    threshold=threshold,
                    category_code=row["code"],
                    message=(
                        f"F1 of {row['name']} ({row['code']}) over the last "
                        f"{snapshot.window_days} days is {row['f1']:.3f} on "
                        f"{row['support']} products, below {threshold:.3f} "
                        f"(validation {base:.3f} - {margin:.2f})."
                    ),
                )
            )
        else:
            passing.add(key)
    return failing, passing


def _unknown_category_check(snapshot: MetricSnapshot, row: dict) -> _AlertCheck:
    """Sellers confirmed products in a category the model cannot predict (added since it
    was trained): only a retraining can learn it. The alert is superseded once a model
    that knows it is active."""
    return _AlertCheck(
        kind=Alert.Kind.UNKNOWN_CATEGORY,
        key=f"unknown:{row['code']}",
        value=row["f1"],
        threshold=0.0,
        category_code=row["code"],
        message=(
            f"{row['support']} products were confirmed as {row['name']} "
            f"({row['code']}) over the last {snapshot.window_days} days, a category "
            f"model #{snapshot.model_version_id} does not know: retrain to learn it."
        ),
    )


@transaction.atomic
def alerts_evaluate(*, snapshot: MetricSnapshot) -> list[Alert]:
    """Open an alert for every rule the snapshot breaks (global weighted F1, and F1 per
    category, each against the model's validation figure minus ``ML_ALERT_MARGIN``;
    products confirmed in a category the model does not know),
    unless one is already unresolved for that rule; resolve the unresolved alerts of
    rules that pass again and those about another (older) model version. Staff are
    e-mailed about the new alerts once the transaction commits. Returns the alerts
    opened."""
    failing, passing = _alert_checks(snapshot)
    opened = []
    for check in failing:
        alert = _alert_open(snapshot=snapshot, check=check)
        if alert is not None:
            opened.append(alert)
    for alert in Alert.objects.filter(open_key__in=passing):
        _alert_close(alert=alert, user=None, reason="metric recovered")
    # Alerts about a model that is no longer the one measured are superseded.
    superseded = Alert.objects.filter(open_key__isnull=False).exclude(
        model_version=snapshot.model_version
    )
    for alert in superseded:
        _alert_close(alert=alert, user=None, reason="superseded by a new model")
    if opened:
        ids = [alert.pk for alert in opened]
        transaction.on_commit(lambda: alert_notify(alert_ids=ids))
        if settings.ML_ALERT_TRIGGERS_RETRAINING:
            enqueue_on_commit(
                "ml.tasks.retraining_scheduled",
                TrainingRun.Kind.INCREMENTAL,
                f"alert:{ids[0]}",
            )
    return opened


def _alert_open(*, snapshot: MetricSnapshot, check: _AlertCheck) -> Alert | None:
    if Alert.objects.filter(open_key=check.key).exists():
        return None
    category = (
        Category.objects.filter(code=check.category_code).first()
        if check.category_code
        else None
    )
    try:
        with transaction.atomic():  # a concurrent evaluation may open it first
            alert = Alert.objects.create(
                kind=check.kind,
                category=category,
                model_version=snapshot.model_version,
                snapshot=snapshot,
                open_key=check.key,
                value=check.value,
                threshold=check.threshold,
                message=check.message,
            )
    except IntegrityError:
        return None
    audit_event_record(
        verb="alert.opened", obj=alert, message=check.message, data={"key": check.key}
    )
    return alert


def alert_notify(*, alert_ids: list[int]) -> int:
    """E-mail the staff about new alerts; returns the number of messages sent."""
    from accounts.selectors import staff_email_list

    alerts = list(Alert.objects.filter(pk__in=alert_ids).order_by("pk"))
    recipients = staff_email_list()
    if not alerts or not recipients:
        return 0
    subject = (
        f"[rakuten] {len(alerts)} model alert{'s' if len(alerts) > 1 else ''}: "
        f"{alerts[0].model_version}"
    )
    body = "\n".join(f"- {alert.message}" for alert in alerts)
    return send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, recipients)


@transaction.atomic
def alert_acknowledge(*, alert: Alert, user) -> Alert:
    """Staff saw the alert. It stays unresolved (no new alert opens for its rule)."""
    alert = Alert.objects.select_for_update().get(pk=alert.pk)
    if alert.status != Alert.Status.OPEN:
        return alert
    alert.status = Alert.Status.ACKNOWLEDGED
    alert.acknowledged_at = timezone.now()
    alert.acknowledged_by = user
    alert.save(update_fields=["status", "acknowledged_at", "acknowledged_by"])
    audit_event_record(verb="alert.acknowledged", obj=alert, actor=user)
    return alert


@transaction.atomic
def alert_resolve(*, alert: Alert, user) -> Alert:
    """Close the alert: the next breach of its rule opens a new one."""
    alert = Alert.objects.select_for_update().get(pk=alert.pk)
    return _alert_close(alert=alert, user=user, reason="resolved by staff")


def _alert_close(*, alert: Alert, user, reason: str) -> Alert:
    if alert.status == Alert.Status.RESOLVED:
        return alert
    alert.status = Alert.Status.RESOLVED
    alert.resolved_at = timezone.now()
    alert.open_key = None
    alert.save(update_fields=["status", "resolved_at", "open_key"])
    audit_event_record(verb="alert.resolved", obj=alert, actor=user, message=reason)
    return alert


def model_monitoring_run(*, days: int | None = None) -> list[Alert]:
    """The daily check: snapshot the active model's live metrics and evaluate the
    alert rules on them. Returns the alerts opened. The label-quality guard
    evaluates the sellers too."""
    from ml.services.label_guard import seller_label_reviews_evaluate

    seller_label_reviews_evaluate()
    snapshot = metric_snapshot_create(days=days or settings.ML_METRICS_WINDOW_DAYS)
    if snapshot is None:
        return []
    return alerts_evaluate(snapshot=snapshot)
