"""Tokens, the current user and users (staff)."""

from accounts.models import User
from tests.factories import DEFAULT_PASSWORD, UserFactory


def error(code: str, message: str, fields: dict | None = None) -> dict:
    return {"error": {"code": code, "message": message, "fields": fields or {}}}


def test_token_pair_from_username_and_password_opens_the_api(anonymous_client, seller):
    # Given a seller's username and password
    # When they ask for tokens
    response = anonymous_client.post(
        "/api/v1/token/",
        {"username": "seller", "password": DEFAULT_PASSWORD},
        format="json",
    )
    # Then they get an access and a refresh token, and the access token opens me/
    assert response.status_code == 200
    assert sorted(response.json()) == ["access", "refresh"]
    anonymous_client.credentials(
        HTTP_AUTHORIZATION=f"Bearer {response.json()['access']}"
    )
    me = anonymous_client.get("/api/v1/me/")
    assert me.status_code == 200
    assert me.json()["username"] == "seller"
    # and no session cookie is set: the API is token-only
    assert "sessionid" not in response.cookies
    seller.refresh_from_db()
    assert seller.last_login is not None


def test_token_with_a_wrong_password_is_refused(anonymous_client, seller):
    response = anonymous_client.post(
        "/api/v1/token/", {"username": "seller", "password": "wrong"}, format="json"
    )
    assert response.status_code == 401
    assert response.json() == error(
        "no_active_account", "No active account found with the given credentials"
    )
    assert response["WWW-Authenticate"] == 'Bearer realm="api"'


def test_token_without_a_password_is_a_field_error(anonymous_client, seller):
    response = anonymous_client.post(
        "/api/v1/token/", {"username": "seller"}, format="json"
    )
    assert response.status_code == 400
    assert response.json() == error(
        "invalid",
        "The request is not valid.",
        {"password": ["This field is required."]},
    )


def test_refresh_rotates_the_refresh_token(anonymous_client, seller):
    # Given a token pair
    pair = anonymous_client.post(
        "/api/v1/token/",
        {"username": "seller", "password": DEFAULT_PASSWORD},
        format="json",
    ).json()
    # When the refresh token is used
    response = anonymous_client.post(
        "/api/v1/token/refresh/", {"refresh": pair["refresh"]}, format="json"
    )
    # Then a new access token and a new refresh token come back
    assert response.status_code == 200
    assert sorted(response.json()) == ["access", "refresh"]
    assert response.json()["refresh"] != pair["refresh"]


def test_verify_accepts_a_valid_token_and_refuses_garbage(anonymous_client, seller):
    pair = anonymous_client.post(
        "/api/v1/token/",
        {"username": "seller", "password": DEFAULT_PASSWORD},
        format="json",
    ).json()
    valid = anonymous_client.post(
        "/api/v1/token/verify/", {"token": pair["access"]}, format="json"
    )
    invalid = anonymous_client.post(
        "/api/v1/token/verify/", {"token": "not.a.token"}, format="json"
    )
    assert (valid.status_code, valid.json()) == (200, {})
    assert invalid.status_code == 401
    assert invalid.json() == error("token_not_valid", "Token is invalid")


def test_blacklisted_refresh_token_cannot_be_used_again(anonymous_client, seller):
    # Given a refresh token that was blacklisted (log-out)
    pair = anonymous_client.post(
        "/api/v1/token/",
        {"username": "seller", "password": DEFAULT_PASSWORD},
        format="json",
    ).json()
    logout = anonymous_client.post(
        "/api/v1/token/blacklist/", {"refresh": pair["refresh"]}, format="json"
    )
    # When it is used to refresh
    response = anonymous_client.post(
        "/api/v1/token/refresh/", {"refresh": pair["refresh"]}, format="json"
    )
    # Then it is refused
    assert (logout.status_code, logout.json()) == (200, {})
    assert response.status_code == 401
    assert response.json() == error("token_not_valid", "Token is blacklisted")


def test_me_describes_the_token_owner(api_as, integrator):
    response = api_as(integrator).get("/api/v1/me/")
    assert response.status_code == 200
    assert response.json() == {
        "id": integrator.pk,
        "username": "integrator",
        "email": "integrator@example.com",
        "role": "integrator",
        "date_joined": integrator.date_joined.isoformat().replace("+00:00", "Z"),
    }


def test_me_without_a_token_is_401(anonymous_client):
    response = anonymous_client.get("/api/v1/me/")
    assert response.status_code == 401
    assert response.json() == error(
        "not_authenticated", "Authentication credentials were not provided."
    )
    assert response["WWW-Authenticate"] == 'Bearer realm="api"'


def test_staff_lists_users(api_as, staff_user, seller, integrator):
    response = api_as(staff_user).get("/api/v1/users/")
    assert response.status_code == 200
    body = response.json()
    assert (body["count"], body["next"], body["previous"]) == (3, None, None)
    assert [(u["username"], u["role"]) for u in body["results"]] == [
        ("integrator", "integrator"),
        ("seller", "seller"),
        ("staff", "staff"),
    ]


def test_seller_and_integrator_may_not_list_users(api_as, seller, integrator):
    for user in (seller, integrator):
        response = api_as(user).get("/api/v1/users/")
        assert response.status_code == 403
        assert response.json() == error("permission_denied", "Only staff may do this.")


def test_staff_creates_an_integrator(api_as, staff_user):
    # When staff create a user with a role
    response = api_as(staff_user).post(
        "/api/v1/users/",
        {
            "username": "shop-bot",
            "email": "bot@example.com",
            "password": "a-long-pass-phrase-42",
            "role": "integrator",
        },
        format="json",
    )
    # Then the user exists with that role, without admin access, and can log in
    assert response.status_code == 201
    user = User.objects.get(username="shop-bot")
    assert response.json() == {
        "id": user.pk,
        "username": "shop-bot",
        "email": "bot@example.com",
        "role": "integrator",
        "is_active": True,
        "date_joined": user.date_joined.isoformat().replace("+00:00", "Z"),
    }
    assert (user.role, user.is_staff) == ("integrator", False)
    assert user.check_password("a-long-pass-phrase-42")


def test_staff_created_staff_get_admin_access(api_as, staff_user):
    response = api_as(staff_user).post(
        "/api/v1/users/",
        {"username": "boss", "password": "a-long-pass-phrase-42", "role": "staff"},
        format="json",
    )
    assert response.status_code == 201
    assert User.objects.get(username="boss").is_staff is True


def test_user_create_refuses_a_taken_username_and_a_weak_password(api_as, staff_user):
    # Given an existing user
    UserFactory(username="taken")
    client = api_as(staff_user)
    # When staff create the same username, then a user with a weak password
    taken = client.post(
        "/api/v1/users/",
        {"username": "TAKEN", "password": "a-long-pass-phrase-42", "role": "seller"},
        format="json",
    )
    weak = client.post(
        "/api/v1/users/",
        {"username": "newbie", "password": "123", "role": "seller"},
        format="json",
    )
    # Then both are field errors and no user was created
    assert taken.status_code == 400
    assert taken.json()["error"]["fields"] == {
        "username": ["A user with that username already exists."]
    }
    assert weak.status_code == 400
    assert weak.json()["error"]["fields"] == {
        "password": [
            "This password is too short. It must contain at least 8 characters.",
            "This password is too common.",
            "This password is entirely numeric.",
        ]
    }
    assert sorted(User.objects.values_list("username", flat=True)) == [
        "staff",
        "taken",
    ]


def test_user_create_refuses_an_unknown_role(api_as, staff_user):
    response = api_as(staff_user).post(
        "/api/v1/users/",
        {"username": "x", "password": "a-long-pass-phrase-42", "role": "admin"},
        format="json",
    )
    assert response.status_code == 400
    assert response.json()["error"]["fields"] == {
        "role": ['"admin" is not a valid choice.']
    }
    assert not User.objects.filter(username="x").exists()


def test_seller_may_not_create_users(api_as, seller):
    response = api_as(seller).post(
        "/api/v1/users/",
        {"username": "x", "password": "a-long-pass-phrase-42", "role": "staff"},
        format="json",
    )
    assert response.status_code == 403
    assert not User.objects.filter(username="x").exists()
