from django.http import JsonResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from rakuten.health import health_report


@never_cache
@require_GET
def healthz(request):
    healthy, report = health_report()
    report["status"] = "ok" if healthy else "unavailable"
    return JsonResponse(report, status=200 if healthy else 503)


def home(request):
    from ml.selectors.model_versions import model_version_get_active

    return render(request, "home.html", {"active_model": model_version_get_active()})
