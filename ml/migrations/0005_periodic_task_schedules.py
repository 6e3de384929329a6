"""The self-improving loop's schedules, as django-celery-beat rows staff can edit in
the admin: metrics daily, stale-run recovery every five minutes, incremental
retraining weekly, full retraining monthly. Reversible: the rows are removed by name."""

import json

from django.db import migrations

# name -> (task, args, crontab fields or None, interval minutes or None)
SCHEDULES = {
    "ml: daily metric snapshot and alerts": (
        "ml.tasks.metrics_snapshot",
        [],
        {"minute": "0", "hour": "2"},
        None,
    ),
    "ml: weekly incremental retraining": (
        "ml.tasks.retraining_scheduled",
        ["incremental"],
        {"minute": "0", "hour": "3", "day_of_week": "1"},
        None,
    ),
    "ml: monthly full retraining": (
        "ml.tasks.retraining_scheduled",
        ["full"],
        {"minute": "0", "hour": "4", "day_of_month": "1"},
        None,
    ),
    "ml: requeue stale training runs": (
        "ml.tasks.training_runs_requeue_stale",
        [],
        None,
        5,
    ),
}


def create_schedules(apps, schema_editor):
    CrontabSchedule = apps.get_model("django_celery_beat", "CrontabSchedule")
    IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    for name, (task, args, crontab, minutes) in SCHEDULES.items():
        schedule = {}
        if crontab is not None:
            schedule["crontab"], _ = CrontabSchedule.objects.get_or_create(
                **{
                    "minute": "*",
                    "hour": "*",
                    "day_of_week": "*",
                    "day_of_month": "*",
                    "month_of_year": "*",
                    **crontab,
                }
            )
        else:
            schedule["interval"], _ = IntervalSchedule.objects.get_or_create(
                every=minutes, period="minutes"
            )
        PeriodicTask.objects.update_or_create(
            name=name,
            defaults={
                "task": task,
                "args": json.dumps(args),
                "queue": "ml",
                "enabled": True,
                **schedule,
            },
        )


def remove_schedules(apps, schema_editor):
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    PeriodicTask.objects.filter(name__in=list(SCHEDULES)).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("ml", "0004_training_run_schedule_key_attempts_and_gate"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(create_schedules, remove_schedules)]
