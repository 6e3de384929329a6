"""The platform's health: database, broker and active model (or the training run
that will activate one)."""

from django.db import connection
from django.db.utils import DatabaseError


def health_report() -> tuple[bool, dict]:
    """Return (healthy, report). Healthy means the database answers."""
    report = {
        "database": _database(),
        "broker": _broker(),
        "model": _model(),
    }
    return report["database"]["ok"], report


def _database() -> dict:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except DatabaseError as exc:
        return {"ok": False, "error": str(exc).splitlines()[0][:200]}
    return {"ok": True, "vendor": connection.vendor}


def _broker() -> dict:
    from kombu.exceptions import OperationalError

    from rakuten.celery import app

    try:
        with app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
            transport = conn.transport_cls
    except (OperationalError, OSError, ConnectionError) as exc:
        return {"ok": False, "error": str(exc)[:200]}
    return {"ok": True, "transport": str(transport)}


def _model() -> dict:
    """The active model; with none active, ``"status": "training"`` and the run's
    progress while a run that will activate a model is queued or running."""
    from ml.selectors.model_versions import model_version_get_active
    from ml.selectors.training_runs import training_run_get_activating

    try:
        version = model_version_get_active()
        run = training_run_get_activating() if version is None else None
    except DatabaseError:
        return {"active": None}
    if version is not None:
        return {"active": version.summary()}
    if run is None:
        return {"active": None}
    return {
        "active": None,
        "status": "training",
        "training_run": {
            "id": run.pk,
            "status": run.status,
            "stage": run.stage,
            "progress": round(run.progress, 3),
            "is_demo": bool(run.parameters.get("is_demo")),
        },
    }
