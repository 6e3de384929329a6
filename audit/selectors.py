"""Reads on the audit log."""

from django.db.models import QuerySet

from audit.models import AuditEvent


def audit_event_list(*, limit: int = 200) -> QuerySet[AuditEvent]:
    return AuditEvent.objects.select_related("actor")[:limit]
