"""Product search ignores case and accents, both ways ("video" finds "Jeu VIDÉO";
"vidéo" finds "Video projecteur"), identically on SQLite and MySQL/MariaDB: the
services store a normalised ``search_text``, the selector normalises the query."""

import pytest

from catalog.importers import ImportRow
from catalog.models import Product
from catalog.selectors import product_list_visible_to
from catalog.services.imports import products_import
from catalog.services.products import product_create, product_update
from catalog.text import product_search_text, search_normalise
from tests.factories import ProductFactory

# --- The normalisation ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "normalised"),
    [
        ("Jeu VIDÉO", "jeu video"),
        ("  Élève\tà   l'école ", "eleve a l'ecole"),
        ("Noël ÇA Straße", "noel ca strasse"),
        ("déjà-vu", "deja-vu"),
        ("", ""),
    ],
)
def test_search_normalise(text, normalised):
    assert search_normalise(text) == normalised


def test_product_search_text_is_title_then_description_one_a_line():
    assert product_search_text("Jeu VIDÉO", " Très  bon état ") == (
        "jeu video\ntres bon etat"
    )
    assert product_search_text("Jeu", "") == "jeu"


# --- The search ----------------------------------------------------------------------

TITLES_NEWEST_FIRST = [
    "Manette sans fil",  # "jeu vidéo" in its description
    "Livre de cuisine",
    "Video projecteur HD",
    "CONSOLE VIDÉO RÉTRO",
    "Jeu vidéo Mario",
]
ALL_VIDEO = [
    "Manette sans fil",
    "Video projecteur HD",
    "CONSOLE VIDÉO RÉTRO",
    "Jeu vidéo Mario",
]


@pytest.fixture
def products(seller):
    descriptions = {"Manette sans fil": "Pour votre jeu vidéo préféré."}
    for title in reversed(TITLES_NEWEST_FIRST):
        ProductFactory(
            seller=seller, title=title, description=descriptions.get(title, "")
        )


@pytest.mark.parametrize(
    ("query", "titles"),
    [
        ("video", ALL_VIDEO),
        ("vidéo", ALL_VIDEO),
        ("VIDÉO", ALL_VIDEO),
        ("Vidéo Projecteur", ["Video projecteur HD"]),
        ("retro", ["CONSOLE VIDÉO RÉTRO"]),
        ("jeu  VIDEO", ["Manette sans fil", "Jeu vidéo Mario"]),
        ("préféré", ["Manette sans fil"]),
        ("cuisiné", ["Livre de cuisine"]),
        ("100%", []),
        ("   ", TITLES_NEWEST_FIRST),
    ],
)
def test_the_selector_ignores_case_and_accents(seller, products, query, titles):
    found = product_list_visible_to(user=seller, search=query)
    assert [p.title for p in found] == titles


def test_the_products_page_searches_without_case_or_accents(
    client_logged_in_as, seller, products
):
    client = client_logged_in_as(seller)
    for query in ("video", "VIDÉO"):
        response = client.get("/products/", {"q": query})
        assert [p.title for p in response.context["page"].object_list] == ALL_VIDEO
    response = client.get("/products/", {"q": "rétro"})
    assert [p.title for p in response.context["page"].object_list] == [
        "CONSOLE VIDÉO RÉTRO"
    ]


def test_the_products_api_searches_without_case_or_accents(api_as, seller, products):
    client = api_as(seller)
    for query in ("video", "VIDÉO", "vidÉo"):
        response = client.get("/api/v1/products/", {"search": query})
        assert [p["title"] for p in response.json()["results"]] == ALL_VIDEO


def test_another_sellers_products_stay_out_of_the_search(
    seller, other_seller, products
):
    ProductFactory(seller=other_seller, title="Jeu vidéo Zelda")
    found = product_list_visible_to(user=seller, search="video")
    assert "Jeu vidéo Zelda" not in [p.title for p in found]


# --- Every writer keeps search_text ------------------------------------------------


@pytest.mark.django_db
def test_create_and_update_write_the_search_text(seller, photo):
    product = product_create(
        seller=seller, title=" Jeu VIDÉO ", description="Très bon état"
    )
    product.refresh_from_db()
    assert product.search_text == "jeu video\ntres bon etat"
    product_update(product=product, title="Console RÉTRO", description="", actor=seller)
    product.refresh_from_db()
    assert product.search_text == "console retro"


@pytest.mark.django_db
def test_the_import_writes_the_search_text_on_create_and_update():
    def row(title, description):
        return ImportRow(
            line=2,
            external_id="p1",
            title=title,
            description=description,
            category="",
            image_path=None,
        )

    products_import(rows=[row("Jeu VIDÉO", "Neuf")])
    assert Product.objects.get(external_id="p1").search_text == "jeu video\nneuf"
    products_import(rows=[row("Console RÉTRO", "Occasion")])
    assert Product.objects.get(external_id="p1").search_text == (
        "console retro\noccasion"
    )
