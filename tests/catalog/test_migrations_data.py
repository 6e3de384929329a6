"""The catalogue's data migrations, their functions run with the app registry:
forwards and backwards."""

from importlib import import_module

import pytest
from django.apps import apps

from catalog.models import Category, Product
from tests.factories import ProductFactory

pytestmark = pytest.mark.django_db

spelling = import_module("catalog.migrations.0005_category_50_name_spelling")
backfill = import_module("catalog.migrations.0004_backfill_product_search_text")


def _name_of_50() -> str:
    return Category.objects.get(code="50").name


def test_the_seeded_taxonomy_spells_accessoires_right():
    assert _name_of_50() == "Accessoires gaming"


def test_the_spelling_fix_forwards_and_backwards():
    # Given the name as seeded
    Category.objects.filter(code="50").update(name="Accesoires gaming")
    # When the migration runs forwards, then backwards, then forwards again
    spelling.correct_spelling(apps, None)
    assert _name_of_50() == "Accessoires gaming"
    spelling.restore_spelling(apps, None)
    assert _name_of_50() == "Accesoires gaming"
    spelling.correct_spelling(apps, None)
    assert _name_of_50() == "Accessoires gaming"


def test_the_spelling_fix_leaves_a_renamed_category_alone():
    Category.objects.filter(code="50").update(name="Gaming")
    spelling.correct_spelling(apps, None)
    assert _name_of_50() == "Gaming"
    spelling.restore_spelling(apps, None)
    assert _name_of_50() == "Gaming"


def test_the_backfill_fills_every_products_search_text(monkeypatch):
    # Given products stored before search_text existed (3 batches of 2)
    monkeypatch.setattr(backfill, "BATCH_SIZE", 2)
    for title in ("Jeu VIDÉO", "Élève", "Noël", "Château", "ÉTÉ"):
        ProductFactory(title=title, description="Très bon état")
    Product.objects.update(search_text="")
    # When the migration runs
    backfill.backfill(apps, None)
    # Then each has the text the services write
    assert sorted(Product.objects.values_list("search_text", flat=True)) == [
        "chateau\ntres bon etat",
        "eleve\ntres bon etat",
        "ete\ntres bon etat",
        "jeu video\ntres bon etat",
        "noel\ntres bon etat",
    ]
