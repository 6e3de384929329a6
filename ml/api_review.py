"""REST API of the review queue and of taxonomy migrations (staff only)."""

from django.shortcuts import get_object_or_404
from django.urls import reverse
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.permissions import IsPlatformStaff
from catalog.models import TaxonomyMigration
from ml.models import ReviewItem
from ml.selectors.review import review_item_list
from ml.services.review_queue import review_item_decide, review_items_accept
from ml.services.taxonomy_migrations import (
    taxonomy_migration_predict,
    taxonomy_migration_start_uploads,
    taxonomy_migration_train,
    taxonomy_migration_undo_all,
)
from rakuten.drf import Pagination, paginated_response
from rakuten.ids import MAX_ID

# --- Review queue ---------------------------------------------------------------------


class ReviewFilterSerializer(serializers.Serializer):
    status = serializers.ChoiceField(
        choices=ReviewItem.Status.choices, default=ReviewItem.Status.WAITING
    )
    category = serializers.CharField(required=False, default="", allow_blank=True)
    min_probability = serializers.FloatField(
        required=False, min_value=0.0, max_value=1.0, allow_null=True, default=None
    )
    max_probability = serializers.FloatField(
        required=False, min_value=0.0, max_value=1.0, allow_null=True, default=None
    )
    reason = serializers.ChoiceField(
        choices=ReviewItem.Reason.choices, required=False, default="", allow_blank=True
    )


class ReviewItemOutputSerializer(serializers.ModelSerializer):
    class ProductSerializer(serializers.Serializer):
        id = serializers.IntegerField()
        title = serializers.CharField()
        category = serializers.CharField(source="category.code", allow_null=True)
        image = serializers.SerializerMethodField(
            help_text="The URL of the product's photo/ endpoint; null without a photo"
        )

        def get_image(self, product) -> str | None:
            if not product.image:
                return None
            return reverse("api-product-photo", args=[product.pk])

    class SuggestionSerializer(serializers.Serializer):
        code = serializers.CharField()
        probability = serializers.FloatField()

    product = ProductSerializer()
    suggestions = SuggestionSerializer(many=True)
    chosen_category = serializers.CharField(
        source="chosen_category.code", allow_null=True, default=None
    )
    decided_by = serializers.CharField(
        source="decided_by.username", allow_null=True, default=None
    )
    migration = serializers.IntegerField(
        source="move.migration_id", allow_null=True, default=None
    )

    class Meta:
        model = ReviewItem
        fields = [
            "id",
            "product",
            "suggestions",
            "probability",
            "reason",
            "status",
            "job",
            "migration",
            "chosen_category",
            "decided_by",
            "decided_at",
            "created_at",
        ]


class ReviewItemListApi(APIView):
    """The review queue, least certain first; filters: ``status`` (default
    waiting), ``category`` (first suggestion or current category),
    ``min_probability``, ``max_probability`` (below), ``reason``."""

    permission_classes = [IsPlatformStaff]
    pagination_class = Pagination

    @extend_schema(
        summary="List the review queue (staff)",
        parameters=[ReviewFilterSerializer],
        responses=ReviewItemOutputSerializer(many=True),
    )
    def get(self, request):
        filters = ReviewFilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        return paginated_response(
            request=request,
            view=self,
            queryset=review_item_list(**filters.validated_data),
            serializer_class=ReviewItemOutputSerializer,
        )


class ReviewItemDecideApi(APIView):
    """Accept the first suggestion (``{"accept": true}``) or choose a category
    (``{"category": CODE}``)."""

    permission_classes = [IsPlatformStaff]

    class InputSerializer(serializers.Serializer):
        accept = serializers.BooleanField(required=False, default=False)
        category = serializers.CharField(required=False, default="", allow_blank=True)

        def validate(self, data):
            if bool(data["accept"]) == bool(data["category"]):
                raise serializers.ValidationError(
                    "Send either accept: true or a category."
                )
            return data

    @extend_schema(
        summary="Decide a review item (staff)",
        request=InputSerializer,
        responses=ReviewItemOutputSerializer,
    )
    def post(self, request, pk: int):
        serializer = ReviewItemDecideApi.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        item = get_object_or_404(ReviewItem, pk=pk)
        item = review_item_decide(
            item=item,
            user=request.user,
            accept=serializer.validated_data["accept"],
            category_code=serializer.validated_data["category"],
        )
        return Response(ReviewItemOutputSerializer(item).data)


class ReviewItemBulkAcceptApi(APIView):
    """Accept the first suggestion of the items ``ids``, or of every waiting item
    matching the filters when no ids are given."""

    permission_classes = [IsPlatformStaff]

    class InputSerializer(ReviewFilterSerializer):
        ids = serializers.ListField(
            child=serializers.IntegerField(min_value=1, max_value=MAX_ID),
            required=False,
            max_length=1000,
        )
        status = None

    class OutputSerializer(serializers.Serializer):
        accepted = serializers.IntegerField()

    @extend_schema(
        summary="Accept the first suggestion of many review items (staff)",
        request=InputSerializer,
        responses=OutputSerializer,
    )
    def post(self, request):
        serializer = ReviewItemBulkAcceptApi.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        ids = data.pop("ids", None)
        items = review_item_list(**data)
        if ids is not None:
            items = items.filter(pk__in=ids)
        accepted = review_items_accept(items=list(items), user=request.user)
        return Response({"accepted": accepted})


# --- Taxonomy migrations --------------------------------------------------------------


class TaxonomyMigrationOutputSerializer(serializers.ModelSerializer):
    from_version = serializers.CharField(source="from_version.name")
    to_version = serializers.CharField(source="to_version.name")
    moves = serializers.SerializerMethodField()

    class Meta:
        model = TaxonomyMigration
        fields = [
            "id",
            "status",
            "from_version",
            "to_version",
            "mapping",
            "summary",
            "moves",
            "created_at",
            "undone_at",
        ]

    def get_moves(self, migration) -> dict:
        """Products per how their move was decided (``waiting``: not yet)."""
        counts = {"mapped": 0, "model": 0, "staff": 0, "waiting": 0}
        for how in migration.moves.values_list("how", flat=True):
            counts[how or "waiting"] += 1
        return counts


class TaxonomyMigrationCreateApi(APIView):
    """Import a new taxonomy version (multipart ``categories``: CSV code,name) and
    its mapping (``mapping``: CSV old_code,new_code). ``dry_run`` only reports what
    would change. A bad file is refused as a whole (400), nothing changed."""

    permission_classes = [IsPlatformStaff]
    parser_classes = [MultiPartParser, FormParser]

    class InputSerializer(serializers.Serializer):
        categories = serializers.FileField()
        mapping = serializers.FileField()
        dry_run = serializers.BooleanField(required=False, default=False)

    class PlanSerializer(serializers.Serializer):
        dry_run = serializers.BooleanField()
        summary = serializers.DictField()

    @extend_schema(
        summary="Migrate to a new taxonomy version (staff)",
        request={"multipart/form-data": InputSerializer},
        responses={201: TaxonomyMigrationOutputSerializer, 200: PlanSerializer},
    )
    def post(self, request):
        serializer = TaxonomyMigrationCreateApi.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        plan, migration = taxonomy_migration_start_uploads(
            categories_file=data["categories"],
            mapping_file=data["mapping"],
            user=request.user,
            dry_run=data["dry_run"],
        )
        if migration is None:
            return Response({"dry_run": True, "summary": plan.summary()})
        return Response(
            TaxonomyMigrationOutputSerializer(migration).data,
            status=status.HTTP_201_CREATED,
        )


class TaxonomyMigrationDetailApi(APIView):
    permission_classes = [IsPlatformStaff]

    @extend_schema(
        summary="A taxonomy migration and its moves (staff)",
        responses=TaxonomyMigrationOutputSerializer,
    )
    def get(self, request, pk: int):
        migration = get_object_or_404(TaxonomyMigration, pk=pk)
        return Response(TaxonomyMigrationOutputSerializer(migration).data)


class TaxonomyMigrationUndoApi(APIView):
    """Undo the whole migration: every product back to its old category, the
    previous version current again."""

    permission_classes = [IsPlatformStaff]

    @extend_schema(
        summary="Undo a taxonomy migration (staff)",
        request=None,
        responses=TaxonomyMigrationOutputSerializer,
    )
    def post(self, request, pk: int):
        migration = get_object_or_404(TaxonomyMigration, pk=pk)
        migration = taxonomy_migration_undo_all(migration=migration, user=request.user)
        return Response(TaxonomyMigrationOutputSerializer(migration).data)


class TaxonomyMigrationPredictApi(APIView):
    """Start the batch job that decides the waiting products with the active model
    (results below the review threshold go to the review queue)."""

    permission_classes = [IsPlatformStaff]

    class OutputSerializer(serializers.Serializer):
        job = serializers.IntegerField()
        apply_threshold = serializers.FloatField()

    @extend_schema(
        summary="Predict a migration's waiting products (staff)",
        request=None,
        responses={202: OutputSerializer},
        parameters=[OpenApiParameter("pk", int, OpenApiParameter.PATH)],
    )
    def post(self, request, pk: int):
        migration = get_object_or_404(TaxonomyMigration, pk=pk)
        job = taxonomy_migration_predict(migration=migration, user=request.user)
        return Response(
            {"job": job.pk, "apply_threshold": job.apply_threshold},
            status=status.HTTP_202_ACCEPTED,
        )


class TaxonomyMigrationTrainApi(APIView):
    """Queue a full training run on the new taxonomy (mapped products and staff
    labels)."""

    permission_classes = [IsPlatformStaff]

    class OutputSerializer(serializers.Serializer):
        training_run = serializers.IntegerField()

    @extend_schema(
        summary="Train on a migration's new taxonomy (staff)",
        request=None,
        responses={202: OutputSerializer},
    )
    def post(self, request, pk: int):
        migration = get_object_or_404(TaxonomyMigration, pk=pk)
        run = taxonomy_migration_train(migration=migration, user=request.user)
        return Response({"training_run": run.pk}, status=status.HTTP_202_ACCEPTED)
