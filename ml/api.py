"""REST API of the ML side: predictions, metrics, training runs, model versions and
the dataset reset."""

from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    PolymorphicProxySerializer,
    extend_schema,
    extend_schema_field,
    inline_serializer,
)
from rest_framework import serializers, status
from rest_framework.exceptions import APIException
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.permissions import IsPlatformStaff, IsStaffOrIntegrator
from catalog.api import (
    PhotoInputMixin,
)
from ml.models import ModelVersion, TrainingRun
from ml.options import training_options_from, training_options_serializer_fields
from ml.selectors.anomalies import (
    anomaly_list,
    anomaly_pairs,
    anomaly_rates_by_category,
)
from ml.selectors.model_versions import model_version_list
from ml.selectors.monitoring import metric_snapshot_list, model_metrics_window
from ml.selectors.training_runs import training_run_get, training_run_list
from ml.services.datasets import dataset_reset
from ml.services.model_versions import model_version_activate, model_version_rollback
from ml.services.predictions import NoActiveModelError, prediction_create
from ml.services.training_runs import training_run_create
from rakuten.drf import Pagination, paginated_response


class ModelUnavailable(APIException):
    """No model is active yet: the service cannot suggest categories (503)."""

    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_code = "no_active_model"
    default_detail = "No model is active yet: choose the category by hand."


class ModelVersionRefSerializer(serializers.ModelSerializer):
    class Meta:
        model = ModelVersion
        fields = ["id", "name"]


# --- Predictions ---------------------------------------------------------


class PredictApi(APIView):
    """The active model's top-k categories for a title, a description and an
    optional photo (multipart ``image`` or JSON ``image_base64``). Every role may
    ask; each prediction is stored with the model version that made it."""

    throttle_scope = "predict"

    class InputSerializer(PhotoInputMixin):
        title = serializers.CharField(
            max_length=500, required=False, allow_blank=True, default=""
        )
        description = serializers.CharField(
            required=False, allow_blank=True, default=""
        )
        top_k = serializers.IntegerField(
            required=False, default=3, min_value=1, max_value=10
        )

    class OutputSerializer(serializers.Serializer):
        class SuggestionSerializer(serializers.Serializer):
            id = serializers.IntegerField(source="category_id", allow_null=True)
            code = serializers.CharField()
            name = serializers.CharField()
            probability = serializers.FloatField()

        prediction_id = serializers.IntegerField(source="pk")
        model_version = ModelVersionRefSerializer()
        top_k = SuggestionSerializer(many=True)
        branches = serializers.DictField(
            child=SuggestionSerializer(allow_null=True),
            help_text="Each branch's (text, image) top category; null when unused.",
        )
        used = serializers.CharField(help_text="text, image or text+image")
        latency_ms = serializers.FloatField()

    @extend_schema(
        summary="Suggest categories",
        request={
            "multipart/form-data": InputSerializer,
            "application/json": InputSerializer,
        },
        responses=OutputSerializer,
    )
    def post(self, request):
        serializer = PredictApi.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        photo = data["photo"]
        try:
            prediction = prediction_create(
                title=data["title"],
                description=data["description"],
                image=photo.read() if photo is not None else None,
                user=request.user,
                top_k=data["top_k"],
            )
        except NoActiveModelError as exc:
            raise ModelUnavailable(exc.message) from exc
        return Response(PredictApi.OutputSerializer(prediction).data)


# --- Metrics --------------------------------------------------------------------------


class MetricsApi(APIView):
    """How the active model did on the products confirmed in the last ``days`` days.
    Staff and integrators get every figure of the performance page; sellers only
    the headline numbers (the per-product table lists every seller's products)."""

    class FilterSerializer(serializers.Serializer):
        days = serializers.IntegerField(
            required=False, default=30, min_value=1, max_value=365
        )

    class SummarySerializer(serializers.Serializer):
        window_days = serializers.IntegerField()
        model_version = ModelVersionRefSerializer(allow_null=True)
        count = serializers.IntegerField()
        accuracy = serializers.FloatField(allow_null=True)
        weighted_f1 = serializers.FloatField(allow_null=True)

    class FullSerializer(SummarySerializer):
        class VersionSerializer(serializers.Serializer):
            id = serializers.IntegerField()
            name = serializers.CharField()
            status = serializers.CharField()
            sha256 = serializers.CharField(allow_null=True)
            backbone = serializers.CharField(allow_null=True)
            is_demo = serializers.BooleanField()
            weighted_f1 = serializers.FloatField(allow_null=True)
            accuracy = serializers.FloatField(allow_null=True)
            warning = serializers.CharField(allow_null=True)

        class CategoryF1Serializer(serializers.Serializer):
            code = serializers.CharField()
            name = serializers.CharField()
            f1 = serializers.FloatField()
            support = serializers.IntegerField()

        class ConfusionSerializer(serializers.Serializer):
            labels = serializers.ListField(child=serializers.CharField())
            matrix = serializers.ListField(
                child=serializers.ListField(child=serializers.IntegerField())
            )

        class RowSerializer(serializers.Serializer):
            product_id = serializers.IntegerField()
            title = serializers.CharField()
            real = serializers.CharField()
            real_name = serializers.CharField()
            predicted = serializers.CharField()
            predicted_name = serializers.CharField()
            probability = serializers.FloatField(allow_null=True)
            correct = serializers.BooleanField()
            created_at = serializers.DateTimeField()

        class DaySerializer(serializers.Serializer):
            date = serializers.DateField()
            count = serializers.IntegerField()
            accuracy = serializers.FloatField(allow_null=True)
            weighted_f1 = serializers.FloatField(allow_null=True)

        class SnapshotSerializer(serializers.Serializer):
            computed_at = serializers.DateTimeField()
            model_version_id = serializers.IntegerField()
            window_days = serializers.IntegerField()
            count = serializers.IntegerField()
            accuracy = serializers.FloatField(allow_null=True)
            weighted_f1 = serializers.FloatField(allow_null=True)
            top1_kept_rate = serializers.FloatField(allow_null=True)

        model_version = VersionSerializer(allow_null=True)
        snapshots = SnapshotSerializer(many=True)
        top1_kept_rate = serializers.FloatField(allow_null=True)
        top_k_hit_rate = serializers.FloatField(allow_null=True)
        per_category = CategoryF1Serializer(many=True)
        confusion = ConfusionSerializer()
        real_vs_predicted = RowSerializer(many=True)
        trend = DaySerializer(many=True)

    @extend_schema(
        summary="Model performance over a window of days",
        parameters=[FilterSerializer],
        responses=PolymorphicProxySerializer(
            component_name="Metrics",
            serializers=[FullSerializer, SummarySerializer],
            resource_type_field_name=None,
        ),
    )
    def get(self, request):
        filters = MetricsApi.FilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        metrics = model_metrics_window(days=filters.validated_data["days"])
        if not IsStaffOrIntegrator().has_permission(request, self):
            return Response(MetricsApi.SummarySerializer(metrics).data)
        # The daily snapshots (latest first) show the trend across model versions.
        metrics["snapshots"] = metric_snapshot_list()
        return Response(MetricsApi.FullSerializer(metrics).data)


# --- Anomalies ------------------------------------------------------------------------


class AnomalyCategorySerializer(serializers.Serializer):
    code = serializers.CharField()
    name = serializers.CharField()


class AnomalyListApi(APIView):
    """Anomalies: listings whose seller confirmed another category than the model's
    first suggestion, among the products confirmed in the last ``days`` days. The
    override rate per confirmed category, the most frequent "predicted X, seller
    chose Y" pairs with examples, and a page of the anomalies (latest confirmed
    first; ``category``: of that confirmed category). Staff and integrators."""

    permission_classes = [IsStaffOrIntegrator]
    pagination_class = Pagination

    class FilterSerializer(serializers.Serializer):
        days = serializers.IntegerField(
            required=False, default=30, min_value=1, max_value=365
        )
        category = serializers.CharField(
            required=False, default="", help_text="a confirmed category's code"
        )

    class AnomalySerializer(serializers.Serializer):
        prediction_id = serializers.IntegerField(source="pk")
        model_version_id = serializers.IntegerField()
        product_id = serializers.IntegerField()
        title = serializers.CharField(source="product.title")
        seller_id = serializers.IntegerField(
            source="product.seller_id", allow_null=True
        )
        predicted = AnomalyCategorySerializer(source="predicted_category")
        chosen = AnomalyCategorySerializer(source="product.category")
        probability = serializers.SerializerMethodField(
            help_text="the first suggestion's probability"
        )
        confirmed_at = serializers.DateTimeField(source="product.confirmed_at")

        @extend_schema_field(OpenApiTypes.FLOAT)
        def get_probability(self, prediction) -> float | None:
            top = prediction.top_k[0] if prediction.top_k else {}
            return top.get("probability")

    class RateSerializer(serializers.Serializer):
        code = serializers.CharField()
        name = serializers.CharField()
        listings = serializers.IntegerField()
        overrides = serializers.IntegerField()
        override_rate = serializers.FloatField()

    class PairSerializer(serializers.Serializer):
        class ExampleSerializer(serializers.Serializer):
            product_id = serializers.IntegerField()
            title = serializers.CharField()

        predicted = AnomalyCategorySerializer()
        chosen = AnomalyCategorySerializer()
        count = serializers.IntegerField()
        examples = ExampleSerializer(many=True)

    @extend_schema(
        summary="Anomalies: listings that overrode the first suggestion",
        parameters=[FilterSerializer],
        responses=inline_serializer(
            name="AnomalyPage",
            fields={
                "window_days": serializers.IntegerField(),
                "rates": RateSerializer(many=True),
                "pairs": PairSerializer(many=True),
                "count": serializers.IntegerField(),
                "next": serializers.URLField(allow_null=True),
                "previous": serializers.URLField(allow_null=True),
                "results": AnomalySerializer(many=True),
            },
        ),
    )
    def get(self, request):
        filters = AnomalyListApi.FilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        days = filters.validated_data["days"]
        page = paginated_response(
            request=request,
            view=self,
            queryset=anomaly_list(
                days=days, category=filters.validated_data["category"] or None
            ),
            serializer_class=AnomalyListApi.AnomalySerializer,
        )
        page.data = {
            "window_days": days,
            "rates": AnomalyListApi.RateSerializer(
                anomaly_rates_by_category(days=days), many=True
            ).data,
            "pairs": AnomalyListApi.PairSerializer(
                anomaly_pairs(days=days), many=True
            ).data,
            **page.data,
        }
        return page


# --- Training runs --------------------------------------------------------------------


class TrainingRunOutputSerializer(serializers.ModelSerializer):
    created_by = serializers.CharField(source="created_by.username", allow_null=True)

    class Meta:
        model = TrainingRun
        fields = [
            "id",
            "status",
            "kind",
            "parameters",
            "progress",
            "stage",
            "error",
            "model_version",
            "created_by",
            "created_at",
            "started_at",
            "finished_at",
        ]


class TrainingRunListApi(APIView):
    permission_classes = [IsPlatformStaff]
    pagination_class = Pagination

    OutputSerializer = TrainingRunOutputSerializer

    @extend_schema(
        summary="List training runs (staff)",
        responses=TrainingRunOutputSerializer(many=True),
    )
    def get(self, request):
        return paginated_response(
            request=request,
            view=self,
            queryset=training_run_list(limit=None),
            serializer_class=TrainingRunOutputSerializer,
        )


class TrainingRunCreateApi(APIView):
    """Queue a training run on the worker's ``ml`` queue (202); poll
    ``training-runs/<id>/`` for its progress."""

    permission_classes = [IsPlatformStaff]

    # The run's kind, then every training option of ``ml.options`` with its default
    # (the service checks the values, so they are refused as everywhere else).
    class InputSerializer(serializers.Serializer):
        kind = serializers.ChoiceField(
            choices=TrainingRun.Kind.choices, default=TrainingRun.Kind.FULL
        )

        def get_fields(self):
            # Built per serializer: the backbone choices in the help import torch.
            return {**super().get_fields(), **training_options_serializer_fields()}

    OutputSerializer = TrainingRunOutputSerializer

    @extend_schema(
        summary="Start a training run (staff)",
        request=InputSerializer,
        responses={202: TrainingRunOutputSerializer},
    )
    def post(self, request):
        serializer = TrainingRunCreateApi.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        run = training_run_create(
            parameters=training_options_from(data),
            kind=data["kind"],
            created_by=request.user,
        )
        return Response(
            TrainingRunOutputSerializer(run).data, status=status.HTTP_202_ACCEPTED
        )


class TrainingRunCollectionApi(TrainingRunListApi, TrainingRunCreateApi):
    """``training-runs/``: GET lists (``TrainingRunListApi``), POST starts one
    (``TrainingRunCreateApi``)."""


class TrainingRunDetailApi(APIView):
    permission_classes = [IsPlatformStaff]

    class OutputSerializer(TrainingRunOutputSerializer):
        class Meta(TrainingRunOutputSerializer.Meta):
            fields = [*TrainingRunOutputSerializer.Meta.fields, "metrics", "log"]

    @extend_schema(
        summary="A training run: status, progress, metrics (staff)",
        responses=OutputSerializer,
    )
    def get(self, request, pk: int):
        run = training_run_get(pk=pk)
        return Response(TrainingRunDetailApi.OutputSerializer(run).data)


# --- Model versions -------------------------------------------------------------------


class ModelVersionOutputSerializer(serializers.ModelSerializer):
    sha256 = serializers.CharField(source="bundle_sha256", allow_null=True)
    weighted_f1 = serializers.FloatField(allow_null=True)
    accuracy = serializers.FloatField(allow_null=True)

    class Meta:
        model = ModelVersion
        fields = [
            "id",
            "name",
            "status",
            "sha256",
            "backbone",
            "is_demo",
            "label_codes",
            "weighted_f1",
            "accuracy",
            "warning",
            "created_at",
            "activated_at",
        ]


class ModelVersionListApi(APIView):
    """Every trained model, newest first (staff and integrators)."""

    permission_classes = [IsStaffOrIntegrator]
    pagination_class = Pagination

    OutputSerializer = ModelVersionOutputSerializer

    @extend_schema(
        summary="List model versions",
        responses=ModelVersionOutputSerializer(many=True),
    )
    def get(self, request):
        return paginated_response(
            request=request,
            view=self,
            queryset=model_version_list(),
            serializer_class=ModelVersionOutputSerializer,
        )


class ModelVersionActivateApi(APIView):
    """Make a version the active model (staff); the previous one is retired."""

    permission_classes = [IsPlatformStaff]

    class InputSerializer(serializers.Serializer):
        reason = serializers.CharField(
            max_length=200, required=False, allow_blank=True, default=""
        )

    OutputSerializer = ModelVersionOutputSerializer

    @extend_schema(
        summary="Activate a model version (staff)",
        request=InputSerializer,
        responses=ModelVersionOutputSerializer,
    )
    def post(self, request, pk: int):
        version = get_object_or_404(model_version_list(), pk=pk)
        serializer = ModelVersionActivateApi.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        version = model_version_activate(
            version=version,
            user=request.user,
            reason=serializer.validated_data["reason"],
        )
        return Response(ModelVersionOutputSerializer(version).data)


class ModelVersionRollbackApi(APIView):
    """Return to the version that was active before the current one (staff)."""

    permission_classes = [IsPlatformStaff]

    OutputSerializer = ModelVersionOutputSerializer

    @extend_schema(
        summary="Roll back to the previous model version (staff)",
        request=None,
        responses=ModelVersionOutputSerializer,
    )
    def post(self, request):
        version = model_version_rollback(user=request.user)
        return Response(ModelVersionOutputSerializer(version).data)


# --- Datasets -------------------------------------------------------------------------


class DatasetResetApi(APIView):
    """Start counting new products from zero (staff). Nothing is deleted; the
    request must say ``confirm: true``."""

    permission_classes = [IsPlatformStaff]

    class InputSerializer(serializers.Serializer):
        confirm = serializers.BooleanField()

        def validate_confirm(self, value):
            if not value:
                raise serializers.ValidationError("Send confirm: true to reset.")
            return value

    class OutputSerializer(serializers.Serializer):
        id = serializers.IntegerField()
        products_count = serializers.IntegerField()
        created_at = serializers.DateTimeField()

    @extend_schema(
        summary="Reset the count of new products (staff)",
        request=InputSerializer,
        responses={201: OutputSerializer},
    )
    def post(self, request):
        serializer = DatasetResetApi.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        reset = dataset_reset(
            user=request.user, confirm=serializer.validated_data["confirm"]
        )
        return Response(
            DatasetResetApi.OutputSerializer(reset).data,
            status=status.HTTP_201_CREATED,
        )
