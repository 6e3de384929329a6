"""Output serializers that several of ml's API views share: a model version's
reference, its validation figures (how many products, enough or not) and the
promotion gate's verdict."""

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from ml.models import ModelVersion


class ModelVersionRefSerializer(serializers.ModelSerializer):
    class Meta:
        model = ModelVersion
        fields = ["id", "name"]


class GateVerdictSerializer(serializers.Serializer):
    """The promotion gate's verdict on a model (``ModelVersion.gate``)."""

    promote = serializers.BooleanField(help_text="the gate's verdict: promote or hold")
    applied = serializers.BooleanField(
        help_text="true: the run asked for the gate and the verdict was applied (the "
        "model promoted when it passed); false: scored only, nothing promoted"
    )
    reasons = serializers.ListField(child=serializers.CharField())
    candidate_metrics = serializers.DictField(
        help_text="the model's figures on the evaluation slice (n, weighted_f1, ...)"
    )
    active_metrics = serializers.DictField(allow_null=True)
    active_version = serializers.IntegerField(allow_null=True)
    recent = serializers.DictField(allow_null=True)


@extend_schema_field(GateVerdictSerializer(allow_null=True))
class GateVerdictField(serializers.Field):
    """``ModelVersion.gate``, null when the model was never gated. A verdict stored
    before ``applied`` existed came from the applied gate."""

    def __init__(self, **kwargs):
        super().__init__(read_only=True, allow_null=True, **kwargs)

    def to_representation(self, value):
        return {"applied": True, **value} if value else None


class ValidationFiguresSerializer(serializers.Serializer):
    """How many products a model's validation figures were measured on, and whether
    that is enough for them to mean something (runs and model versions alike)."""

    validation_n = serializers.IntegerField(
        source="validation.n",
        allow_null=True,
        help_text="how many products the validation figures were measured on (null: "
        "not recorded)",
    )
    enough_data = serializers.BooleanField(
        source="validation.enough_data",
        help_text="false when the model was validated on fewer than "
        "ML_MIN_VALIDATION_PRODUCTS products: its weighted_f1 and accuracy say little",
    )


class FusionSerializer(serializers.Serializer):
    """How a model version fuses its branches (``ModelVersion.fusion``)."""

    weights = serializers.DictField(
        child=serializers.FloatField(),
        help_text="each branch's share of the fusion (text: the BiGRU, tfidf: TF-IDF "
        "+ linear SVM, image), summing to 1",
    )
    temperatures = serializers.DictField(
        child=serializers.FloatField(),
        help_text="each branch's calibration temperature",
    )
    fused_temperature = serializers.FloatField()
    ece_before = serializers.FloatField(
        allow_null=True,
        help_text="validation ECE (15 bins) without calibration; null when validated "
        "on too few products (enough_data false)",
    )
    ece_after = serializers.FloatField(
        allow_null=True, help_text="validation ECE (15 bins) of what is served"
    )
