"""Seed the default taxonomy: the 27 Rakuten France product types (code, name). They are
ordinary rows afterwards: staff may rename, retire or merge them, or import another
taxonomy."""

from django.db import migrations

RAKUTEN_PRODUCT_TYPES = (
    ("10", "Livres occasion"),
    ("40", "Jeux consoles neuf"),
    ("50", "Accesoires gaming"),
    ("60", "Consoles de jeux"),
    ("1140", "Objets pop culture"),
    ("1160", "Cartes de jeux"),
    ("1180", "Jeux de rôle et figurines"),
    ("1280", "Jouets enfant"),
    ("1281", "Jeux enfant"),
    ("1300", "Modélisme"),
    ("1301", "Chaussettes enfant"),
    ("1302", "Jeux de plein air"),
    ("1320", "Puériculture"),
    ("1560", "Mobilier"),
    ("1920", "Linge de maison"),
    ("1940", "Epicerie"),
    ("2060", "Décoration"),
    ("2220", "Animalerie"),
    ("2280", "Journaux et revues occasion"),
    ("2403", "Lots livres et magazines"),
    ("2462", "Jeux videos occasion"),
    ("2522", "Fournitures papeterie"),
    ("2582", "Mobilier de jardin"),
    ("2583", "Piscine et accessoires"),
    ("2585", "Outillage de jardin"),
    ("2705", "Livres neufs"),
    ("2905", "Jeux PC"),
)


def seed(apps, schema_editor):
    Category = apps.get_model("catalog", "Category")
    for code, name in RAKUTEN_PRODUCT_TYPES:
        Category.objects.get_or_create(code=code, defaults={"name": name})


def unseed(apps, schema_editor):
    Category = apps.get_model("catalog", "Category")
    codes = [code for code, _ in RAKUTEN_PRODUCT_TYPES]
    Category.objects.filter(code__in=codes, products__isnull=True).delete()


class Migration(migrations.Migration):
    dependencies = [("catalog", "0001_category_and_product")]

    operations = [migrations.RunPython(seed, unseed)]
