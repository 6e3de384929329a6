"""REST API of batch prediction jobs (staff): start one, list them, read one with its
progress, cancel and resume."""

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.permissions import IsPlatformStaff
from ml.api_serializers import ModelVersionRefSerializer
from ml.models import BatchJob
from ml.selectors.batch import (
    batch_job_get,
    batch_job_list,
    batch_job_progress,
    batch_job_result_counts,
)
from ml.selectors.model_versions import model_version_get_by_ref
from ml.services.batch import (
    MAX_CHUNK_SIZE,
    batch_job_cancel,
    batch_job_create,
    batch_job_resume,
)
from rakuten.drf import Pagination, paginated_response
from rakuten.exceptions import ApplicationError, NotFoundError


class BatchProgressSerializer(serializers.Serializer):
    done = serializers.IntegerField()
    total = serializers.IntegerField()
    percent = serializers.FloatField()
    chunks_done = serializers.IntegerField()
    chunks_total = serializers.IntegerField()
    elapsed_seconds = serializers.FloatField(allow_null=True)
    items_per_second = serializers.FloatField(
        allow_null=True, help_text="products (items) per second since it started"
    )
    eta_seconds = serializers.FloatField(
        allow_null=True, help_text="estimated seconds left at that rate"
    )


class BatchJobOutputSerializer(serializers.ModelSerializer):
    model_version = ModelVersionRefSerializer()
    created_by = serializers.CharField(source="created_by.username", allow_null=True)
    progress = serializers.SerializerMethodField()

    class Meta:
        model = BatchJob
        fields = [
            "id",
            "scope",
            "scope_params",
            "status",
            "model_version",
            "chunk_size",
            "apply_threshold",
            "progress",
            "error",
            "created_by",
            "created_at",
            "started_at",
            "finished_at",
            "cancelled_at",
        ]

    @extend_schema(responses=BatchProgressSerializer)
    def get_progress(self, job) -> dict:
        return BatchProgressSerializer(batch_job_progress(job)).data


class BatchJobListApi(APIView):
    permission_classes = [IsPlatformStaff]
    pagination_class = Pagination

    @extend_schema(
        summary="List batch prediction jobs (staff)",
        responses=BatchJobOutputSerializer(many=True),
    )
    def get(self, request):
        return paginated_response(
            request=request,
            view=self,
            queryset=batch_job_list(),
            serializer_class=BatchJobOutputSerializer,
        )


class BatchJobCreateApi(APIView):
    """Start a batch job (202): its chunks go to the ``batch`` queue; poll
    ``batch-jobs/<id>/`` for its progress."""

    permission_classes = [IsPlatformStaff]

    class InputSerializer(serializers.Serializer):
        scope = serializers.ChoiceField(
            choices=[
                BatchJob.Scope.ALL,
                BatchJob.Scope.CATEGORIES,
                BatchJob.Scope.UNLABELLED,
                BatchJob.Scope.PRODUCTS,
            ]
        )
        categories = serializers.ListField(
            child=serializers.CharField(max_length=64),
            required=False,
            max_length=1000,
            help_text="scope categories: their codes",
        )
        product_ids = serializers.ListField(
            child=serializers.IntegerField(min_value=1),
            required=False,
            max_length=100_000,
            help_text="scope products: their ids",
        )
        model_version = serializers.CharField(
            required=False,
            default="active",
            max_length=20,
            help_text="a model version id, or active",
        )
        chunk_size = serializers.IntegerField(
            required=False, min_value=1, max_value=MAX_CHUNK_SIZE, allow_null=True
        )
        apply_threshold = serializers.FloatField(
            required=False,
            min_value=0.0,
            max_value=1.0,
            allow_null=True,
            help_text="mark the results at or above this probability applied",
        )

    OutputSerializer = BatchJobOutputSerializer

    @extend_schema(
        summary="Start a batch prediction job (staff)",
        request=InputSerializer,
        responses={202: BatchJobOutputSerializer},
    )
    def post(self, request):
        serializer = BatchJobCreateApi.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        params = {
            key: data[key] for key in ("categories", "product_ids") if key in data
        }
        try:
            version = model_version_get_by_ref(ref=data["model_version"])
        except NotFoundError as exc:
            raise ApplicationError(exc.message) from exc
        job = batch_job_create(
            scope=data["scope"],
            scope_params=params,
            model_version=version,
            chunk_size=data.get("chunk_size"),
            apply_threshold=data.get("apply_threshold"),
            user=request.user,
        )
        return Response(
            BatchJobOutputSerializer(job).data, status=status.HTTP_202_ACCEPTED
        )


class BatchJobCollectionApi(BatchJobListApi, BatchJobCreateApi):
    """``batch-jobs/``: GET lists (``BatchJobListApi``), POST starts one
    (``BatchJobCreateApi``)."""


class BatchJobDetailApi(APIView):
    permission_classes = [IsPlatformStaff]

    class OutputSerializer(BatchJobOutputSerializer):
        counts = serializers.SerializerMethodField()

        class Meta(BatchJobOutputSerializer.Meta):
            fields = [*BatchJobOutputSerializer.Meta.fields, "counts"]

        def get_counts(self, job) -> dict[str, int]:
            return batch_job_result_counts(job=job)

    @extend_schema(
        summary="A batch prediction job with its progress (staff)",
        responses=OutputSerializer,
    )
    def get(self, request, pk: int):
        job = batch_job_get(pk=pk)
        return Response(BatchJobDetailApi.OutputSerializer(job).data)


class BatchJobCancelApi(APIView):
    permission_classes = [IsPlatformStaff]

    @extend_schema(
        summary="Cancel a batch prediction job (staff)",
        request=None,
        responses=BatchJobOutputSerializer,
    )
    def post(self, request, pk: int):
        job = batch_job_cancel(job=batch_job_get(pk=pk), user=request.user)
        return Response(BatchJobOutputSerializer(job).data)


class BatchJobResumeApi(APIView):
    permission_classes = [IsPlatformStaff]

    @extend_schema(
        summary="Resume a cancelled, failed or stuck batch prediction job (staff)",
        request=None,
        responses=BatchJobOutputSerializer,
    )
    def post(self, request, pk: int):
        job = batch_job_resume(job=batch_job_get(pk=pk), user=request.user)
        return Response(BatchJobOutputSerializer(job).data)
