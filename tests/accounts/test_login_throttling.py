"""django-axes: after 5 failed log-ins for a username, or from one address, the web
log-in, the admin log-in and the API's token/ refuse even the right password."""

import pytest
from django.test import Client
from rest_framework.test import APIClient

from tests.factories import DEFAULT_PASSWORD

FAILURE_LIMIT = 5


def web_login(client: Client, url: str, username: str, password: str):
    return client.post(url, {"username": username, "password": password})


@pytest.mark.parametrize(
    ("url", "user_fixture"),
    [("/accounts/login/", "seller"), ("/admin/login/", "staff_user")],
)
def test_html_log_in_refuses_the_right_password_after_5_failures(
    request, url, user_fixture
):
    # Given a user who got the password wrong five times
    user = request.getfixturevalue(user_fixture)
    client = Client()
    for _ in range(FAILURE_LIMIT):
        web_login(client, url, user.username, "wrong-password")
    # When the right password comes
    response = web_login(client, url, user.username, DEFAULT_PASSWORD)
    # Then the log-in is refused and no session is opened
    assert response.status_code == 429
    assert "_auth_user_id" not in client.session


def test_token_refuses_the_right_password_after_5_failures(seller):
    # Given five failed token requests
    client = APIClient()
    statuses = [
        client.post(
            "/api/v1/token/",
            {"username": "seller", "password": "wrong-password"},
            format="json",
        ).status_code
        for _ in range(FAILURE_LIMIT)
    ]
    # When the right password comes
    response = client.post(
        "/api/v1/token/",
        {"username": "seller", "password": DEFAULT_PASSWORD},
        format="json",
    )
    # Then the fifth failure locked the account out and the right password is refused
    assert statuses == [401, 401, 401, 401, 429]
    assert response.status_code == 429
    assert response.json() == {
        "error": {
            "code": "locked_out",
            "message": "Too many failed log-in attempts: try again later.",
            "fields": {},
        }
    }


def test_lock_out_is_per_username_and_per_address(seller, other_seller):
    # Given a seller locked out of token/ by five failures from 10.0.0.1
    attacker = APIClient(REMOTE_ADDR="10.0.0.1")
    for _ in range(FAILURE_LIMIT):
        attacker.post(
            "/api/v1/token/",
            {"username": "seller", "password": "wrong-password"},
            format="json",
        )

    def token(client, username):
        return client.post(
            "/api/v1/token/",
            {"username": username, "password": DEFAULT_PASSWORD},
            format="json",
        ).status_code

    # Then that address is locked out for every username, the username from every
    # address; another user from another address logs in
    assert token(attacker, "other-seller") == 429
    assert token(APIClient(REMOTE_ADDR="10.0.0.2"), "seller") == 429
    assert token(APIClient(REMOTE_ADDR="10.0.0.2"), "other-seller") == 200


def test_a_successful_log_in_clears_the_failures(seller):
    # Given four failures and then a success
    client = APIClient()

    def token(password):
        return client.post(
            "/api/v1/token/",
            {"username": "seller", "password": password},
            format="json",
        ).status_code

    for _ in range(FAILURE_LIMIT - 1):
        token("wrong-password")
    assert token(DEFAULT_PASSWORD) == 200
    # When the password is wrong once more, then right
    # Then the count started again: no lock-out
    assert token("wrong-password") == 401
    assert token(DEFAULT_PASSWORD) == 200
