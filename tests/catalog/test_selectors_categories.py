"""The one category order (``category_order_by_code``): codes that are numbers by
value, then the other codes by text; on the forms' lists and the staff page too."""

import pytest

from catalog.forms import ListingForm, ProductFilterForm, ProductForm
from catalog.models import Category
from catalog.selectors import category_list, category_order_by_code
from tests.factories import CategoryFactory

pytestmark = pytest.mark.django_db

SEEDED_CODES_BY_NUMBER = [
    "10", "40", "50", "60", "1140", "1160", "1180", "1280", "1281", "1300", "1301",
    "1302", "1320", "1560", "1920", "1940", "2060", "2220", "2280", "2403", "2462",
    "2522", "2582", "2583", "2585", "2705", "2905",
]  # fmt: skip


def test_the_seeded_taxonomy_is_listed_by_code_as_numbers():
    assert list(category_list().values_list("code", flat=True)) == (
        SEEDED_CODES_BY_NUMBER
    )


def test_codes_that_are_not_numbers_come_after_by_text():
    Category.objects.all().delete()
    for code in ("b7", "100", "A2", "9", "20", "9x", "12345678901234567890123"):
        CategoryFactory(code=code)

    codes = list(category_list().values_list("code", flat=True))

    assert codes == ["9", "20", "100", "12345678901234567890123", "9x", "A2", "b7"]


def test_retired_categories_only_when_asked_and_in_the_same_order():
    CategoryFactory(code="45", active=False)
    assert "45" not in category_list().values_list("code", flat=True)
    codes = list(category_list(active_only=False).values_list("code", flat=True))
    assert codes[:5] == ["10", "40", "45", "50", "60"]


def test_leading_orderings_come_first():
    CategoryFactory(code="5", active=False)
    codes = list(
        category_order_by_code(Category.objects.all(), "-active").values_list(
            "code", flat=True
        )
    )
    assert codes == [*SEEDED_CODES_BY_NUMBER, "5"]


@pytest.mark.parametrize(
    ("form_class", "field"),
    [
        (ProductForm, "category"),
        (ProductFilterForm, "category"),
        (ListingForm, "category"),
        (ListingForm, "other_category"),
    ],
)
def test_the_forms_list_categories_by_code_as_numbers(form_class, field):
    queryset = form_class().fields[field].queryset
    assert list(queryset.values_list("code", flat=True)) == SEEDED_CODES_BY_NUMBER
