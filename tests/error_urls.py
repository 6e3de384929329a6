"""The project's URLs plus a view that fails: for the 500 page's tests."""

from django.urls import path

from rakuten.urls import urlpatterns as project_urlpatterns


def boom(request):
    raise RuntimeError("an unexpected failure")


urlpatterns = [*project_urlpatterns, path("boom/", boom)]
