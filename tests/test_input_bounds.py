"""A number that no row can have (above a signed 64-bit integer) is an invalid value
(400, or the form's error), never a 500: on SQLite it would not even reach the query
(``OverflowError``)."""

import pytest

from rakuten.ids import MAX_ID
from tests.factories import CategoryFactory

pytestmark = pytest.mark.django_db

HUGE = "99999999999999999999"


@pytest.fixture
def api(api_as, seller):
    client = api_as(seller)
    client.raise_request_exception = False
    return client


@pytest.mark.parametrize("value", [HUGE, str(MAX_ID + 1), "0", "-3"])
def test_an_out_of_range_category_filter_is_a_400(api, value):
    response = api.get("/api/v1/products/", {"category": value})
    assert response.status_code == 400
    assert list(response.json()["error"]["fields"]) == ["category"]


def test_the_largest_id_is_a_valid_filter(api):
    response = api.get("/api/v1/products/", {"category": str(MAX_ID)})
    assert (response.status_code, response.json()["count"]) == (200, 0)


def test_an_out_of_range_prediction_is_a_400(api):
    category = CategoryFactory()
    response = api.post(
        "/api/v1/products/",
        {"title": "Roman", "category": category.pk, "prediction": HUGE},
        format="json",
    )
    assert response.status_code == 400
    assert list(response.json()["error"]["fields"]) == ["prediction"]


def test_the_pages_refuse_out_of_range_ids(client_logged_in_as, staff_user):
    client = client_logged_in_as(staff_user)
    client.raise_request_exception = False
    pages = [
        f"/staff/models/?compare={HUGE}",
        f"/staff/models/?compare=1&compare={HUGE}",
        f"/products/?category={HUGE}",
        f"/products/new/?propose={HUGE}",
    ]
    assert {page: client.get(page).status_code for page in pages} == dict.fromkeys(
        pages, 200
    )
    posted = client.post(
        "/products/suggestions/", {"title": "Roman policier", "proposal": HUGE}
    )
    assert posted.status_code < 500
