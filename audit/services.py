"""Writes to the audit log. Every app's services call :func:`audit_event_record` inside
their own transaction."""

from audit.models import AuditEvent


def audit_event_record(
    *,
    verb: str,
    obj=None,
    obj_type: str = "",
    obj_id=None,
    actor=None,
    message: str = "",
    data: dict | None = None,
) -> AuditEvent:
    """Append one line to the audit log (inside the caller's transaction, so the event
    and the change it describes are stored together or not at all)."""
    if obj is not None:
        obj_type, obj_id = type(obj).__name__, obj.pk
    return AuditEvent.objects.create(
        actor=actor if getattr(actor, "is_authenticated", False) else None,
        verb=verb,
        object_type=obj_type,
        object_id="" if obj_id is None else str(obj_id),
        message=message,
        data=data or {},
    )
