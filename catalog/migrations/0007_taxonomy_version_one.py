"""The taxonomy as it stands becomes version 1: the current version, holding every
active category (the seeded Rakuten product types, plus any imported since)."""

from django.db import migrations


def seed(apps, schema_editor):
    Category = apps.get_model("catalog", "Category")
    TaxonomyVersion = apps.get_model("catalog", "TaxonomyVersion")
    if TaxonomyVersion.objects.exists():
        return
    version = TaxonomyVersion.objects.create(name="1", is_current=True)
    version.categories.set(Category.objects.filter(active=True))


def unseed(apps, schema_editor):
    TaxonomyVersion = apps.get_model("catalog", "TaxonomyVersion")
    TaxonomyVersion.objects.filter(name="1", migrations_from__isnull=True).delete()


class Migration(migrations.Migration):
    dependencies = [("catalog", "0006_taxonomy_versions_and_migrations")]

    operations = [migrations.RunPython(seed, unseed)]
