"""Admin for the ML side. Rows are written by the services (training, activation,
predictions), so the admin mostly reads; its actions call the same services as the
staff pages."""

from django.contrib import admin, messages
from django.utils.html import format_html_join

from ml.models import (
    Alert,
    DatasetReset,
    MetricSnapshot,
    ModelActivation,
    ModelVersion,
    Prediction,
    TrainingRun,
)
from ml.options import training_options_pick
from ml.services.model_versions import model_version_activate
from ml.services.monitoring import alert_acknowledge, alert_resolve
from ml.services.training_runs import training_run_create
from ml.validation import figure_text
from rakuten.exceptions import ApplicationError


class ReadOnlyAdmin(admin.ModelAdmin):
    """History rows: staff read them; only the services write them."""

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.display(description="flags")
def model_flags(version: ModelVersion) -> str:
    badges = []
    if version.is_demo:
        badges.append(("#ffc107", "#000", "demo model", "demo model"))
    validation = version.validation
    if validation["fused"] and not validation["enough_data"]:
        n = "n unknown" if validation["n"] is None else f"n={validation['n']}"
        badges.append(
            (
                "#6c757d",
                "#fff",
                f"validated on fewer than {validation['min_products']} products",
                f"not enough data ({n})",
            )
        )
    if version.warning:
        badges.append(("#dc3545", "#fff", version.warning, "warning"))
    return format_html_join(
        " ",
        '<span style="background:{};color:{};padding:1px 6px;border-radius:8px;'
        'font-size:11px" title="{}">{}</span>',
        badges,
    )


@admin.register(ModelVersion)
class ModelVersionAdmin(ReadOnlyAdmin):
    """Versions come from training runs; the "activate" action calls the service
    (nothing else is written here, not even the name)."""

    list_display = (
        "id",
        "name",
        "status",
        model_flags,
        "backbone",
        "weighted_f1_display",
        "accuracy_display",
        "created_at",
        "activated_at",
    )
    list_display_links = ("id", "name")
    list_filter = ("status", "is_demo", "backbone")
    search_fields = ("name", "bundle_sha256")
    readonly_fields = (
        "status",
        model_flags,
        "warning",
        "bundle_path",
        "bundle_sha256",
        "backbone",
        "is_demo",
        "label_codes",
        "fusion_weight",
        "metrics",
        "gate",
        "lineage",
        "parent",
        "created_at",
        "activated_at",
    )
    actions = ["activate"]

    @admin.display(description="weighted F1")
    def weighted_f1_display(self, obj: ModelVersion) -> str:
        return figure_text(obj.validation["fused"], "weighted_f1")

    @admin.display(description="accuracy")
    def accuracy_display(self, obj: ModelVersion) -> str:
        return figure_text(obj.validation["fused"], "accuracy")

    @admin.action(description="Activate the selected version")
    def activate(self, request, queryset):
        if queryset.count() != 1:
            self.message_user(
                request, "Select exactly one version to activate.", messages.ERROR
            )
            return
        version = queryset.get()
        try:
            model_version_activate(
                version=version, user=request.user, reason="activated from the admin"
            )
        except ApplicationError as exc:
            self.message_user(request, exc.message, messages.ERROR)
        else:
            self.message_user(request, f"{version} is now the active model.")


@admin.register(TrainingRun)
class TrainingRunAdmin(ReadOnlyAdmin):
    list_display = (
        "id",
        "status",
        "kind",
        "progress_display",
        "stage",
        "model_version",
        "schedule_key",
        "attempts",
        "created_by",
        "created_at",
        "finished_at",
    )
    list_filter = ("status", "kind")
    search_fields = ("log", "error")
    list_select_related = ("model_version", "created_by")
    actions = ["restart"]

    @admin.display(description="progress")
    def progress_display(self, obj: TrainingRun) -> str:
        return f"{obj.progress:.0%}"

    @admin.action(description="Start a new training run with the same options")
    def restart(self, request, queryset):
        for run in queryset:
            try:
                new = training_run_create(
                    parameters=training_options_pick(run.parameters),
                    kind=run.kind,
                    created_by=request.user,
                )
            except ApplicationError as exc:
                self.message_user(
                    request, f"Run #{run.pk}: {exc.message}", messages.ERROR
                )
            else:
                self.message_user(request, f"Training run #{new.pk} is queued.")


@admin.register(Prediction)
class PredictionAdmin(ReadOnlyAdmin):
    list_display = (
        "id",
        "model_version",
        "predicted_category",
        "probability",
        "used",
        "latency_ms",
        "product",
        "requested_by",
        "created_at",
    )
    list_filter = ("used", "model_version__is_demo", "model_version")
    search_fields = ("product__title", "predicted_category__name")
    list_select_related = ("model_version", "predicted_category", "product")
    date_hierarchy = "created_at"

    @admin.display(description="probability")
    def probability(self, obj: Prediction) -> str:
        return f"{obj.top_k[0]['probability']:.0%}" if obj.top_k else "—"


@admin.register(ModelActivation)
class ModelActivationAdmin(ReadOnlyAdmin):
    list_display = (
        "created_at",
        "version",
        "previous",
        "is_rollback",
        "activated_by",
        "reason",
    )
    list_filter = ("is_rollback",)
    search_fields = ("reason", "version__name")
    list_select_related = ("version", "previous", "activated_by")


@admin.register(DatasetReset)
class DatasetResetAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "created_by", "products_count")
    search_fields = ("created_by__username",)
    list_select_related = ("created_by",)


@admin.register(MetricSnapshot)
class MetricSnapshotAdmin(ReadOnlyAdmin):
    list_display = (
        "computed_at",
        "model_version",
        "window_days",
        "count",
        "weighted_f1",
        "accuracy",
        "top1_kept_rate",
    )
    list_filter = ("model_version",)
    list_select_related = ("model_version",)


@admin.register(Alert)
class AlertAdmin(ReadOnlyAdmin):
    list_display = (
        "created_at",
        "kind",
        "category",
        "model_version",
        "status",
        "value",
        "threshold",
        "message",
    )
    list_filter = ("status", "kind")
    list_select_related = ("category", "model_version")
    actions = ["acknowledge", "resolve"]

    @admin.action(description="Acknowledge the selected alerts")
    def acknowledge(self, request, queryset):
        for alert in queryset:
            alert_acknowledge(alert=alert, user=request.user)
        self.message_user(request, f"{queryset.count()} alert(s) acknowledged.")

    @admin.action(description="Resolve the selected alerts")
    def resolve(self, request, queryset):
        alerts = list(queryset)
        for alert in alerts:
            alert_resolve(alert=alert, user=request.user)
        self.message_user(request, f"{len(alerts)} alert(s) resolved.")
