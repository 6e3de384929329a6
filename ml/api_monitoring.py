"""REST API of the model's monitoring: live metrics and anomalies (the seller's
category differs from the model's first suggestion)."""

from drf_spectacular.extensions import OpenApiSerializerExtension
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    PolymorphicProxySerializer,
    extend_schema,
    extend_schema_field,
    inline_serializer,
)
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.permissions import IsStaffOrIntegrator
from ml.api_serializers import ModelVersionRefSerializer
from ml.selectors.anomalies import (
    anomaly_list,
    anomaly_pairs,
    anomaly_rates_by_category,
)
from ml.selectors.monitoring import metric_snapshot_list, model_metrics_window
from rakuten.drf import Pagination, paginated_response

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


class MetricsSummarySchema(OpenApiSerializerExtension):
    """The summary's schema admits no other property, so that a full answer (a
    superset) matches only ``MetricsFull`` in the ``Metrics`` oneOf."""

    target_class = MetricsApi.SummarySerializer

    def map_serializer(self, auto_schema, direction):
        schema = auto_schema._map_serializer(
            self.target, direction, bypass_extensions=True
        )
        return {**schema, "additionalProperties": False}


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
