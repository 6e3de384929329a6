"""The error pages a person sees (403, 404, the log-in lock-out's 429, 500): styled,
with the navigation and a plain message; and a refused request logs no traceback."""

import logging
from datetime import timedelta

import pytest
from django.test import Client

from rakuten.views import duration_text
from tests.factories import DEFAULT_PASSWORD

pytestmark = pytest.mark.django_db

NAV = '<nav class="navbar'


def _html(response) -> str:
    return response.content.decode()


def test_403_is_styled_with_the_navigation(client_logged_in_as, seller):
    # When a seller opens a staff page
    response = client_logged_in_as(seller).get("/staff/categories/")
    # Then the styled page says it is forbidden, with the seller's navigation
    html = _html(response)
    assert response.status_code == 403
    assert NAV in html and ">My products</a>" in html
    assert '<h1 class="h3 mb-3">Access denied</h1>' in html
    assert "You do not have permission to see this page." in html
    assert 'href="/static/css/app.css"' in html


def test_404_is_styled_with_the_navigation(client_logged_in_as, seller):
    response = client_logged_in_as(seller).get("/no-such-page/")
    html = _html(response)
    assert response.status_code == 404
    assert NAV in html and ">My products</a>" in html
    assert "Page not found" in html
    assert "The page you asked for does not exist, or is not yours to see." in html


def test_404_of_another_sellers_product_is_the_same_page(
    client_logged_in_as, seller, other_seller
):
    from tests.factories import ProductFactory

    product = ProductFactory(seller=other_seller)
    response = client_logged_in_as(seller).get(f"/products/{product.pk}/")
    assert response.status_code == 404
    assert "The page you asked for does not exist" in _html(response)


def _lock_out(client: Client, username: str):
    for _ in range(5):
        client.post(
            "/accounts/login/", {"username": username, "password": "wrong-password"}
        )
    return client.post(
        "/accounts/login/", {"username": username, "password": DEFAULT_PASSWORD}
    )


def test_lock_out_page_says_when_to_try_again(seller):
    # Given a seller who got the password wrong five times
    # When the right password comes
    response = _lock_out(Client(), "seller")
    # Then the styled 429 page says to come back after the cool-off time (15 minutes)
    html = _html(response)
    assert response.status_code == 429
    assert response["Retry-After"] == "900"
    assert NAV in html and ">Log in</a>" in html
    assert "Too many failed log-in attempts" in html
    assert (
        "For your security, logging in as “seller” from this address is blocked "
        "after 5 wrong passwords: try again in 15 minutes." in html
    )


def test_lock_out_page_follows_the_cool_off_setting(settings, seller):
    settings.AXES_COOLOFF_TIME = timedelta(hours=1)
    response = _lock_out(Client(), "seller")
    assert response.status_code == 429
    assert response["Retry-After"] == "3600"
    assert "try again in 1 hour." in _html(response)


def test_admin_log_in_lock_out_is_the_same_page(staff_user):
    client = Client()
    for _ in range(5):
        client.post("/admin/login/", {"username": "staff", "password": "nope"})
    response = client.post(
        "/admin/login/", {"username": "staff", "password": DEFAULT_PASSWORD}
    )
    assert response.status_code == 429
    assert "try again in 15 minutes." in _html(response)


@pytest.mark.parametrize(
    ("duration", "text"),
    [
        (timedelta(seconds=20), "1 minute"),
        (timedelta(minutes=15), "15 minutes"),
        (timedelta(minutes=14, seconds=1), "15 minutes"),
        (timedelta(hours=2), "2 hours"),
        (timedelta(minutes=90), "1 hour 30 minutes"),
    ],
)
def test_duration_text(duration, text):
    assert duration_text(duration) == text


@pytest.mark.urls("tests.error_urls")
def test_500_is_styled_and_queries_nothing(
    client_logged_in_as, seller, django_assert_num_queries
):
    # Given a view that fails, for a logged-in seller
    client = client_logged_in_as(seller)
    client.raise_request_exception = False
    # When it is asked (the 500 page renders without a request context: no query)
    with django_assert_num_queries(0):
        response = client.get("/boom/")
    # Then the styled page apologises, with the (anonymous) navigation
    html = _html(response)
    assert response.status_code == 500
    assert NAV in html and ">Log in</a>" in html
    assert "Something went wrong" in html
    assert (
        "An unexpected error happened on our side and has been logged. "
        "Please try again in a moment." in html
    )


def test_403_logs_one_line_without_traceback(client_logged_in_as, seller, caplog):
    with caplog.at_level(logging.WARNING, logger="django.request"):
        response = client_logged_in_as(seller).get("/staff/categories/")
    assert response.status_code == 403
    records = [r for r in caplog.records if r.name == "django.request"]
    assert [(r.levelname, r.getMessage()) for r in records] == [
        ("WARNING", "Forbidden (Permission denied): /staff/categories/")
    ]
    assert records[0].exc_info is None
    assert "Traceback" not in caplog.text


@pytest.mark.urls("tests.error_urls")
def test_500_still_logs_its_traceback(client, caplog):
    client.raise_request_exception = False
    with caplog.at_level(logging.ERROR, logger="django.request"):
        assert client.get("/boom/").status_code == 500
    records = [r for r in caplog.records if r.name == "django.request"]
    assert len(records) == 1 and records[0].exc_info is not None
    assert "RuntimeError: an unexpected failure" in caplog.text


def test_favicon_is_served(client):
    response = client.get("/favicon.ico")
    assert response.status_code == 200
    assert response["Content-Type"] == "image/x-icon"
    body = b"".join(response.streaming_content)
    assert body[:4] == b"\x00\x00\x01\x00"  # an ICO file


def test_pages_link_the_favicon(client):
    html = _html(client.get("/"))
    assert '<link rel="icon" href="/static/favicon.ico"' in html
