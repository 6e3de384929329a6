"""AuditEvent now belongs to the audit app (see audit/0001): drop it from this app's
state only; its table stays."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("ml", "0007_skipped_runs_unknown_category_alerts"),
        ("audit", "0001_audit_event_moves_from_ml"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.DeleteModel(name="AuditEvent")],
            database_operations=[],
        ),
    ]
