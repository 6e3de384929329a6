"""The stale-run check becomes the watchdog: on its own ``watchdog`` queue (never
behind queued training runs), every minute (it also sends the runs whose message never
reached the broker). Reversible: back to the ml queue every five minutes."""

from django.db import migrations

NAME = "ml: requeue stale training runs"


def _set(apps, *, queue: str, minutes: int) -> None:
    IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    interval, _ = IntervalSchedule.objects.get_or_create(
        every=minutes, period="minutes"
    )
    PeriodicTask.objects.filter(name=NAME).update(queue=queue, interval=interval)


def to_watchdog(apps, schema_editor):
    _set(apps, queue="watchdog", minutes=1)


def back_to_ml(apps, schema_editor):
    _set(apps, queue="ml", minutes=5)


class Migration(migrations.Migration):
    dependencies = [
        ("ml", "0011_training_run_enqueued_at_worker"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(to_watchdog, back_to_ml)]
