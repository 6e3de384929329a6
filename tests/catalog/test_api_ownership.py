"""One ownership rule (``catalog.selectors.product_get_owned_by``) for the pages and
the API: changing a product that is not yours is "not found", exactly like a product
that does not exist, whoever asks."""

import pytest
from django.urls import reverse

from tests.factories import CategoryFactory, ProductFactory
from tests.images import b64, jpeg_bytes

pytestmark = pytest.mark.django_db

MISSING_PK = 987654
NOT_FOUND = {
    "error": {"code": "not_found", "message": "No such product.", "fields": {}}
}


def _changes(client, pk: int) -> dict:
    url = f"/api/v1/products/{pk}/"
    return {
        "put": client.put(url, {"title": "Hacked", "category": 1}, format="json"),
        "patch": client.patch(url, {"title": "Hacked"}, format="json"),
        "photo": client.patch(url, {"image_base64": b64(jpeg_bytes())}, format="json"),
        "delete": client.delete(url),
    }


@pytest.mark.parametrize("actor", ["other_seller", "staff_user", "integrator"])
def test_changing_someone_elses_product_is_not_found_like_a_missing_one(
    request, api_as, client_logged_in_as, seller, actor
):
    # Given a seller's product
    product = ProductFactory(seller=seller, category=CategoryFactory(), title="Mine")
    user = request.getfixturevalue(actor)
    client = api_as(user)
    # When anyone else changes it, or sends it a photo, or deletes it
    foreign = _changes(client, product.pk)
    missing = _changes(client, MISSING_PK)
    # Then the API answers 404, as for a product that does not exist
    for method, response in foreign.items():
        assert response.status_code == 404, method
        assert response.json() == NOT_FOUND == missing[method].json(), method
    # And the page answers the same 404 through the same selector
    page = client_logged_in_as(user).get(
        reverse("catalog:product_edit", args=[product.pk])
    )
    assert page.status_code == 404
    # And nothing changed
    product.refresh_from_db()
    assert (product.title, product.image.name) == ("Mine", "")


def test_the_seller_still_changes_their_product(api_as, seller):
    product = ProductFactory(seller=seller, category=CategoryFactory(), title="Mine")
    response = api_as(seller).patch(
        f"/api/v1/products/{product.pk}/", {"title": "Still mine"}, format="json"
    )
    assert response.status_code == 200
    product.refresh_from_db()
    assert product.title == "Still mine"
