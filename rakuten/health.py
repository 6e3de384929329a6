"""The platform's health: database, broker and active model."""

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
    from ml.selectors.model_versions import model_version_get_active

    try:
        version = model_version_get_active()
    except DatabaseError:
        return {"active": None}
    if version is None:
        return {"active": None}
    return {"active": version.summary()}
