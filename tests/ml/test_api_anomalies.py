"""GET /api/v1/anomalies/: rates, pairs and a page of anomalies; staff and
integrators only."""

import pytest

from tests.factories import CategoryFactory
from tests.ml.anomaly_data import listing_with_prediction

pytestmark = pytest.mark.django_db

URL = "/api/v1/anomalies/"


@pytest.fixture
def overrides(seller):
    books = CategoryFactory(code="books", name="Books")
    games = CategoryFactory(code="games", name="Games")
    kept = listing_with_prediction(
        seller=seller, chosen=books, predicted=books, title="kept"
    )
    first = listing_with_prediction(
        seller=seller, chosen=games, predicted=books, title="first", probability=0.7
    )
    second = listing_with_prediction(
        seller=seller, chosen=games, predicted=books, title="second"
    )
    return kept, first, second


@pytest.mark.parametrize("role", ["staff_user", "integrator"])
def test_staff_and_integrators_get_rates_pairs_and_the_list(
    request, api_as, overrides, role, seller
):
    _, first, second = overrides
    response = api_as(request.getfixturevalue(role)).get(URL, {"days": 7})
    assert response.status_code == 200
    body = response.json()
    assert body["window_days"] == 7
    assert body["rates"] == [
        {
            "code": "games",
            "name": "Games",
            "listings": 2,
            "overrides": 2,
            "override_rate": 1.0,
        },
        {
            "code": "books",
            "name": "Books",
            "listings": 1,
            "overrides": 0,
            "override_rate": 0.0,
        },
    ]
    assert body["pairs"] == [
        {
            "predicted": {"code": "books", "name": "Books"},
            "chosen": {"code": "games", "name": "Games"},
            "count": 2,
            "examples": [
                {"product_id": second.pk, "title": "second"},
                {"product_id": first.pk, "title": "first"},
            ],
        }
    ]
    assert body["count"] == 2
    row = body["results"][1]
    assert row["product_id"] == first.pk
    assert row["title"] == "first"
    assert row["seller_id"] == seller.pk
    assert row["predicted"] == {"code": "books", "name": "Books"}
    assert row["chosen"] == {"code": "games", "name": "Games"}
    assert row["probability"] == 0.7


def test_the_list_is_paginated_and_filtered(api_as, staff_user, overrides):
    _, first, second = overrides
    body = api_as(staff_user).get(URL, {"page_size": 1}).json()
    assert body["count"] == 2
    assert [r["product_id"] for r in body["results"]] == [second.pk]
    assert body["next"] is not None
    body = api_as(staff_user).get(URL, {"category": "books"}).json()
    assert body["count"] == 0 and body["results"] == []


def test_sellers_and_anonymous_users_are_refused(api_as, seller, anonymous_client):
    assert api_as(seller).get(URL).status_code == 403
    assert anonymous_client.get(URL).status_code == 401


def test_a_bad_window_is_invalid(api_as, staff_user):
    response = api_as(staff_user).get(URL, {"days": 0})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid"
