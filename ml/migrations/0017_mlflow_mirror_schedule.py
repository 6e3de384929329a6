"""The MLflow mirror's retry: beat sends ``ml.tasks.mlflow_mirror_sync`` every ten
minutes (on the ml queue), so what an MLflow outage left pending is mirrored once
MLflow is back. The task does nothing while ``MLFLOW_TRACKING_URI`` is unset.
Reversible: the row is removed by name."""

import json

from django.db import migrations

NAME = "mlflow: mirror pending runs and versions"


def create_schedule(apps, schema_editor):
    IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    interval, _ = IntervalSchedule.objects.get_or_create(every=10, period="minutes")
    PeriodicTask.objects.update_or_create(
        name=NAME,
        defaults={
            "task": "ml.tasks.mlflow_mirror_sync",
            "args": json.dumps([]),
            "queue": "ml",
            "enabled": True,
            "interval": interval,
        },
    )


def remove_schedule(apps, schema_editor):
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    PeriodicTask.objects.filter(name=NAME).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("ml", "0016_mlflow_mirror_fields"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(create_schedule, remove_schedule)]
