import math
from datetime import timedelta

from django.contrib.staticfiles import finders
from django.db import DatabaseError
from django.http import FileResponse, Http404, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.cache import cache_control, never_cache
from django.views.decorators.http import require_GET
from rest_framework.exceptions import APIException

from accounts.authentication import JWTAuthentication
from rakuten.health import health_report
from rakuten.metrics import metrics_access_allowed, metrics_exposition

FAVICON = "favicon.ico"


@never_cache
@require_GET
def healthz(request):
    """``{"status": "ok"}`` when the database and the broker answer, ``"degraded"``
    otherwise; 200, or 503 when the database does not answer. Only staff (a session
    or a staff access token) get the details: each component's state, the database
    vendor, the active model, the errors. Anyone else gets the status alone (no
    version, hash, host or error text)."""
    healthy, report = health_report()
    everything_answers = all(report[part]["ok"] for part in ("database", "broker"))
    status = "ok" if healthy and everything_answers else "degraded"
    code = 200 if healthy else 503
    if not _is_staff(request):
        return JsonResponse({"status": status}, status=code)
    return JsonResponse({**report, "status": status}, status=code)


@never_cache
@require_GET
def metrics(request):
    """Prometheus' scrape target (rakuten.metrics): 403 unless the client is in
    ``METRICS_ALLOWED_NETWORKS`` or sends ``Authorization: Bearer <METRICS_TOKEN>``."""
    if not metrics_access_allowed(request):
        return HttpResponse("Forbidden.\n", status=403, content_type="text/plain")
    from prometheus_client import CONTENT_TYPE_LATEST

    return HttpResponse(metrics_exposition(), content_type=CONTENT_TYPE_LATEST)


def _is_staff(request) -> bool:
    """A staff session, or a valid staff access token (``Authorization: Bearer``).
    Without a database nobody can be told apart: no details."""
    try:
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            return user.is_platform_staff
        authenticated = JWTAuthentication().authenticate(request)
    except (APIException, DatabaseError):
        return False  # a bad token, or no database: anonymous
    return authenticated is not None and authenticated[0].is_platform_staff


def home(request):
    from ml.selectors.model_versions import model_version_get_active

    return render(request, "home.html", {"active_model": model_version_get_active()})


@require_GET
@cache_control(public=True, max_age=24 * 3600)
def favicon(request):
    """``/favicon.ico``, which browsers ask for on every page whatever the page links:
    the static file itself (found like any static file), not a 404."""
    path = finders.find(FAVICON)
    if path is None:
        raise Http404("No favicon.")
    return FileResponse(open(path, "rb"), content_type="image/x-icon")


def lockout(request, original_response=None, credentials=None):
    """django-axes' lock-out response (``AXES_LOCKOUT_CALLABLE``) for the web and admin
    log-ins: the styled 429 page, saying when to try again (the cool-off time) and
    with ``Retry-After``. The API's token/ answers its own JSON 429."""
    from axes.helpers import get_client_username, get_cool_off, get_failure_limit

    cool_off = get_cool_off(request) or timedelta(0)
    response = render(
        request,
        "429.html",
        {
            "failure_limit": get_failure_limit(request, credentials),
            "username": get_client_username(request, credentials) or "",
            "retry_in": duration_text(cool_off),
        },
        status=429,
    )
    response["Retry-After"] = str(math.ceil(cool_off.total_seconds()))
    return response


def duration_text(duration: timedelta) -> str:
    """A wait in words, rounded up to the minute: "1 minute", "15 minutes",
    "2 hours", "1 hour 30 minutes"."""
    minutes = max(1, math.ceil(duration.total_seconds() / 60))
    hours, minutes = divmod(minutes, 60)
    parts = [
        f"{n} {unit}{'' if n == 1 else 's'}"
        for n, unit in ((hours, "hour"), (minutes, "minute"))
        if n
    ]
    return " ".join(parts)
