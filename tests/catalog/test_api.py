"""Products: list, read, change, delete, and their photos."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from catalog.models import Product
from tests.factories import CategoryFactory, ProductFactory
from tests.images import jpeg_bytes


def iso(dt) -> str:
    return dt.isoformat().replace("+00:00", "Z")


def product_json(product: Product) -> dict:
    category = product.category
    return {
        "id": product.pk,
        "title": product.title,
        "description": product.description,
        "category": (
            {"id": category.pk, "code": category.code, "name": category.name}
            if category
            else None
        ),
        "image": None,
        "seller": product.seller.username if product.seller else None,
        "source": product.source,
        "confirmed_at": iso(product.confirmed_at) if product.confirmed_at else None,
        "created_at": iso(product.created_at),
        "updated_at": iso(product.updated_at),
    }


@pytest.fixture
def books(db):
    return CategoryFactory(code="9301", name="Livres")


@pytest.fixture
def games(db):
    return CategoryFactory(code="9302", name="Jeux")


def test_seller_lists_only_their_own_products(api_as, seller, other_seller, books):
    # Given a product of the seller's and one of another seller's
    mine = ProductFactory(seller=seller, category=books, title="Roman")
    ProductFactory(seller=other_seller, category=books, title="Autre roman")
    # When the seller lists products
    response = api_as(seller).get("/api/v1/products/")
    # Then only their own comes back
    assert response.status_code == 200
    assert response.json() == {
        "count": 1,
        "next": None,
        "previous": None,
        "results": [product_json(mine)],
    }


@pytest.mark.parametrize("reader", ["staff_user", "integrator"])
def test_staff_and_integrators_list_every_product(
    request, api_as, reader, seller, other_seller, books
):
    first = ProductFactory(seller=seller, category=books)
    second = ProductFactory(seller=other_seller, category=books)
    response = api_as(request.getfixturevalue(reader)).get("/api/v1/products/")
    assert response.status_code == 200
    assert [p["id"] for p in response.json()["results"]] == [second.pk, first.pk]


def test_product_list_filters_by_search_and_category(api_as, seller, books, games):
    ProductFactory(seller=seller, category=books, title="Roman policier")
    wanted = ProductFactory(seller=seller, category=games, title="Manette sans fil")
    ProductFactory(seller=seller, category=games, title="Console portable")
    client = api_as(seller)
    by_search = client.get("/api/v1/products/", {"search": "manette"})
    by_both = client.get("/api/v1/products/", {"search": "o", "category": books.pk})
    assert [p["id"] for p in by_search.json()["results"]] == [wanted.pk]
    assert [p["title"] for p in by_both.json()["results"]] == ["Roman policier"]


def test_product_list_is_paginated(api_as, seller, books):
    for _ in range(3):
        ProductFactory(seller=seller, category=books)
    response = api_as(seller).get("/api/v1/products/", {"page_size": 2})
    body = response.json()
    assert (body["count"], len(body["results"]), body["previous"]) == (3, 2, None)
    assert body["next"] == "http://testserver/api/v1/products/?page=2&page_size=2"


def test_seller_creates_a_product_from_json(api_as, seller, books):
    # When a seller lists a product with its category
    response = api_as(seller).post(
        "/api/v1/products/",
        {"title": " Le Petit Prince ", "description": "Poche", "category": books.pk},
        format="json",
    )
    # Then it is theirs, confirmed in that category
    assert response.status_code == 201
    product = Product.objects.get()
    assert response.json() == product_json(product)
    assert (product.title, product.seller, product.category) == (
        "Le Petit Prince",
        seller,
        books,
    )
    assert (product.source, product.confirmed_at is not None) == ("listing", True)


def test_seller_creates_a_product_with_a_photo(api_as, seller, books, media_root):
    photo = SimpleUploadedFile("cover.jpg", jpeg_bytes(), content_type="image/jpeg")
    response = api_as(seller).post(
        "/api/v1/products/",
        {"title": "Roman", "category": books.pk, "image": photo},
        format="multipart",
    )
    assert response.status_code == 201
    product = Product.objects.get()
    assert response.json()["image"] == (
        f"http://testserver/api/v1/products/{product.pk}/photo/"
    )
    assert (media_root / product.image.name).read_bytes() == jpeg_bytes()


def test_seller_creates_a_product_with_a_base64_photo(api_as, seller, books):
    from tests.images import b64

    response = api_as(seller).post(
        "/api/v1/products/",
        {"title": "Roman", "category": books.pk, "image_base64": b64(jpeg_bytes())},
        format="json",
    )
    assert response.status_code == 201
    product = Product.objects.get()
    assert product.image.name.endswith(".jpg")
    assert product.image.read() == jpeg_bytes()


def test_integrator_creates_a_product_as_its_seller(api_as, integrator, books):
    response = api_as(integrator).post(
        "/api/v1/products/", {"title": "Roman", "category": books.pk}, format="json"
    )
    assert response.status_code == 201
    assert Product.objects.get().seller == integrator


def test_product_create_refuses_missing_fields(api_as, seller):
    response = api_as(seller).post("/api/v1/products/", {}, format="json")
    assert response.status_code == 400
    assert response.json()["error"]["fields"] == {
        "title": ["This field is required."],
        "category": ["This field is required."],
    }
    assert Product.objects.count() == 0


def test_product_create_refuses_a_retired_category(api_as, seller):
    retired = CategoryFactory(active=False)
    response = api_as(seller).post(
        "/api/v1/products/", {"title": "Roman", "category": retired.pk}, format="json"
    )
    assert response.status_code == 400
    assert response.json() == {
        "error": {
            "code": "invalid",
            "message": "This category is retired: choose an active one.",
            "fields": {"category": ["This category is retired."]},
        }
    }
    assert Product.objects.count() == 0


def test_product_create_refuses_an_unknown_category(api_as, seller):
    response = api_as(seller).post(
        "/api/v1/products/", {"title": "Roman", "category": 999999}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["error"]["fields"] == {
        "category": ['Invalid pk "999999" - object does not exist.']
    }


def test_seller_reads_their_product(api_as, seller, books):
    product = ProductFactory(seller=seller, category=books)
    response = api_as(seller).get(f"/api/v1/products/{product.pk}/")
    assert (response.status_code, response.json()) == (200, product_json(product))


def test_another_sellers_product_is_not_found(api_as, seller, other_seller, books):
    product = ProductFactory(seller=other_seller, category=books)
    response = api_as(seller).get(f"/api/v1/products/{product.pk}/")
    assert response.status_code == 404
    assert response.json() == {
        "error": {"code": "not_found", "message": "No such product.", "fields": {}}
    }


def test_seller_replaces_their_product(api_as, seller, books, games):
    # Given a seller's product
    product = ProductFactory(seller=seller, category=books, title="Old")
    # When they PUT new values
    response = api_as(seller).put(
        f"/api/v1/products/{product.pk}/",
        {"title": "New", "description": "Neuf", "category": games.pk},
        format="json",
    )
    # Then the product has them
    assert response.status_code == 200
    product.refresh_from_db()
    assert (product.title, product.description, product.category) == (
        "New",
        "Neuf",
        games,
    )
    assert response.json() == product_json(product)


def test_seller_patches_only_the_title(api_as, seller, books):
    product = ProductFactory(seller=seller, category=books, description="Garde")
    response = api_as(seller).patch(
        f"/api/v1/products/{product.pk}/", {"title": "Renamed"}, format="json"
    )
    assert response.status_code == 200
    product.refresh_from_db()
    assert (product.title, product.description, product.category) == (
        "Renamed",
        "Garde",
        books,
    )


def test_seller_replaces_the_photo_with_multipart_patch(api_as, seller, books):
    product = ProductFactory(seller=seller, category=books)
    photo = SimpleUploadedFile("new.jpg", jpeg_bytes(), content_type="image/jpeg")
    response = api_as(seller).patch(
        f"/api/v1/products/{product.pk}/", {"image": photo}, format="multipart"
    )
    assert response.status_code == 200
    product.refresh_from_db()
    assert product.image.read() == jpeg_bytes()


@pytest.mark.parametrize("reader", ["staff_user", "integrator"])
def test_staff_and_integrators_read_but_do_not_change_others_products(
    request, api_as, reader, seller, books
):
    # Given a seller's product
    product = ProductFactory(seller=seller, category=books, title="Original")
    client = api_as(request.getfixturevalue(reader))
    # When staff or an integrator reads, changes and deletes it
    read = client.get(f"/api/v1/products/{product.pk}/")
    changed = client.patch(
        f"/api/v1/products/{product.pk}/", {"title": "Hacked"}, format="json"
    )
    deleted = client.delete(f"/api/v1/products/{product.pk}/")
    # Then reading works, changing is "not found" (as on the pages), nothing changed
    assert read.status_code == 200
    assert (changed.status_code, deleted.status_code) == (404, 404)
    assert changed.json()["error"] == {
        "code": "not_found",
        "message": "No such product.",
        "fields": {},
    }
    product.refresh_from_db()
    assert product.title == "Original"


def test_seller_deletes_their_product_and_its_photo(
    api_as, seller, books, media_root, django_capture_on_commit_callbacks
):
    # Given a product with a photo
    photo = SimpleUploadedFile("cover.jpg", jpeg_bytes(), content_type="image/jpeg")
    client = api_as(seller)
    created = client.post(
        "/api/v1/products/",
        {"title": "Roman", "category": books.pk, "image": photo},
        format="multipart",
    ).json()
    image_name = Product.objects.get().image.name
    # When the seller deletes it
    with django_capture_on_commit_callbacks(execute=True):
        response = client.delete(f"/api/v1/products/{created['id']}/")
    # Then the product and its photo are gone
    assert response.status_code == 204
    assert Product.objects.count() == 0
    assert not (media_root / image_name).exists()


def test_another_seller_cannot_delete(api_as, seller, other_seller, books):
    product = ProductFactory(seller=other_seller, category=books)
    response = api_as(seller).delete(f"/api/v1/products/{product.pk}/")
    assert response.status_code == 404
    assert Product.objects.filter(pk=product.pk).exists()


def test_photo_is_served_to_whoever_reads_the_product(
    api_as, seller, other_seller, integrator, books
):
    # Given a seller's product with a photo
    photo = SimpleUploadedFile("cover.jpg", jpeg_bytes(), content_type="image/jpeg")
    created = (
        api_as(seller)
        .post(
            "/api/v1/products/",
            {"title": "Roman", "category": books.pk, "image": photo},
            format="multipart",
        )
        .json()
    )
    url = created["image"].removeprefix("http://testserver")
    # When the seller, an integrator and another seller fetch it
    own = api_as(seller).get(url, HTTP_ACCEPT="image/*")
    integrators = api_as(integrator).get(url)
    foreign = api_as(other_seller).get(url)
    # Then the readers get the bytes, the other seller a 404
    assert (own.status_code, own["Content-Type"]) == (200, "image/jpeg")
    assert b"".join(own.streaming_content) == jpeg_bytes()
    assert integrators.status_code == 200
    assert foreign.status_code == 404
    assert foreign.json()["error"]["message"] == "No such product."


def test_product_without_a_photo_has_none(api_as, seller, books):
    product = ProductFactory(seller=seller, category=books)
    response = api_as(seller).get(f"/api/v1/products/{product.pk}/photo/")
    assert response.status_code == 404
    assert response.json()["error"]["message"] == "This product has no photo."


# --- Categories ----------------------------------------------------------------------


SEEDED_CODES_BY_NUMBER = [
    "10", "40", "50", "60", "1140", "1160", "1180", "1280", "1281", "1300", "1301",
    "1302", "1320", "1560", "1920", "1940", "2060", "2220", "2280", "2403", "2462",
    "2522", "2582", "2583", "2585", "2705", "2905",
]  # fmt: skip


def test_categories_lists_the_whole_active_taxonomy_in_one_call_by_code(api_as, seller):
    CategoryFactory(code="B2", name="Jeux")
    CategoryFactory(code="A1", name="Livres")
    CategoryFactory(code="C3", name="Ancienne", active=False)
    CategoryFactory(code="9", name="Neuf")

    response = api_as(seller).get("/api/v1/categories/")

    # The 27 Rakuten types the migrations seed, and these, in one answer: codes that
    # are numbers by value, then the others by text
    assert response.status_code == 200
    body = response.json()
    assert (body["count"], body["next"], body["previous"]) == (30, None, None)
    codes = [c["code"] for c in body["results"]]
    assert codes == ["9", *SEEDED_CODES_BY_NUMBER, "A1", "B2"]
    first = next(c for c in response.json()["results"] if c["code"] == "A1")
    assert set(first) == {"id", "code", "name", "active"}
    assert (first["name"], first["active"]) == ("Livres", True)


def test_categories_include_retired_ones_on_request(api_as, seller):
    CategoryFactory(code="C3", name="Ancienne", active=False)

    response = api_as(seller).get("/api/v1/categories/?retired=true")

    retired = [c for c in response.json()["results"] if c["code"] == "C3"]
    assert retired == [
        {"id": retired[0]["id"], "code": "C3", "name": "Ancienne", "active": False}
    ]


def test_categories_need_a_token_and_a_valid_filter(anonymous_client, api_as, seller):
    assert anonymous_client.get("/api/v1/categories/").status_code == 401
    response = api_as(seller).get("/api/v1/categories/?retired=maybe")
    assert response.status_code == 400
    assert response.json()["error"]["fields"]["retired"]
