"""API tokens' lifetimes: a password change (any path) or a log-out (web or API)
revokes every token of the user, access and refresh; rotating a refresh token never
extends its life; a deleted user's refresh token is a 401, not a 500."""

from datetime import timedelta

import jwt
import pytest
from django.conf import settings
from django.contrib.auth.models import update_last_login
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient
from rest_framework_simplejwt.token_blacklist.models import (
    BlacklistedToken,
    OutstandingToken,
)
from rest_framework_simplejwt.tokens import RefreshToken

from accounts.models import User
from tests.factories import DEFAULT_PASSWORD, UserFactory

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "Brand-new-pass-2026!"
REVOKED = "Token was revoked (password change or log-out)."


def claims_of(token: str) -> dict:
    return jwt.decode(token, settings.SECRET_KEY, algorithms=["HS256"])


def obtain(username: str, password: str = DEFAULT_PASSWORD) -> dict:
    response = APIClient().post(
        "/api/v1/token/", {"username": username, "password": password}, format="json"
    )
    assert response.status_code == 200, response.content
    return response.json()


def refresh_with(refresh: str):
    return APIClient().post(
        "/api/v1/token/refresh/", {"refresh": refresh}, format="json"
    )


def me_with(access: str):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {access}")
    return client.get("/api/v1/me/")


def error_of(response) -> tuple[int, str, str]:
    error = response.json()["error"]
    return response.status_code, error["code"], error["message"]


# --- A deleted user -------------------------------------------------------------------


def test_a_deleted_user_s_refresh_token_is_a_401(seller):
    # Given a refresh token of a user who is then deleted
    refresh = obtain("seller")["refresh"]
    seller.delete()
    # When it is used
    response = refresh_with(refresh)
    # Then it is refused with a clear message, not a 500
    assert error_of(response) == (
        401,
        "no_active_account",
        "No active account found for the given token.",
    )


def test_a_deactivated_user_s_refresh_token_is_a_401(seller):
    refresh = obtain("seller")["refresh"]
    User.objects.filter(pk=seller.pk).update(is_active=False)
    assert error_of(refresh_with(refresh))[:2] == (401, "no_active_account")


# --- Password change ------------------------------------------------------------------


def assert_all_revoked(pair: dict):
    assert error_of(me_with(pair["access"])) == (401, "token_not_valid", REVOKED)
    refused = refresh_with(pair["refresh"])
    assert refused.status_code == 401
    assert refused.json()["error"]["code"] == "token_not_valid"
    verify = APIClient().post(
        "/api/v1/token/verify/", {"token": pair["access"]}, format="json"
    )
    assert verify.status_code == 401


def test_a_password_change_on_the_web_page_revokes_every_token(
    client_logged_in_as, seller, other_seller
):
    # Given two token pairs of the seller (two devices) and one of another seller
    pairs = [obtain("seller"), obtain("seller")]
    other = obtain("other-seller")
    # When the seller changes their password on the password change page
    response = client_logged_in_as(seller).post(
        reverse("accounts:password_change"),
        {
            "old_password": DEFAULT_PASSWORD,
            "new_password1": NEW_PASSWORD,
            "new_password2": NEW_PASSWORD,
        },
    )
    assert response.status_code == 302
    # Then both pairs are refused: access and refresh
    for pair in pairs:
        assert_all_revoked(pair)
    # and the seller's refresh tokens are all blacklisted, the other seller's not
    assert OutstandingToken.objects.filter(user=seller).count() == 2
    assert BlacklistedToken.objects.filter(token__user=seller).count() == 2
    assert me_with(other["access"]).status_code == 200
    assert refresh_with(other["refresh"]).status_code == 200
    # A token obtained with the new password works at once
    fresh = obtain("seller", NEW_PASSWORD)
    assert me_with(fresh["access"]).status_code == 200
    assert refresh_with(fresh["refresh"]).status_code == 200


def test_a_password_set_in_the_admin_revokes_the_user_s_tokens(
    client_logged_in_as, seller
):
    pair = obtain("seller")
    root = UserFactory(username="root", is_superuser=True, is_staff=True)
    response = client_logged_in_as(root).post(
        reverse("admin:auth_user_password_change", args=[seller.pk]),
        {
            "password1": NEW_PASSWORD,
            "password2": NEW_PASSWORD,
            "usable_password": "true",
        },
    )
    assert response.status_code == 302
    assert_all_revoked(pair)


def test_any_saved_password_change_revokes_the_tokens(seller):
    # (manage.py changepassword and any code path: set_password() then save())
    pair = obtain("seller")
    seller.set_password(NEW_PASSWORD)
    seller.save()
    assert_all_revoked(pair)
    assert User.objects.get(pk=seller.pk).token_version == 1


def test_saves_that_do_not_change_the_password_revoke_nothing(seller):
    pair = obtain("seller")
    seller.first_name = "Ann"
    seller.save()
    update_last_login(None, seller)
    # (Django re-hashing the same password at log-in saves the password alone)
    seller.save(update_fields=["password"])
    assert User.objects.get(pk=seller.pk).token_version == 0
    assert me_with(pair["access"]).status_code == 200
    assert refresh_with(pair["refresh"]).status_code == 200


# --- Log-out --------------------------------------------------------------------------


def test_the_web_log_out_revokes_the_user_s_tokens(client_logged_in_as, seller):
    pair = obtain("seller")
    response = client_logged_in_as(seller).post(reverse("accounts:logout"))
    assert response.status_code == 302
    assert_all_revoked(pair)


def test_the_api_log_out_revokes_every_token_of_the_user(seller, other_seller):
    # Given two devices of the seller, and another seller
    first, second = obtain("seller"), obtain("seller")
    other = obtain("other-seller")
    # When the first device logs out (blacklists its refresh token)
    response = APIClient().post(
        "/api/v1/token/blacklist/", {"refresh": first["refresh"]}, format="json"
    )
    assert response.status_code == 200
    # Then every token of the seller is refused, the other seller's still work
    assert_all_revoked(first)
    assert_all_revoked(second)
    assert me_with(other["access"]).status_code == 200


# --- Absolute lifetime ----------------------------------------------------------------


def test_rotation_keeps_the_first_token_s_expiry(seller):
    # Given a log-in's refresh token
    pair = obtain("seller")
    first = claims_of(pair["refresh"])
    lifetime = settings.SIMPLE_JWT["REFRESH_TOKEN_LIFETIME"]
    assert first["exp"] - first["iat"] == int(lifetime.total_seconds())
    # When it is rotated three times
    refresh = pair["refresh"]
    seen = []
    for _ in range(3):
        response = refresh_with(refresh)
        assert response.status_code == 200
        refresh = response.json()["refresh"]
        seen.append(claims_of(refresh))
    # Then every new token expires exactly when the first one does
    assert [claims["exp"] for claims in seen] == [first["exp"]] * 3
    assert len({claims["jti"] for claims in [first, *seen]}) == 4


def test_an_access_token_never_outlives_its_refresh_chain(seller):
    # Given a refresh token with 60 s left (its chain started a day ago)
    token = RefreshToken.for_user(seller)
    expires = timezone.now() + timedelta(seconds=60)
    token.set_exp(from_time=expires - token.lifetime)
    # When it is exchanged
    response = refresh_with(str(token))
    assert response.status_code == 200
    access, refresh = (claims_of(response.json()[k]) for k in ("access", "refresh"))
    # Then the new access and refresh tokens expire with it, not 5 min / 1 day later
    assert access["exp"] == refresh["exp"] == int(expires.timestamp())


def test_a_chain_past_its_absolute_expiry_is_refused(seller):
    token = RefreshToken.for_user(seller)
    token.set_exp(from_time=timezone.now() - token.lifetime - timedelta(seconds=1))
    response = refresh_with(str(token))
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "token_not_valid"
