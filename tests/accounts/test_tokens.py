"""Every kind of bad token is refused with a 401: expired, tampered, unsigned
(``alg=none``), a refresh token used as an access token, a rotated refresh token
used again, and a blacklisted one."""

import base64
import json
from datetime import timedelta

import jwt
import pytest
from django.conf import settings
from django.utils import timezone
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import RefreshToken

from tests.factories import DEFAULT_PASSWORD


def claims_of(token: str) -> dict:
    return jwt.decode(token, settings.SECRET_KEY, algorithms=["HS256"])


def b64url(data: dict) -> str:
    raw = json.dumps(data, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def me_with(token: str):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client.get("/api/v1/me/")


def assert_refused(response, code="token_not_valid"):
    assert response.status_code == 401
    assert response.json()["error"]["code"] == code


@pytest.fixture
def access(seller) -> str:
    return str(RefreshToken.for_user(seller).access_token)


def test_a_valid_access_token_is_accepted(access):
    assert me_with(access).status_code == 200


def test_an_expired_access_token_is_refused(access):
    # Given the claims of a valid token, re-signed with the right key but expired
    claims = claims_of(access)
    claims["exp"] = int((timezone.now() - timedelta(seconds=1)).timestamp())
    expired = jwt.encode(claims, settings.SECRET_KEY, algorithm="HS256")
    # Then it is refused
    assert_refused(me_with(expired))


def test_a_token_with_a_tampered_payload_is_refused(access, staff_user):
    # Given a seller's token whose payload now names the staff user, old signature
    header, _, signature = access.split(".")
    claims = claims_of(access)
    claims["user_id"] = str(staff_user.pk)
    forged = f"{header}.{b64url(claims)}.{signature}"
    assert_refused(me_with(forged))


def test_a_token_signed_with_another_key_is_refused(access):
    forged = jwt.encode(claims_of(access), "not-the-secret-key" * 4, algorithm="HS256")
    assert_refused(me_with(forged))


def test_an_unsigned_alg_none_token_is_refused(access):
    unsigned = jwt.encode(claims_of(access), key=None, algorithm="none")
    assert jwt.get_unverified_header(unsigned)["alg"] == "none"
    assert_refused(me_with(unsigned))


def test_a_refresh_token_is_not_an_access_token(seller):
    refresh = str(RefreshToken.for_user(seller))
    assert_refused(me_with(refresh))


def test_a_rotated_refresh_token_cannot_be_used_again(seller):
    # Given a refresh token that was already exchanged (rotation)
    client = APIClient()
    pair = client.post(
        "/api/v1/token/",
        {"username": "seller", "password": DEFAULT_PASSWORD},
        format="json",
    ).json()
    first = client.post(
        "/api/v1/token/refresh/", {"refresh": pair["refresh"]}, format="json"
    )
    # When it is used a second time
    again = client.post(
        "/api/v1/token/refresh/", {"refresh": pair["refresh"]}, format="json"
    )
    # Then it is refused
    assert first.status_code == 200
    assert_refused(again)


def test_a_blacklisted_refresh_token_is_refused(seller):
    client = APIClient()
    refresh = str(RefreshToken.for_user(seller))
    assert (
        client.post(
            "/api/v1/token/blacklist/", {"refresh": refresh}, format="json"
        ).status_code
        == 200
    )
    assert_refused(
        client.post("/api/v1/token/refresh/", {"refresh": refresh}, format="json")
    )


def test_an_access_token_of_a_deactivated_user_is_refused(seller, access):
    seller.is_active = False
    seller.save()
    assert_refused(me_with(access), code="user_inactive")
