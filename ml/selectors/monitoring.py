"""Reads for monitoring: the active model's live metrics on confirmed products, the
recent score shown to sellers, metric snapshots and alerts."""

from datetime import datetime, timedelta

from django.db.models import QuerySet
from django.utils import timezone

from catalog.models import Category
from ml.models import (
    Alert,
    MetricSnapshot,
    ModelVersion,
    Prediction,
)
from ml.selectors.model_versions import model_version_get_active
from ml.selectors.training_runs import training_run_get_activating
from rakuten.exceptions import ApplicationError, NotFoundError

REAL_VS_PREDICTED_ROWS = 50


def model_metrics_window(
    *, days: int, model_version: ModelVersion | None = None
) -> dict:
    """How ``model_version`` (the active one by default) did on the products confirmed
    in the last ``days`` days: the real category is the product's confirmed one, the
    predicted one is the first suggestion of the product's latest prediction by that
    version for the saved text (not one the seller saw before editing).
    JSON-serialisable; the metrics page and the metrics API share it.

    Shape: ``window_days``, ``model_version`` (``ModelVersion.summary()`` or None),
    ``count``, ``accuracy``, ``weighted_f1``, ``top1_kept_rate`` (share of products
    whose seller kept the first suggestion), ``top_k_hit_rate`` (the confirmed category
    was among the suggestions), ``per_category`` [{code, name, f1, support}],
    ``confusion`` {labels, matrix} (rows real, columns predicted), ``real_vs_predicted``
    (latest 50: product_id, title, real, real_name, predicted, predicted_name,
    probability, correct, created_at), ``trend`` [{date, count, accuracy,
    weighted_f1}] one row per day of the window, oldest first (metrics None on days
    without products). Rates are None when ``count`` is 0.
    """
    from ml.core.metrics import classification_metrics, weighted_f1

    if days < 1:
        raise ApplicationError("The window must be at least one day.")
    version = model_version or model_version_get_active()
    now = timezone.now()
    since = now - timedelta(days=days)
    rows = _window_rows(version, since) if version is not None else []
    real = [row["real"] for row in rows]
    predicted = [row["predicted"] for row in rows]
    labels = sorted(set(real) | set(predicted))
    metrics = classification_metrics(real, predicted, labels=labels)
    names = dict(Category.objects.filter(code__in=labels).values_list("code", "name"))
    count = len(rows)
    return {
        "window_days": days,
        "model_version": version.summary() if version is not None else None,
        "count": count,
        "accuracy": metrics["accuracy"] if count else None,
        "weighted_f1": metrics["weighted_f1"] if count else None,
        "top1_kept_rate": _rate(rows, "kept_top1"),
        "top_k_hit_rate": _rate(rows, "in_top_k"),
        "per_category": [
            {
                "code": code,
                "name": names.get(code, code),
                "f1": metrics["per_class"][code]["f1"],
                "support": metrics["per_class"][code]["support"],
            }
            for code in labels
        ],
        "confusion": {"labels": labels, "matrix": metrics["confusion_matrix"]},
        "real_vs_predicted": [
            {
                "product_id": row["product_id"],
                "title": row["title"],
                "real": row["real"],
                "real_name": names.get(row["real"], row["real"]),
                "predicted": row["predicted"],
                "predicted_name": names.get(row["predicted"], row["predicted"]),
                "probability": row["probability"],
                "correct": row["real"] == row["predicted"],
                "created_at": row["created_at"].isoformat(),
            }
            for row in sorted(rows, key=lambda r: r["created_at"], reverse=True)[
                :REAL_VS_PREDICTED_ROWS
            ]
        ],
        "trend": _daily_trend(rows, since.date(), now.date(), weighted_f1),
    }


def _window_rows(version: ModelVersion, since: datetime | None) -> list[dict]:
    """One row per product confirmed since ``since`` (ever: None) that has a
    prediction by ``version`` made for its saved text: its latest such prediction.

    A prediction the seller saw before editing the title, description or photo
    (``for_saved_text`` False) is left out: the label is compared only with what the
    model said of the text that was saved. Predictions linked before this was
    recorded (NULL) are counted, as before."""
    predictions = Prediction.objects.filter(
        model_version=version,
        product__isnull=False,
        product__category__isnull=False,
        product__confirmed_at__isnull=False,
    ).exclude(for_saved_text=False)
    if since is not None:
        predictions = predictions.filter(product__confirmed_at__gte=since)
    predictions = predictions.select_related(
        "product__category", "predicted_category"
    ).order_by("product_id", "-created_at", "-id")
    rows, seen = [], set()
    for prediction in predictions:
        product = prediction.product
        if product.pk in seen:
            continue
        seen.add(product.pk)
        codes = [item.get("code") for item in prediction.top_k]
        predicted = (
            prediction.predicted_category.code
            if prediction.predicted_category is not None
            else (codes[0] if codes else "")
        )
        rows.append(
            {
                "product_id": product.pk,
                "title": product.title,
                "real": product.category.code,
                "predicted": predicted,
                "probability": prediction.top_k[0]["probability"]
                if prediction.top_k
                else None,
                "kept_top1": bool(codes) and codes[0] == product.category.code,
                "in_top_k": product.category.code in codes,
                "confirmed_at": product.confirmed_at,
                "confirmed_on": timezone.localdate(product.confirmed_at),
                "created_at": prediction.created_at,
            }
        )
    return rows


def _rate(rows: list[dict], key: str) -> float | None:
    return sum(row[key] for row in rows) / len(rows) if rows else None


def _daily_trend(rows: list[dict], first, last, weighted_f1) -> list[dict]:
    by_day: dict = {}
    for row in rows:
        by_day.setdefault(row["confirmed_on"], []).append(row)
    trend, day = [], first
    while day <= last:
        day_rows = by_day.get(day, [])
        real = [row["real"] for row in day_rows]
        predicted = [row["predicted"] for row in day_rows]
        hits = sum(r == p for r, p in zip(real, predicted, strict=True))
        trend.append(
            {
                "date": day.isoformat(),
                "count": len(day_rows),
                "accuracy": hits / len(day_rows) if day_rows else None,
                "weighted_f1": weighted_f1(real, predicted) if day_rows else None,
            }
        )
        day += timedelta(days=1)
    return trend


def model_status_get(*, active_model: ModelVersion | None) -> dict:
    """What sellers see of the model: the active one (``active_model``) and its recent
    score or, with none active, the run that will activate one (None when none is
    queued or running)."""
    return {
        "active_model": active_model,
        "score": model_score_recent() if active_model else None,
        "training_run": None if active_model else training_run_get_activating(),
    }


def model_score_recent(*, last: int = 50) -> dict | None:
    """The sellers' summary: of the last ``last`` products confirmed (latest first)
    after a suggestion of the active model, how many it got right. None without an
    active model."""
    version = model_version_get_active()
    if version is None:
        return None
    rows = _window_rows(version, since=None)
    rows.sort(key=lambda row: row["confirmed_at"], reverse=True)
    rows = rows[:last]
    return {
        "right": sum(row["real"] == row["predicted"] for row in rows),
        "total": len(rows),
    }


def metric_snapshot_list(*, limit: int = 10) -> QuerySet[MetricSnapshot]:
    return MetricSnapshot.objects.select_related("model_version")[:limit]


def alert_list_unresolved() -> QuerySet[Alert]:
    return (
        Alert.objects.exclude(status=Alert.Status.RESOLVED)
        .select_related("category", "model_version")
        .order_by("-created_at", "-id")
    )


def alert_get(*, pk: int) -> Alert:
    try:
        return Alert.objects.get(pk=pk)
    except Alert.DoesNotExist as exc:
        raise NotFoundError("No such alert.") from exc
