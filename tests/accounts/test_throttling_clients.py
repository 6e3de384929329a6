"""Throttles and lock-outs an attacker cannot dodge (issue 13): the client address
comes from one function (rakuten.clientip, TRUSTED_PROXY_COUNT) for DRF and
django-axes, so rotating X-Forwarded-For lifts nothing; the lock-out is per username
and per address, and failures during it do not extend it past the cool-off."""

from datetime import timedelta

import pytest
from axes.models import AccessAttempt
from django.db.models import Sum
from django.test import RequestFactory
from django.utils import timezone
from rest_framework.test import APIClient

from rakuten.clientip import client_ip
from tests.factories import DEFAULT_PASSWORD


@pytest.mark.parametrize(
    ("proxies", "forwarded", "expected"),
    [
        (0, None, "10.0.0.1"),
        (0, "1.2.3.4", "10.0.0.1"),  # no trusted proxy: the header is ignored
        (1, None, "10.0.0.1"),
        (1, "1.2.3.4", "1.2.3.4"),
        (1, "6.6.6.6, 1.2.3.4", "1.2.3.4"),  # the client's own entry is ignored
        (2, "6.6.6.6, 1.2.3.4, 172.16.0.1", "1.2.3.4"),
        (3, "1.2.3.4", "1.2.3.4"),  # fewer entries than proxies: the leftmost
        (1, " , ", "10.0.0.1"),
    ],
)
def test_client_ip_trusts_only_the_configured_proxies(
    settings, proxies, forwarded, expected
):
    settings.TRUSTED_PROXY_COUNT = proxies
    extra = {"HTTP_X_FORWARDED_FOR": forwarded} if forwarded is not None else {}
    request = RequestFactory().get("/", REMOTE_ADDR="10.0.0.1", **extra)
    assert client_ip(request) == expected


def test_drf_and_axes_share_the_setting(settings):
    from axes.helpers import get_client_ip_address
    from rest_framework.settings import api_settings
    from rest_framework.throttling import AnonRateThrottle

    # Given one trusted proxy
    settings.TRUSTED_PROXY_COUNT = 1
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": 1}
    request = RequestFactory().get(
        "/", REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR="6.6.6.6, 1.2.3.4"
    )
    # Then axes, the platform's throttles and DRF's own rule agree on the client
    assert api_settings.NUM_PROXIES == 1
    assert get_client_ip_address(request) == "1.2.3.4"
    assert AnonRateThrottle().get_ident(request) == "1.2.3.4"
    from rakuten.throttling import AnonRateThrottle as PlatformAnonRateThrottle

    assert PlatformAnonRateThrottle().get_ident(request) == "1.2.3.4"


def test_the_settings_key_throttles_on_the_client_address():
    from django.conf import settings

    assert settings.TRUSTED_PROXY_COUNT == 0
    assert settings.REST_FRAMEWORK["NUM_PROXIES"] == 0
    assert settings.AXES_CLIENT_IP_CALLABLE == "rakuten.clientip.client_ip"
    assert settings.REST_FRAMEWORK["DEFAULT_THROTTLE_CLASSES"] == [
        "rakuten.throttling.AnonRateThrottle",
        "rakuten.throttling.UserRateThrottle",
        "rakuten.throttling.ScopedRateThrottle",
    ]


def _codes(responses) -> list:
    return [
        (r.status_code, r.json().get("error", {}).get("code", "")) for r in responses
    ]


@pytest.mark.django_db
def test_rotating_x_forwarded_for_does_not_lift_the_token_throttle():
    # Given one client sending 25 bad refresh tokens, each with another
    # X-Forwarded-For (token/ allows 20 a minute)
    client = APIClient(REMOTE_ADDR="10.0.0.1")
    responses = [
        client.post(
            "/api/v1/token/refresh/",
            {"refresh": "not-a-token"},
            format="json",
            HTTP_X_FORWARDED_FOR=f"198.51.100.{i}",
        )
        for i in range(25)
    ]
    # Then the 21st and later are throttled
    assert [code for code, _ in _codes(responses)] == [401] * 20 + [429] * 5
    assert _codes(responses)[20] == (429, "throttled")


@pytest.mark.django_db
def test_rotating_x_forwarded_for_does_not_lift_throttle_or_lock_out_on_token(
    seller,
):
    # Given 25 bad log-ins for 25 usernames, each with another X-Forwarded-For
    client = APIClient(REMOTE_ADDR="10.0.0.1")
    responses = [
        client.post(
            "/api/v1/token/",
            {"username": f"user{i}", "password": "wrong"},
            format="json",
            HTTP_X_FORWARDED_FOR=f"198.51.100.{i}",
        )
        for i in range(25)
    ]
    # Then the address is locked out at the fifth (axes), and from the 21st the
    # rate throttle answers before any password is checked
    assert _codes(responses) == (
        [(401, "no_active_account")] * 4
        + [(429, "locked_out")] * 16
        + [(429, "throttled")] * 5
    )
    # and axes recorded the real address, never a forwarded one
    assert set(AccessAttempt.objects.values_list("ip_address", flat=True)) == {
        "10.0.0.1"
    }


@pytest.mark.django_db
def test_behind_one_trusted_proxy_clients_are_told_apart(settings, seller):
    # Given one trusted proxy: every request comes from its address
    settings.TRUSTED_PROXY_COUNT = 1
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": 1}
    proxy = APIClient(REMOTE_ADDR="172.16.0.1")

    def token(username, password, forwarded):
        return proxy.post(
            "/api/v1/token/",
            {"username": username, "password": password},
            format="json",
            HTTP_X_FORWARDED_FOR=forwarded,
        ).status_code

    # When an attacker at 203.0.113.7 fails five times for five usernames, putting
    # a fresh address of its own in front each time
    statuses = [
        token(f"user{i}", "wrong", f"192.0.2.{i}, 203.0.113.7") for i in range(5)
    ]
    # Then the attacker's address is locked out (the fifth failure)
    assert statuses == [401, 401, 401, 401, 429]
    assert token("seller", DEFAULT_PASSWORD, "192.0.2.99, 203.0.113.7") == 429
    # and the seller, behind the same proxy at another address, logs in
    assert token("seller", DEFAULT_PASSWORD, "198.51.100.20") == 200


@pytest.fixture
def clock(monkeypatch):
    """django-axes' clock, set by the test."""
    import axes.handlers.proxy

    current = {"now": timezone.now()}
    monkeypatch.setattr(axes.handlers.proxy, "now", lambda: current["now"])
    return current


def _token(address: str, password: str) -> int:
    return (
        APIClient(REMOTE_ADDR=address)
        .post(
            "/api/v1/token/",
            {"username": "seller", "password": password},
            format="json",
        )
        .status_code
    )


@pytest.mark.django_db
def test_an_attacker_cannot_keep_a_user_locked_out_past_the_cool_off(
    settings, seller, clock
):
    # Given a seller locked out by five failures at t0 (cool-off: 15 minutes)
    t0 = clock["now"]
    assert timedelta(minutes=15) == settings.AXES_COOLOFF_TIME
    assert [_token("10.0.0.1", "wrong") for _ in range(5)] == [401] * 4 + [429]
    # When an attacker keeps failing, from new addresses, every minute of the lock-out
    hammering = []
    for minute in range(1, 15):
        clock["now"] = t0 + timedelta(minutes=minute)
        hammering.append(_token(f"10.0.1.{minute}", "wrong"))
        hammering.append(_token("10.0.0.1", "wrong"))
    # Then every attempt is refused, none is recorded
    assert hammering == [429] * 28
    assert AccessAttempt.objects.aggregate(n=Sum("failures_since_start"))["n"] == 5
    # and the seller is still locked out just before the cool-off ends
    clock["now"] = t0 + timedelta(minutes=15, seconds=-1)
    assert _token("10.0.0.9", DEFAULT_PASSWORD) == 429
    # but logs in once it has passed since the failure that locked
    clock["now"] = t0 + timedelta(minutes=15, seconds=1)
    assert _token("10.0.0.9", DEFAULT_PASSWORD) == 200


@pytest.mark.django_db
def test_with_axes_default_hammering_would_extend_the_lock_out(settings, seller, clock):
    # The same attack under django-axes' default (failures during a lock-out
    # restart the cool-off), to show what the setting prevents
    settings.AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = True
    t0 = clock["now"]
    for _ in range(5):
        _token("10.0.0.1", "wrong")
    clock["now"] = t0 + timedelta(minutes=14)
    assert _token("10.0.0.1", "wrong") == 429
    clock["now"] = t0 + timedelta(minutes=15, seconds=1)
    assert _token("10.0.0.9", DEFAULT_PASSWORD) == 429
