"""My products: list, detail, photo, edit and delete; a seller reaches only their own
products."""

import pytest

from catalog.models import Product
from ml.models import Prediction
from tests.factories import CategoryFactory, ModelVersionFactory, ProductFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "url", ["/products/", "/products/1/", "/products/1/edit/", "/products/1/delete/"]
)
def test_anonymous_visitor_is_sent_to_log_in(client, url):
    # When an anonymous visitor opens a product page
    response = client.get(url)
    # Then they are sent to log in
    assert response.status_code == 302
    assert response["Location"] == f"/accounts/login/?next={url}"


def test_list_shows_own_products_twenty_a_page(
    client_logged_in_as, seller, other_seller
):
    # Given 21 products of the seller and one of another seller
    for i in range(21):
        ProductFactory(seller=seller, title=f"Mine {i:02d}")
    ProductFactory(seller=other_seller, title="Not mine")
    client = client_logged_in_as(seller)
    # When the seller opens the first and the second page
    first = client.get("/products/")
    second = client.get("/products/?page=2")
    # Then the newest 20 are on the first page, the oldest on the second
    assert [p.title for p in first.context["page"].object_list] == [
        f"Mine {i:02d}" for i in range(20, 0, -1)
    ]
    assert [p.title for p in second.context["page"].object_list] == ["Mine 00"]
    assert b"Not mine" not in first.content + second.content
    assert b"Page 1 of 2" in first.content


def test_list_searches_and_filters_by_category(client_logged_in_as, seller):
    books, games = CategoryFactory(name="Livres"), CategoryFactory(name="Jeux")
    ProductFactory(seller=seller, title="Roman policier", category=books)
    ProductFactory(seller=seller, title="Roman graphique", category=games)
    ProductFactory(seller=seller, title="Manette", category=games)
    client = client_logged_in_as(seller)
    # When the seller searches "roman" in the games
    response = client.get("/products/", {"q": "roman", "category": games.pk})
    # Then one product matches, and the page links keep the filters
    assert [p.title for p in response.context["page"].object_list] == [
        "Roman graphique"
    ]
    assert response.context["query"] == f"q=roman&category={games.pk}"


def test_detail_shows_the_product_and_its_prediction(client_logged_in_as, seller):
    category = CategoryFactory(name="Livres", code="L1")
    product = ProductFactory(seller=seller, title="Roman policier", category=category)
    Prediction.objects.create(
        product=product,
        model_version=ModelVersionFactory(name="v7", is_demo=True),
        predicted_category=category,
        top_k=[{"code": "L1", "name": "Livres", "probability": 0.87}],
        used="text",
        latency_ms=42.4,
    )
    # When the seller opens the product
    html = client_logged_in_as(seller).get(f"/products/{product.pk}/").content.decode()
    # Then the page shows it, with what the model suggested
    assert '<h1 class="h3">Roman policier</h1>' in html
    assert "87%" in html
    assert (
        'v7 <span class="badge bg-warning text-dark demo-badge">demo model</span>'
        in (html)
    )
    assert "42 ms" in html


@pytest.mark.parametrize("suffix", ["", "edit/", "delete/", "photo/"])
def test_another_sellers_product_is_not_found(
    client_logged_in_as, seller, other_seller, suffix
):
    # Given another seller's product
    product = ProductFactory(seller=other_seller)
    # When a seller opens it
    response = client_logged_in_as(seller).get(f"/products/{product.pk}/{suffix}")
    # Then it is not found
    assert response.status_code == 404


def test_edit_updates_the_product(client_logged_in_as, seller, photo):
    old, new = CategoryFactory(), CategoryFactory()
    product = ProductFactory(seller=seller, title="Old", category=old)
    # When the seller changes the title, the category and the photo
    response = client_logged_in_as(seller).post(
        f"/products/{product.pk}/edit/",
        {"title": "New title", "description": "", "category": new.pk, "photo": photo},
    )
    # Then the product is updated
    product.refresh_from_db()
    assert response.status_code == 302
    assert (product.title, product.category, product.description) == (
        "New title",
        new,
        "",
    )
    assert product.image_sha256 != ""


def test_edit_with_a_bad_photo_changes_nothing(client_logged_in_as, seller, bad_photo):
    category = CategoryFactory()
    product = ProductFactory(seller=seller, title="Old", category=category)
    # When the seller saves with a file that is not an image
    response = client_logged_in_as(seller).post(
        f"/products/{product.pk}/edit/",
        {"title": "New", "category": category.pk, "photo": bad_photo},
    )
    # Then the form shows the error, and the product is unchanged
    assert response.status_code == 200
    assert b"The file is not a valid or complete image." in response.content
    product.refresh_from_db()
    assert (product.title, product.image.name) == ("Old", "")


def test_editing_another_sellers_product_changes_nothing(
    client_logged_in_as, seller, other_seller
):
    category = CategoryFactory()
    product = ProductFactory(seller=other_seller, title="Theirs", category=category)
    # When a seller posts an edit of it
    response = client_logged_in_as(seller).post(
        f"/products/{product.pk}/edit/", {"title": "Mine", "category": category.pk}
    )
    # Then it is not found, and unchanged
    assert response.status_code == 404
    product.refresh_from_db()
    assert product.title == "Theirs"


def test_delete_asks_then_deletes(client_logged_in_as, seller):
    product = ProductFactory(seller=seller, title="To delete")
    client = client_logged_in_as(seller)
    # When the seller opens the delete page
    confirmation = client.get(f"/products/{product.pk}/delete/")
    # Then it asks, and the product still exists
    assert b"Delete this product?" in confirmation.content
    assert Product.objects.filter(pk=product.pk).exists()
    # When the seller confirms
    response = client.post(f"/products/{product.pk}/delete/")
    # Then the product is gone
    assert response.status_code == 302
    assert response["Location"] == "/products/"
    assert not Product.objects.filter(pk=product.pk).exists()


def test_deleting_another_sellers_product_is_refused(
    client_logged_in_as, seller, other_seller
):
    product = ProductFactory(seller=other_seller)
    # When a seller posts a delete of it
    response = client_logged_in_as(seller).post(f"/products/{product.pk}/delete/")
    # Then it is not found, and still exists
    assert response.status_code == 404
    assert Product.objects.filter(pk=product.pk).exists()


def test_photo_is_served_to_its_seller(client_logged_in_as, seller, photo):
    category = CategoryFactory()
    client = client_logged_in_as(seller)
    product = ProductFactory(seller=seller, category=category)
    client.post(
        f"/products/{product.pk}/edit/",
        {"title": "With photo", "category": category.pk, "photo": photo},
    )
    # When the seller opens the photo
    response = client.get(f"/products/{product.pk}/photo/")
    # Then its bytes come back
    photo.seek(0)
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == photo.read()
