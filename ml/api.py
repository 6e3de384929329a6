"""REST API of the ML side: predictions, training runs, model versions and the dataset
reset (monitoring: ``ml.api_monitoring``)."""

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import (
    extend_schema,
)
from rest_framework import serializers, status
from rest_framework.exceptions import APIException
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.permissions import IsPlatformStaff, IsStaffOrIntegrator
from catalog.api import PhotoInputMixin
from ml.api_serializers import (
    FusionSerializer,
    GateVerdictField,
    ModelVersionRefSerializer,
    ValidationFiguresSerializer,
)
from ml.models import ModelVersion, TrainingRun
from ml.options import training_options_from, training_options_serializer_fields
from ml.selectors.model_versions import model_version_list
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

        class BranchSerializer(SuggestionSerializer):
            share = serializers.FloatField(
                required=False,
                help_text="The branch's share of this product's fusion (0 to 1).",
            )

        prediction_id = serializers.IntegerField(source="pk")
        model_version = ModelVersionRefSerializer()
        top_k = SuggestionSerializer(many=True)
        branches = serializers.DictField(
            child=BranchSerializer(allow_null=True),
            help_text="Each branch's top category (calibrated) and its share of the "
            "fusion: text (the BiGRU), tfidf (TF-IDF + linear SVM), image; null when "
            "the branch could not see the product.",
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


# --- Training runs --------------------------------------------------------------------


class TrainingRunOutputSerializer(
    ValidationFiguresSerializer, serializers.ModelSerializer
):
    created_by = serializers.CharField(source="created_by.username", allow_null=True)
    warning = serializers.CharField(
        source="model_version.warning",
        allow_null=True,
        help_text="the model's warnings, in full (null: no model yet)",
    )
    gate = GateVerdictField(source="model_version.gate")
    enqueued_at = serializers.DateTimeField(
        allow_null=True,
        read_only=True,
        help_text=(
            "when the broker accepted the run's message; null while a queued run waits "
            "for an unreachable broker (the watchdog sends it when the broker is back)"
        ),
    )

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
            "warning",
            "validation_n",
            "enough_data",
            "gate",
            "created_by",
            "created_at",
            "enqueued_at",
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
    throttle_scope = "training_runs"

    # The run's kind, then every training option of ``ml.options`` with its default
    # (the service checks the values, so they are refused as everywhere else).
    class InputSerializer(serializers.Serializer):
        kind = serializers.ChoiceField(
            choices=TrainingRun.Kind.choices, default=TrainingRun.Kind.FULL
        )
        force = serializers.BooleanField(
            required=False,
            default=False,
            help_text="Queue a full run even if another one is queued or running.",
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
            force=data["force"],
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


class ModelVersionOutputSerializer(
    ValidationFiguresSerializer, serializers.ModelSerializer
):
    sha256 = serializers.CharField(source="bundle_sha256", allow_null=True)
    weighted_f1 = serializers.FloatField(allow_null=True)
    accuracy = serializers.FloatField(allow_null=True)
    gate = GateVerdictField()
    fusion = FusionSerializer(
        read_only=True,
        allow_null=True,
        help_text="null for a version trained before N-way fusion",
    )

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
            "validation_n",
            "enough_data",
            "warning",
            "gate",
            "fusion",
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
