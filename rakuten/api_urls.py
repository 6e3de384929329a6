"""The REST API, mounted at ``/api/v1/``: each app's ``api_urls``, the generated
OpenAPI schema and its interactive docs (offline: drf-spectacular-sidecar)."""

from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView
from rest_framework.exceptions import NotFound
from rest_framework.permissions import AllowAny
from rest_framework.views import APIView


class NotFoundApi(APIView):
    """Any other ``/api/v1/`` URL: a 404 in the API's error shape, not an HTML
    page."""

    authentication_classes = []
    permission_classes = [AllowAny]
    schema = None

    def http_method_not_allowed(self, request, *args, **kwargs):
        raise NotFound("No such API endpoint.")


urlpatterns = [
    path("", include("accounts.api_urls")),
    path("", include("catalog.api_urls")),
    path("", include("ml.api_urls")),
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
    # The split view serves its init script from its own URL: no inline script
    # (Content-Security-Policy).
    path(
        "docs/",
        SpectacularSwaggerSplitView.as_view(
            url_name="api-schema", template_name="api_docs.html"
        ),
        name="api-docs",
    ),
    re_path(r"^.*$", NotFoundApi.as_view(), name="api-not-found"),
]
