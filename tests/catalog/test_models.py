import pytest
from django.db import IntegrityError, transaction

from catalog.models import Category, Product
from tests.factories import CategoryFactory, ProductFactory

SEEDED_CODES = {
    "10", "40", "50", "60", "1140", "1160", "1180", "1280", "1281", "1300", "1301",
    "1302", "1320", "1560", "1920", "1940", "2060", "2220", "2280", "2403", "2462",
    "2522", "2582", "2583", "2585", "2705", "2905",
}  # fmt: skip


@pytest.mark.django_db
def test_migrations_seed_the_27_rakuten_product_types():
    # Given a freshly migrated database
    # Then the 27 Rakuten France product types exist, active
    assert Category.objects.count() == 27
    assert set(Category.objects.values_list("code", flat=True)) == SEEDED_CODES
    assert Category.objects.filter(active=False).count() == 0
    pool = Category.objects.get(code="2583")
    assert pool.name == "Piscine et accessoires"
    assert Category.objects.get(code="10").name == "Livres occasion"
    assert Category.objects.get(code="2905").name == "Jeux PC"


@pytest.mark.django_db
def test_category_str_shows_name_and_code():
    category = Category.objects.get(code="2583")
    assert str(category) == "Piscine et accessoires (2583)"


@pytest.mark.django_db
def test_category_code_is_unique():
    # Given a seeded code
    # When another category uses it
    with pytest.raises(IntegrityError), transaction.atomic():
        Category.objects.create(code="2583", name="Doublon")
    # Then nothing changed
    assert Category.objects.filter(code="2583").count() == 1
    assert Category.objects.get(code="2583").name == "Piscine et accessoires"


@pytest.mark.django_db
def test_categories_are_ordered_by_name():
    # (the exact order of "Jeux PC" / "Jeux consoles" follows the DB's collation)
    names = list(Category.objects.values_list("name", flat=True))
    assert (names[0], names[1], names[-1]) == (
        "Accessoires gaming",
        "Animalerie",
        "Puériculture",
    )


@pytest.mark.django_db
def test_product_str_is_its_title_and_defaults():
    # When a seller lists a product
    product = ProductFactory(title="Piscine tubulaire 3m")
    # Then it reads as its title, is a listing without external id or photo
    product.refresh_from_db()
    assert str(product) == "Piscine tubulaire 3m"
    assert product.source == "listing"
    assert product.external_id is None
    assert product.image_sha256 == ""
    assert bool(product.image) is False
    assert product.confirmed_at is None


@pytest.mark.django_db
def test_products_without_external_id_do_not_collide():
    # Given two listings without external id (NULL)
    ProductFactory(external_id=None)
    ProductFactory(external_id=None)
    # Then both are stored
    assert Product.objects.filter(external_id__isnull=True).count() == 2


@pytest.mark.django_db
def test_external_id_is_unique():
    # Given an imported product
    ProductFactory(external_id="rakuten:42")
    # When another product claims the same external id
    with pytest.raises(IntegrityError), transaction.atomic():
        ProductFactory(external_id="rakuten:42")
    # Then only the first exists
    assert Product.objects.filter(external_id="rakuten:42").count() == 1


@pytest.mark.django_db
def test_a_category_with_products_cannot_be_deleted():
    from django.db.models import ProtectedError

    category = CategoryFactory(code="90001", name="Protégée")
    ProductFactory(category=category)
    with pytest.raises(ProtectedError):
        category.delete()
    assert Category.objects.filter(code="90001").exists()


@pytest.mark.django_db
def test_products_are_newest_first():
    first = ProductFactory()
    second = ProductFactory()
    assert list(Product.objects.all()) == [second, first]
