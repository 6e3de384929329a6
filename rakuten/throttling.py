"""Request-rate limits, counted in the shared cache (``CACHES["default"]``: Redis or
the database, so every web process shares one count), keyed by the user or by the
client address of :func:`rakuten.clientip.client_ip`.

- DRF views: the throttle classes below (``REST_FRAMEWORK["DEFAULT_THROTTLE_CLASSES"]``)
  are DRF's own, with the client address taken from ``client_ip``.
- Django views: :func:`rate_limit` applies a scope of
  ``REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]`` and answers 429 with ``Retry-After``
  and a page that says how long to wait.
"""

import math
from functools import wraps

from django.shortcuts import render
from rest_framework import throttling
from rest_framework.settings import api_settings

from rakuten.clientip import client_ip


class _ClientIpMixin:
    def get_ident(self, request) -> str:
        return client_ip(request)

    def get_rate(self):
        # Read at each request, not at import (DRF binds THROTTLE_RATES to the
        # settings of its first import): the rates are settings.
        return api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)


class AnonRateThrottle(_ClientIpMixin, throttling.AnonRateThrottle):
    pass


class UserRateThrottle(_ClientIpMixin, throttling.UserRateThrottle):
    pass


class ScopedRateThrottle(_ClientIpMixin, throttling.ScopedRateThrottle):
    pass


class PageRateThrottle(_ClientIpMixin, throttling.SimpleRateThrottle):
    """One scope's rate for a Django view: per user when logged in, per client
    address otherwise. The cache key is ScopedRateThrottle's, so a page and an API
    view of the same scope (training_runs) share one count."""

    def __init__(self, scope: str) -> None:
        self.scope = scope
        super().__init__()

    def get_cache_key(self, request, view) -> str:
        user = getattr(request, "user", None)
        ident = (
            user.pk
            if user is not None and user.is_authenticated
            else self.get_ident(request)
        )
        return self.cache_format % {"scope": self.scope, "ident": ident}


def rate_limit(scope: str, *, methods: tuple[str, ...] = ("POST",)):
    """Decorate a view: its ``methods`` requests count against ``scope``'s rate; over
    it, the view is not called and the answer is the 429 page."""

    def decorator(view):
        @wraps(view)
        def wrapped(request, *args, **kwargs):
            if request.method in methods:
                throttle = PageRateThrottle(scope)
                if not throttle.allow_request(request, None):
                    return too_many_requests(request, throttle.wait())
            return view(request, *args, **kwargs)

        return wrapped

    return decorator


def too_many_requests(request, wait: float | None):
    """429 with ``Retry-After``: the error page, or its message alone for an htmx
    partial (the Sell page's suggestions)."""
    seconds = max(1, math.ceil(wait or 1))
    template = (
        "_partials/throttled.html"
        if getattr(request, "htmx", False)
        else "429_throttled.html"
    )
    response = render(
        request,
        template,
        {"retry_in": f"{seconds} second{'s' if seconds != 1 else ''}"},
        status=429,
    )
    response["Retry-After"] = str(seconds)
    return response
