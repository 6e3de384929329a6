"""``rakuten.drf.paginated_response``: the one pagination helper of the API views."""

import pytest
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.test import APIRequestFactory
from rest_framework.views import APIView

from catalog.models import Category
from rakuten.drf import Pagination, paginated_response
from tests.factories import CategoryFactory

pytestmark = pytest.mark.django_db


class _View(APIView):
    pagination_class = Pagination


class _CategorySerializer(serializers.ModelSerializer):
    asked_by = serializers.SerializerMethodField()

    class Meta:
        model = Category
        fields = ["code", "asked_by"]

    def get_asked_by(self, category) -> str:
        return self.context.get("who", "")


def _request(**params) -> Request:
    return Request(APIRequestFactory().get("/api/v1/things/", params))


def test_one_page_in_the_paginators_envelope():
    for code in ("A", "B", "C"):
        CategoryFactory(code=code)
    response = paginated_response(
        request=_request(page=2, page_size=2),
        view=_View(),
        queryset=Category.objects.filter(code__in="ABC").order_by("code"),
        serializer_class=_CategorySerializer,
        context={"who": "staff"},
    )
    assert response.status_code == 200
    assert response.data == {
        "count": 3,
        "next": None,
        "previous": "http://testserver/api/v1/things/?page_size=2",
        "results": [{"code": "C", "asked_by": "staff"}],
    }


def test_it_answers_what_the_paginator_itself_answers():
    for code in ("A", "B", "C"):
        CategoryFactory(code=code)
    queryset = Category.objects.filter(code__in="ABC").order_by("code")
    request, view = _request(page_size=2), _View()
    paginator = Pagination()
    page = paginator.paginate_queryset(queryset, request, view=view)
    by_hand = paginator.get_paginated_response(
        _CategorySerializer(page, many=True).data
    )
    helper = paginated_response(
        request=request,
        view=view,
        queryset=queryset,
        serializer_class=_CategorySerializer,
    )
    assert helper.data == by_hand.data
