"""REST API of the catalogue: products (list, read, change, delete, photo), and the
photo fields every API upload shares. Creating a listing links its prediction, so it
lives on the ML side (``ml.api.ListingCreateApi``), as do the unlabelled-pool
proposals."""

import base64
import binascii

from django.conf import settings
from django.core.files.base import ContentFile
from django.http import FileResponse
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.exceptions import NotFound
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.response import Response
from rest_framework.views import APIView

from catalog.images import InvalidImageError, image_check
from catalog.models import Category, Product
from catalog.selectors import (
    category_list,
    product_get_owned_by,
    product_get_visible_to,
    product_list_visible_to,
    product_proposal_random,
    proposal_get,
)
from catalog.services.listings import listing_create
from catalog.services.products import product_delete, product_update
from rakuten.drf import Pagination, paginated_response
from rakuten.ids import MAX_ID

# --- Photos: multipart ``image`` or JSON ``image_base64`` -----------------------------

# A base64 photo has no file name: its type is read from its first bytes.
_SIGNATURES = ((b"\xff\xd8\xff", ".jpg"), (b"\x89PNG\r\n\x1a\n", ".png"))


class PhotoBase64Field(serializers.CharField):
    """A photo as base64 (optionally a ``data:image/...;base64,`` URL) -> a named
    ``ContentFile``, so it travels like an uploaded file."""

    default_error_messages = {
        "base64": "Not valid base64.",
        "type": "The photo must be a JPEG, PNG or WebP image.",
    }

    def to_internal_value(self, data):
        text = super().to_internal_value(data)
        if text.startswith("data:") and "," in text:
            text = text.split(",", 1)[1]
        try:
            raw = base64.b64decode(text, validate=True)
        except (binascii.Error, ValueError):
            self.fail("base64")
        extension = _extension_of(raw)
        if extension is None:
            self.fail("type")
        return ContentFile(raw, name=f"photo{extension}")


def _extension_of(raw: bytes) -> str | None:
    for signature, extension in _SIGNATURES:
        if raw.startswith(signature):
            return extension
    if raw[:4] == b"RIFF" and raw[8:12] == b"WEBP":
        return ".webp"
    return None


class PhotoInputMixin(serializers.Serializer):
    """``image`` (multipart file) or ``image_base64`` (JSON), checked by
    ``catalog.images.image_check``; ``validated_data["photo"]`` is the file or None.
    """

    image = serializers.FileField(required=False, allow_null=True)
    image_base64 = PhotoBase64Field(required=False, allow_null=True, write_only=True)

    def validate(self, attrs):
        attrs = super().validate(attrs)
        upload = attrs.pop("image", None)
        encoded = attrs.pop("image_base64", None)
        if upload is not None and encoded is not None:
            raise serializers.ValidationError(
                {"image": ["Send either image or image_base64, not both."]}
            )
        field, photo = (
            ("image", upload) if encoded is None else ("image_base64", encoded)
        )
        if photo is not None:
            _photo_check(photo, field=field)
        attrs["photo"] = photo
        return attrs


def _photo_check(photo, *, field: str) -> None:
    photo.seek(0)
    try:
        image_check(
            photo.read(),
            filename=photo.name or "",
            max_bytes=settings.PRODUCT_IMAGE_MAX_BYTES,
        )
    except InvalidImageError as exc:
        raise serializers.ValidationError({field: [exc.message]}) from exc
    finally:
        photo.seek(0)


# --- Categories -----------------------------------------------------------------------


class TaxonomyPagination(Pagination):
    """The whole taxonomy in one answer (27 categories by default; a page holds far
    more than any taxonomy), in the envelope every list of the API has."""

    page_size = 1000
    max_page_size = 1000


class CategoryListApi(APIView):
    """The taxonomy: the categories a product can be listed in (``category`` of
    ``products/``), all in one answer (``next`` is null), codes that are numbers by
    value (10, 40, 50, ... 1140), then the others. Retired ones (merged or withdrawn)
    only with ``?retired=true``."""

    pagination_class = TaxonomyPagination

    class FilterSerializer(serializers.Serializer):
        retired = serializers.BooleanField(required=False, default=False)

    class OutputSerializer(serializers.ModelSerializer):
        class Meta:
            model = Category
            fields = ["id", "code", "name", "active"]

    @extend_schema(
        summary="List categories",
        parameters=[FilterSerializer],
        responses=OutputSerializer(many=True),
    )
    def get(self, request):
        filters = CategoryListApi.FilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        categories = category_list(active_only=not filters.validated_data["retired"])
        return paginated_response(
            request=request,
            view=self,
            queryset=categories,
            serializer_class=CategoryListApi.OutputSerializer,
        )


# --- Products -------------------------------------------------------------------------


class CategoryRefSerializer(serializers.ModelSerializer):
    class Meta:
        model = Category
        fields = ["id", "code", "name"]


# A product's photo URL, null without a photo.
PHOTO_URL_SCHEMA = {"type": "string", "format": "uri", "nullable": True}


class ProductOutputSerializer(serializers.ModelSerializer):
    """A product as every product operation answers it; ``image`` is the URL of
    ``products/<id>/photo/`` (media files are not served publicly)."""

    category = CategoryRefSerializer(allow_null=True)
    seller = serializers.CharField(source="seller.username", allow_null=True)
    image = serializers.SerializerMethodField()

    class Meta:
        model = Product
        fields = [
            "id",
            "title",
            "description",
            "category",
            "image",
            "seller",
            "source",
            "confirmed_at",
            "created_at",
            "updated_at",
        ]

    @extend_schema_field(PHOTO_URL_SCHEMA)
    def get_image(self, product: Product) -> str | None:
        return photo_url(self.context["request"], "api-product-photo", product)


def photo_url(request, route: str, product: Product) -> str | None:
    if not product.image:
        return None
    return request.build_absolute_uri(reverse(route, args=[product.pk]))


class AnyAcceptNegotiation(BaseContentNegotiation):
    """A photo is answered whatever ``Accept`` asks for; errors stay JSON."""

    def select_parser(self, request, parsers):
        return parsers[0]

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


class ProductListApi(APIView):
    """Sellers list their own products; staff and integrators every product."""

    pagination_class = Pagination

    class FilterSerializer(serializers.Serializer):
        search = serializers.CharField(required=False, allow_blank=True, default="")
        category = serializers.IntegerField(
            required=False, min_value=1, max_value=MAX_ID
        )

    OutputSerializer = ProductOutputSerializer

    @extend_schema(
        summary="List products",
        parameters=[FilterSerializer],
        responses=ProductOutputSerializer(many=True),
    )
    def get(self, request):
        filters = ProductListApi.FilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        products = product_list_visible_to(
            user=request.user,
            search=filters.validated_data["search"],
            category_id=filters.validated_data.get("category"),
        )
        return paginated_response(
            request=request,
            view=self,
            queryset=products,
            serializer_class=ProductOutputSerializer,
            context={"request": request},
        )


class ProductDetailApi(APIView):
    """Another seller's product is "not found" (404), never "forbidden"."""

    OutputSerializer = ProductOutputSerializer

    @extend_schema(summary="Read a product", responses=ProductOutputSerializer)
    def get(self, request, pk: int):
        product = product_get_visible_to(user=request.user, pk=pk)
        return Response(
            ProductOutputSerializer(product, context={"request": request}).data
        )


class ProductUpdateApi(APIView):
    """PUT replaces title, description and category; PATCH changes some of them.
    A photo, when sent, replaces the current one. Only the seller changes a product:
    anyone else gets 404, as on the pages (``product_get_owned_by``)."""

    class InputSerializer(PhotoInputMixin):
        title = serializers.CharField(max_length=500)
        description = serializers.CharField(allow_blank=True, required=False)
        category = serializers.PrimaryKeyRelatedField(
            queryset=category_list(active_only=False)
        )

    OutputSerializer = ProductOutputSerializer

    @extend_schema(
        summary="Replace a product's fields",
        request=InputSerializer,
        responses=ProductOutputSerializer,
    )
    def put(self, request, pk: int):
        return self._update(request, pk, partial=False)

    @extend_schema(
        summary="Change some of a product's fields",
        request=InputSerializer,
        responses=ProductOutputSerializer,
    )
    def patch(self, request, pk: int):
        return self._update(request, pk, partial=True)

    def _update(self, request, pk: int, *, partial: bool):
        product = product_get_owned_by(user=request.user, pk=pk)
        serializer = ProductUpdateApi.InputSerializer(
            data=request.data, partial=partial
        )
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        product = product_update(
            product=product,
            title=data.get("title", product.title),
            description=data.get("description", product.description),
            category=data.get("category", product.category),
            image=data.get("photo"),
            actor=request.user,
        )
        return Response(
            ProductOutputSerializer(product, context={"request": request}).data
        )


class ProductDeleteApi(APIView):
    """Only the product's seller deletes it (anyone else: 404); its photo goes with
    it."""

    @extend_schema(summary="Delete a product", responses={204: None})
    def delete(self, request, pk: int):
        product_delete(product=product_get_owned_by(user=request.user, pk=pk))
        return Response(status=status.HTTP_204_NO_CONTENT)


class ProductObjectApi(ProductDetailApi, ProductUpdateApi, ProductDeleteApi):
    """``products/<pk>/``: GET (``ProductDetailApi``), PUT and PATCH
    (``ProductUpdateApi``), DELETE (``ProductDeleteApi``)."""


class ProductPhotoApi(APIView):
    """The product's photo, to whoever may read the product."""

    content_negotiation_class = AnyAcceptNegotiation

    @extend_schema(
        summary="A product's photo", responses={(200, "image/*"): OpenApiTypes.BINARY}
    )
    def get(self, request, pk: int):
        product = product_get_visible_to(user=request.user, pk=pk)
        if not product.image:
            raise NotFound("This product has no photo.")
        return FileResponse(product.image.open("rb"))


# --- Selling: listings and proposals ------------------------------------------


class ListingCreateApi(APIView):
    """Any role lists a product as its seller, with the confirmed category and,
    optionally, the prediction it confirms (real-versus-predicted accumulates). The
    category's rank among that prediction's suggestions is derived on the server, and
    whether the prediction was made for the saved title and description is recorded
    (only such predictions count in the live metrics). An unknown or already used
    prediction is a 400 and nothing is stored."""

    class InputSerializer(PhotoInputMixin):
        title = serializers.CharField(max_length=500)
        description = serializers.CharField(
            required=False, allow_blank=True, default=""
        )
        category = serializers.PrimaryKeyRelatedField(
            queryset=category_list(active_only=False)
        )
        prediction = serializers.IntegerField(
            required=False, allow_null=True, min_value=1, max_value=MAX_ID
        )

    @extend_schema(
        summary="Create a product (a listing)",
        request={
            "multipart/form-data": InputSerializer,
            "application/json": InputSerializer,
        },
        responses={201: ProductOutputSerializer},
    )
    def post(self, request):
        serializer = ListingCreateApi.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        product = listing_create(
            seller=request.user,
            title=data["title"],
            description=data["description"],
            category=data["category"],
            image=data["photo"],
            prediction_id=data.get("prediction"),
            choice_source="api",
        )
        return Response(
            ProductOutputSerializer(product, context={"request": request}).data,
            status=status.HTTP_201_CREATED,
        )


class ProductCollectionApi(ProductListApi, ListingCreateApi):
    """``products/``: GET lists (``ProductListApi``), POST creates a listing
    (``ListingCreateApi``)."""


class ProposalApi(APIView):
    """A random product of the unlabelled pool (imported without a category), to try
    the model on: send its title, description and photo to ``predict/``."""

    class OutputSerializer(serializers.ModelSerializer):
        image = serializers.SerializerMethodField()

        class Meta:
            model = Product
            fields = ["id", "title", "description", "image"]

        @extend_schema_field(PHOTO_URL_SCHEMA)
        def get_image(self, product) -> str | None:
            return photo_url(self.context["request"], "api-proposal-photo", product)

    @extend_schema(summary="A random unlabelled product", responses=OutputSerializer)
    def get(self, request):
        product = product_proposal_random()
        if product is None:
            raise NotFound("No unlabelled product is waiting for a category.")
        return Response(
            ProposalApi.OutputSerializer(product, context={"request": request}).data
        )


class ProposalPhotoApi(APIView):
    """The photo of a product of the unlabelled pool (any other product: 404)."""

    content_negotiation_class = AnyAcceptNegotiation

    @extend_schema(
        summary="A proposal's photo", responses={(200, "image/*"): OpenApiTypes.BINARY}
    )
    def get(self, request, pk: int):
        product = proposal_get(pk=pk)
        if not product.image:
            raise NotFound("This product has no photo.")
        return FileResponse(product.image.open("rb"))
