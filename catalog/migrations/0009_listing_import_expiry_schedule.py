"""Beat's hourly expiry of the sellers' listing imports not confirmed in time, as a
django-celery-beat row staff can edit in the admin. Reversible: the row is removed by
name."""

from django.db import migrations

NAME = "catalog: expire unconfirmed listing imports"


def create_schedule(apps, schema_editor):
    IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    interval, _ = IntervalSchedule.objects.get_or_create(every=1, period="hours")
    PeriodicTask.objects.update_or_create(
        name=NAME,
        defaults={
            "task": "catalog.listing_imports_expire",
            "args": "[]",
            "queue": "default",
            "enabled": True,
            "interval": interval,
        },
    )


def remove_schedule(apps, schema_editor):
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    PeriodicTask.objects.filter(name=NAME).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("catalog", "0008_listing_imports_and_product_sku"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(create_schedule, remove_schedule)]
