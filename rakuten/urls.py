from django.contrib import admin
from django.urls import include, path

from rakuten import views

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    path("metrics", views.metrics, name="metrics"),
    path("favicon.ico", views.favicon, name="favicon"),
    path("accounts/", include("accounts.urls")),
    # The suggestion endpoint (products/suggestions/) and the staff pages (staff/...).
    path("", include("ml.urls")),
    path("products/", include("catalog.urls")),
    path("admin/", admin.site.urls),
    path("api/v1/", include("rakuten.api_urls")),
]
