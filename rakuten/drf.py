"""REST framework glue: one error shape everywhere, and pagination."""

from django.core.exceptions import PermissionDenied, RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.pagination import PageNumberPagination
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from rakuten.exceptions import ApplicationError, ConflictError, NotFoundError


def exception_handler(exc, context):
    """Every error answers ``{"error": {"code", "message", "fields"}}``."""
    if isinstance(exc, NotFoundError):
        exc = exceptions.NotFound(exc.message)
    elif isinstance(exc, ConflictError):
        response = Response(
            _body("conflict", exc.message, exc.extra), status=status.HTTP_409_CONFLICT
        )
        return response
    elif isinstance(exc, ApplicationError):
        return Response(
            _body(exc.code, exc.message, exc.extra), status=status.HTTP_400_BAD_REQUEST
        )
    elif isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(
            exc.message_dict if hasattr(exc, "error_dict") else exc.messages
        )
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()
    elif isinstance(exc, RequestDataTooBig):
        exc = RequestTooLarge()

    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        detail = exc.detail
        fields = detail if isinstance(detail, dict) else {"non_field_errors": detail}
        response.data = _body("invalid", "The request is not valid.", fields)
    else:
        response.data = _body(*_code_and_message(exc), {})
    return response


class RequestTooLarge(exceptions.APIException):
    """A body over DATA_UPLOAD_MAX_MEMORY_SIZE (Django would answer an HTML 400)."""

    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_code = "too_large"
    default_detail = "The request body is too large."


def _code_and_message(exc: exceptions.APIException) -> tuple[str, str]:
    detail = exc.detail
    if isinstance(detail, dict) and "detail" in detail:
        # simplejwt's errors: {"detail": ..., "code": ..., "messages": [...]}.
        return str(detail.get("code") or exc.default_code), str(detail["detail"])
    codes = exc.get_codes()
    return (codes if isinstance(codes, str) else exc.default_code), str(detail)


def _body(code: str, message: str, fields: dict) -> dict:
    return {"error": {"code": code, "message": message, "fields": fields}}


class Pagination(PageNumberPagination):
    page_size_query_param = "page_size"
    max_page_size = 200


def paginated_response(
    *, request, view, queryset, serializer_class, context: dict | None = None
) -> Response:
    """One page of ``queryset`` serialised with ``serializer_class``, in the
    paginator's envelope (``count``, ``next``, ``previous``, ``results``). The view
    names its paginator (``pagination_class``), which the OpenAPI schema reads too."""
    paginator = view.pagination_class()
    page = paginator.paginate_queryset(queryset, request, view=view)
    data = serializer_class(page, many=True, context=context or {}).data
    return paginator.get_paginated_response(data)
