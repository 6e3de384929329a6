"""The seeded name of product type 50 was misspelt ("Accesoires gaming"): correct it
where a category still carries it. A category that staff renamed is left alone;
backwards restores the misspelling only where this correction is still in place."""

from django.db import migrations

CODE = "50"
MISSPELT = "Accesoires gaming"
CORRECT = "Accessoires gaming"


def correct_spelling(apps, schema_editor):
    Category = apps.get_model("catalog", "Category")
    Category.objects.filter(code=CODE, name=MISSPELT).update(name=CORRECT)


def restore_spelling(apps, schema_editor):
    Category = apps.get_model("catalog", "Category")
    Category.objects.filter(code=CODE, name=CORRECT).update(name=MISSPELT)


class Migration(migrations.Migration):
    dependencies = [("catalog", "0004_backfill_product_search_text")]

    operations = [migrations.RunPython(correct_spelling, restore_spelling)]
