"""REST API of sellers' listing imports: upload a CSV and a zip of photos, read the
import with its rows' suggestions (paginated), confirm it with per-row choices or
"accept every suggestion at or above p". Only the import's seller sees it (anyone
else: 404)."""

from django.urls import reverse
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.parsers import MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from catalog.models import ListingImport, ListingImportRow
from catalog.selectors import (
    category_list,
    listing_import_get_owned_by,
    listing_import_progress,
    listing_import_rows,
)
from catalog.services.listing_import_confirmation import (
    listing_import_confirm_enqueue,
)
from catalog.services.listing_imports import listing_import_create
from rakuten.drf import Pagination, paginated_response
from rakuten.ids import MAX_ID


class ListingImportOutputSerializer(serializers.ModelSerializer):
    """An import's state: its status, its counts, the rejected CSV lines and the
    progress (rows with suggestions written, of the rows staged; then rows listed,
    of the rows to list)."""

    class RejectionSerializer(serializers.Serializer):
        line = serializers.IntegerField()
        reason = serializers.CharField()

    class ProgressSerializer(serializers.Serializer):
        total = serializers.IntegerField()
        done = serializers.IntegerField()
        percent = serializers.IntegerField()
        decisions = serializers.DictField(child=serializers.IntegerField())
        to_list = serializers.IntegerField()
        listed = serializers.IntegerField()
        listed_percent = serializers.IntegerField()

    rejections = RejectionSerializer(many=True)
    progress = serializers.SerializerMethodField()
    url = serializers.SerializerMethodField()

    class Meta:
        model = ListingImport
        fields = [
            "id",
            "url",
            "status",
            "note",
            "csv_name",
            "zip_name",
            "rows_total",
            "rows_rejected",
            "rejections",
            "threshold",
            "progress",
            "products_created",
            "products_updated",
            "rows_skipped",
            "created_at",
            "suggested_at",
            "confirmed_at",
            "expires_at",
        ]

    @extend_schema_field(ProgressSerializer)
    def get_progress(self, listing_import) -> dict:
        return listing_import_progress(listing_import=listing_import)

    def get_url(self, listing_import) -> str:
        return self.context["request"].build_absolute_uri(
            reverse("api-listing-import", args=[listing_import.pk])
        )


class ListingImportRowOutputSerializer(serializers.ModelSerializer):
    class SuggestionSerializer(serializers.Serializer):
        category_id = serializers.IntegerField(allow_null=True)
        code = serializers.CharField()
        name = serializers.CharField()
        probability = serializers.FloatField(help_text="calibrated, 0 to 1")

    class CategorySerializer(serializers.Serializer):
        id = serializers.IntegerField()
        code = serializers.CharField()
        name = serializers.CharField()

    suggestions = SuggestionSerializer(many=True)
    category = CategorySerializer(allow_null=True)
    has_photo = serializers.SerializerMethodField()

    class Meta:
        model = ListingImportRow
        fields = [
            "id",
            "line",
            "sku",
            "title",
            "description",
            "has_photo",
            "suggestions",
            "used",
            "model_version_id",
            "category",
            "decision",
            "product_id",
        ]

    def get_has_photo(self, row) -> bool:
        return bool(row.image)


class ListingImportCreateApi(APIView):
    """Upload a CSV (columns ``sku,title,description,image``) and an optional zip of
    the photos its ``image`` column names (multipart ``csv`` and ``zip``). The
    limits (rows, sizes, zip safety) are checked before anything is stored: a
    refused file is a 400 and nothing is stored. Bad rows are listed in
    ``rejections`` by line; the others are staged and the model suggests their
    categories (``status`` moves from ``uploaded`` to ``suggesting`` to
    ``ready``)."""

    parser_classes = [MultiPartParser]

    class InputSerializer(serializers.Serializer):
        csv = serializers.FileField()
        zip = serializers.FileField(required=False, allow_null=True)

    @extend_schema(
        summary="Upload a listing import",
        request={"multipart/form-data": InputSerializer},
        responses={201: ListingImportOutputSerializer},
    )
    def post(self, request):
        serializer = ListingImportCreateApi.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        listing_import = listing_import_create(
            seller=request.user,
            csv_file=serializer.validated_data["csv"],
            zip_file=serializer.validated_data.get("zip"),
        )
        return Response(
            ListingImportOutputSerializer(
                listing_import, context={"request": request}
            ).data,
            status=status.HTTP_201_CREATED,
        )


class ListingImportDetailApi(APIView):
    """The import and one page of its rows (``rows``: ``count``, ``next``,
    ``previous``, ``results``), each with its top 3 suggestions (calibrated
    probabilities), the inputs the model used, the chosen category and the
    decision (``pending`` until suggested, then ``accepted``, ``flagged`` or
    ``changed``). Filter with ``decision`` and ``category`` (an id)."""

    pagination_class = Pagination

    class FilterSerializer(serializers.Serializer):
        decision = serializers.ChoiceField(
            choices=ListingImportRow.Decision.choices, required=False
        )
        category = serializers.IntegerField(
            required=False, min_value=1, max_value=MAX_ID
        )

    class OutputSerializer(ListingImportOutputSerializer):
        class RowsPageSerializer(serializers.Serializer):
            count = serializers.IntegerField()
            next = serializers.URLField(allow_null=True)
            previous = serializers.URLField(allow_null=True)
            results = ListingImportRowOutputSerializer(many=True)

        rows = RowsPageSerializer(read_only=True)

        class Meta(ListingImportOutputSerializer.Meta):
            fields = [*ListingImportOutputSerializer.Meta.fields, "rows"]

    @extend_schema(
        summary="Read a listing import and its rows",
        parameters=[FilterSerializer],
        responses=OutputSerializer,
    )
    def get(self, request, pk: int):
        listing_import = listing_import_get_owned_by(user=request.user, pk=pk)
        filters = ListingImportDetailApi.FilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        rows = listing_import_rows(
            listing_import=listing_import,
            decision=filters.validated_data.get("decision"),
            category_id=filters.validated_data.get("category"),
        )
        page = paginated_response(
            request=request,
            view=self,
            queryset=rows,
            serializer_class=ListingImportRowOutputSerializer,
        )
        data = ListingImportOutputSerializer(
            listing_import, context={"request": request}
        ).data
        return Response({**data, "rows": page.data})


class ListingImportConfirmApi(APIView):
    """List the import's products. With no body, the rows as reviewed (accepted and
    changed; flagged rows are not listed). With ``choices`` (``row`` -> ``category``
    id) and/or ``accept_at_or_above`` (every row whose first suggestion is at least
    that probable takes it), exactly those rows are listed. A row whose ``sku`` the
    seller already lists updates that product. Each product keeps its prediction,
    model version and whether the seller kept the suggestion. The products are
    listed on a worker: the answer is 202 with the import ``confirming``; read it
    until it is ``confirmed`` (or ``ready`` again with a ``note``, on an error)."""

    class InputSerializer(serializers.Serializer):
        class ChoiceSerializer(serializers.Serializer):
            row = serializers.IntegerField(min_value=1, max_value=MAX_ID)
            category = serializers.PrimaryKeyRelatedField(
                queryset=category_list(active_only=False)
            )

        choices = ChoiceSerializer(many=True, required=False)
        accept_at_or_above = serializers.FloatField(
            required=False, min_value=0.0, max_value=1.0
        )

        def validate_choices(self, choices):
            rows = [choice["row"] for choice in choices]
            if len(rows) != len(set(rows)):
                raise serializers.ValidationError("A row is chosen twice.")
            return choices

    @extend_schema(
        summary="Confirm a listing import",
        request=InputSerializer,
        responses={202: ListingImportOutputSerializer},
    )
    def post(self, request, pk: int):
        listing_import = listing_import_get_owned_by(user=request.user, pk=pk)
        serializer = ListingImportConfirmApi.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        choices = data.get("choices")
        listing_import = listing_import_confirm_enqueue(
            listing_import=listing_import,
            user=request.user,
            choices=(
                {c["row"]: c["category"] for c in choices}
                if choices is not None
                else None
            ),
            accept_at_or_above=data.get("accept_at_or_above"),
        )
        return Response(
            ListingImportOutputSerializer(
                listing_import, context={"request": request}
            ).data,
            status=status.HTTP_202_ACCEPTED,
        )
