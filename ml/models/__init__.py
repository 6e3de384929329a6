from django.conf import settings
from django.db import models

from ml.validation import validation_figures


def _validation(metrics: dict) -> dict:
    """``ml.validation.validation_figures`` of ``metrics``, with the settings'
    thresholds."""
    return validation_figures(
        metrics,
        min_products=settings.ML_MIN_VALIDATION_PRODUCTS,
        interval_below=settings.ML_VALIDATION_INTERVAL_BELOW,
    )


class ModelVersion(models.Model):
    """A trained model: an immutable bundle on disk (named by its sha256) plus what
    staff
    need to judge it. Exactly one version is active; the services switch it
    atomically."""

    class Status(models.TextChoices):
        TRAINING = "training", "Training"
        READY = "ready", "Ready"
        ACTIVE = "active", "Active"
        RETIRED = "retired", "Retired"

    name = models.CharField(max_length=200)
    status = models.CharField(
        max_length=20, choices=Status.choices, default=Status.TRAINING
    )
    # True for the active version, NULL otherwise: a unique index then allows at most
    # one
    # active row on every database (MySQL has no partial unique indexes).
    active_marker = models.BooleanField(null=True, unique=True, editable=False)
    bundle_path = models.CharField(max_length=500, blank=True)
    bundle_sha256 = models.CharField(max_length=64, null=True, blank=True, unique=True)
    backbone = models.CharField(max_length=40, blank=True)  # "" for a text-only model
    is_demo = models.BooleanField(default=False)
    # Categories of the model's output layer, in order (codes): the label set.
    label_codes = models.JSONField(default=list, blank=True)
    fusion_weight = models.FloatField(null=True, blank=True)
    metrics = models.JSONField(default=dict, blank=True)
    lineage = models.JSONField(default=dict, blank=True)
    # Set when the image backbone had no pretrained weights (random initialisation).
    warning = models.TextField(blank=True)
    # The promotion gate's decision on this candidate (``GateDecision.as_dict()``).
    gate = models.JSONField(default=dict, blank=True)
    parent = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="children",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    activated_at = models.DateTimeField(null=True, blank=True)
    # Its version number in MLflow's model registry ("": not mirrored yet).
    mlflow_version = models.CharField(max_length=20, blank=True, editable=False)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"#{self.pk} {self.name}"

    @property
    def weighted_f1(self) -> float | None:
        return (self.metrics.get("fused") or {}).get("weighted_f1")

    @property
    def accuracy(self) -> float | None:
        return (self.metrics.get("fused") or {}).get("accuracy")

    @property
    def validation(self) -> dict:
        """Each validation figure with its n, "enough data" and small-sample
        interval (``ml.validation``)."""
        return _validation(self.metrics)

    @property
    def fusion(self) -> dict | None:
        """How the version fuses its branches: ``weights`` ({branch: share}),
        ``temperatures``, and the validation ECE before and after calibration;
        ``None`` for a version trained before N-way fusion."""
        fusion = (self.metrics or {}).get("fusion")
        if not fusion:
            return None
        # like the F1, a calibration error measured on too few products says little
        enough = bool(self.validation.get("enough_data"))
        return {
            "weights": fusion.get("weights", {}),
            "temperatures": fusion.get("temperatures", {}),
            "fused_temperature": fusion.get("fused_temperature"),
            "ece_before": fusion.get("ece_before") if enough else None,
            "ece_after": fusion.get("ece_after") if enough else None,
        }

    def summary(self) -> dict:
        return {
            "id": self.pk,
            "name": self.name,
            "status": self.status,
            "sha256": self.bundle_sha256,
            "backbone": self.backbone or None,
            "is_demo": self.is_demo,
            "weighted_f1": self.weighted_f1,
            "accuracy": self.accuracy,
            "warning": self.warning or None,
        }


class ModelActivation(models.Model):
    """History of which version became active, when, by whom and why."""

    version = models.ForeignKey(
        ModelVersion, on_delete=models.PROTECT, related_name="activations"
    )
    previous = models.ForeignKey(
        ModelVersion,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    activated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    reason = models.CharField(max_length=200)
    is_rollback = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    # When MLflow's alias was moved for this activation (NULL: still to mirror).
    mlflow_synced_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.version} activated ({self.reason})"


class TrainingRun(models.Model):
    """One training job: its parameters, progress, log and outcome."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"
        # An incremental run with no new product to learn from.
        SKIPPED = "skipped", "Skipped"

    class Kind(models.TextChoices):
        FULL = "full", "Full"
        INCREMENTAL = "incremental", "Incremental"

    status = models.CharField(
        max_length=20, choices=Status.choices, default=Status.QUEUED
    )
    kind = models.CharField(max_length=20, choices=Kind.choices, default=Kind.FULL)
    parameters = models.JSONField(default=dict, blank=True)
    progress = models.FloatField(default=0.0)
    stage = models.CharField(max_length=40, blank=True)
    log = models.TextField(blank=True)
    error = models.TextField(blank=True)
    metrics = models.JSONField(default=dict, blank=True)
    model_version = models.OneToOneField(
        ModelVersion,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="training_run",
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    # The last message sent for the run (its Celery task id), and when the broker
    # accepted it: a queued run with no ``enqueued_at`` was committed while the broker
    # was unreachable, and the watchdog sends it again (the outbox).
    celery_task_id = models.CharField(max_length=255, blank=True)
    enqueued_at = models.DateTimeField(null=True, blank=True)
    # "celery@host 1234": the worker node and process executing the run, so that a
    # worker restarting under the same name takes back the runs its predecessor lost.
    worker = models.CharField(max_length=255, blank=True)
    # "incremental:2026-W48" for a scheduled run: the unique index makes a second
    # delivery of the same scheduled retraining find the run instead of adding one.
    schedule_key = models.CharField(
        max_length=64, null=True, blank=True, unique=True, editable=False
    )
    # How many times the run was queued again after its worker went silent.
    attempts = models.PositiveSmallIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    # The run's mirror in MLflow (ml.services.mlflow_mirror); NULL synced_at: pending.
    mlflow_run_id = models.CharField(max_length=64, blank=True, editable=False)
    mlflow_synced_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"Training run #{self.pk} ({self.status})"

    @property
    def validation(self) -> dict:
        """As ``ModelVersion.validation``, of the run's metrics."""
        return _validation(self.metrics)


class ChoiceSource(models.TextChoices):
    """Where the seller's category came from."""

    SUGGESTION = "suggestion", "A suggestion"
    LIST = "list", "The list of categories"
    API = "api", "The API"
    IMPORT = "import", "A listing import"


class Prediction(models.Model):
    """A suggestion the model made, with the version that made it. A product saved from
    the suggestion points back at it, so real-versus-predicted accumulates."""

    product = models.ForeignKey(
        "catalog.Product",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="predictions",
    )
    model_version = models.ForeignKey(
        ModelVersion, on_delete=models.PROTECT, related_name="predictions"
    )
    predicted_category = models.ForeignKey(
        "catalog.Category",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    # [{"code", "name", "category_id", "probability"}, ...] best first.
    top_k = models.JSONField(default=list)
    branches = models.JSONField(default=dict, blank=True)
    used = models.CharField(max_length=20, blank=True)  # text, image or text+image
    latency_ms = models.FloatField()
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    # What the prediction was made for: sha256 of the stripped title and description
    # (``prediction_input_sha256``) and of the photo's bytes ("" without a photo).
    input_text_sha256 = models.CharField(max_length=64, blank=True, editable=False)
    input_image_sha256 = models.CharField(max_length=64, blank=True, editable=False)
    # The seller's choice, stored when a listing confirms the prediction: the category
    # chosen, its rank among the suggestions (1 = the first; NULL = not suggested),
    # and how it was chosen (a suggestion's radio, the list, or the API).
    chosen_category = models.ForeignKey(
        "catalog.Category",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    chosen_rank = models.PositiveSmallIntegerField(null=True, blank=True)
    chosen_source = models.CharField(
        max_length=20, choices=ChoiceSource.choices, blank=True
    )
    # Whether the saved product's text (and photo, when the model read it) is the one
    # the prediction was made for: False when the seller edited after choosing. Only
    # predictions for the saved text count in the live metrics. NULL: not linked, or
    # linked before this was recorded.
    for_saved_text = models.BooleanField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["model_version", "created_at"])]

    def __str__(self) -> str:
        return f"Prediction #{self.pk} by {self.model_version_id}"

    @property
    def shares(self) -> dict[str, float]:
        """Each branch that saw the product and its share of the fusion (empty for
        predictions made before shares were recorded)."""
        return {
            name: float(branch["share"])
            for name, branch in (self.branches or {}).items()
            if branch and branch.get("share")
        }

    @property
    def kept(self) -> bool:
        """The seller kept the model's first suggestion for the text they saved."""
        return bool(self.for_saved_text) and self.chosen_rank == 1


class DatasetReset(models.Model):
    """Staff declared the new products collected so far as "seen": the count of new
    products starts again from zero. Nothing is deleted; the reset is only a mark in
    time (with how many new products it covered), so the history stays auditable."""

    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    products_count = models.PositiveIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"Dataset reset #{self.pk} ({self.products_count} products)"


class MetricSnapshot(models.Model):
    """The live metrics of a model version over a window of days, frozen at a moment
    (``ml.selectors.model_metrics_window``), so their history can be watched."""

    model_version = models.ForeignKey(
        ModelVersion, on_delete=models.CASCADE, related_name="snapshots"
    )
    window_days = models.PositiveSmallIntegerField()
    computed_at = models.DateTimeField(auto_now_add=True)
    count = models.PositiveIntegerField()
    accuracy = models.FloatField(null=True, blank=True)
    weighted_f1 = models.FloatField(null=True, blank=True)
    top1_kept_rate = models.FloatField(null=True, blank=True)
    # [{"code", "name", "f1", "support"}, ...]
    per_category = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["-computed_at", "-id"]

    def __str__(self) -> str:
        return f"Snapshot #{self.pk} of {self.model_version_id} ({self.window_days} d)"


class Alert(models.Model):
    """The live weighted F1 (global, or of one category) fell too far below the
    validation figure of the model version. At most one unresolved alert per
    kind/category: ``open_key`` is set while unresolved, NULL after (a unique index
    works the same on every database, unlike a partial one)."""

    class Kind(models.TextChoices):
        GLOBAL = "global", "Global"
        CATEGORY = "category", "Category"
        # Products confirmed in a category the model cannot predict (a taxonomy change).
        UNKNOWN_CATEGORY = "unknown_category", "Category unknown to the model"

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        ACKNOWLEDGED = "acknowledged", "Acknowledged"
        RESOLVED = "resolved", "Resolved"

    kind = models.CharField(max_length=20, choices=Kind.choices)
    category = models.ForeignKey(
        "catalog.Category",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    model_version = models.ForeignKey(
        ModelVersion, on_delete=models.PROTECT, related_name="alerts"
    )
    snapshot = models.ForeignKey(
        MetricSnapshot,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="alerts",
    )
    status = models.CharField(
        max_length=20, choices=Status.choices, default=Status.OPEN
    )
    open_key = models.CharField(
        max_length=64, null=True, blank=True, unique=True, editable=False
    )
    value = models.FloatField()
    threshold = models.FloatField()
    message = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    resolved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"Alert #{self.pk} ({self.kind}, {self.status})"


class SellerLabelReview(models.Model):
    """The label-quality guard flagged a seller: their confirmed categories contradict
    a confident model far more often than the norm. While the review is open or
    excluded, the seller's listings are left out of the training data; staff clear it
    (the listings come back) or exclude them. ``active_key`` is the seller's id while
    the review is open or excluded, NULL once cleared: at most one such review per
    seller, on every database."""

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        CLEARED = "cleared", "Cleared"
        EXCLUDED = "excluded", "Excluded"

    seller = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="label_reviews",
    )
    status = models.CharField(
        max_length=20, choices=Status.choices, default=Status.OPEN
    )
    active_key = models.CharField(
        max_length=64, null=True, blank=True, unique=True, editable=False
    )
    # listings, confident_overrides, rate, confidence, platform_rate, since
    stats = models.JSONField(default=dict, blank=True)
    opened_at = models.DateTimeField(auto_now_add=True)
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    reviewed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-opened_at", "-id"]

    def __str__(self) -> str:
        return f"Label review #{self.pk} of seller {self.seller_id} ({self.status})"


# Batch prediction jobs (ml.models.batch) are models of this app too.
from ml.models.batch import BatchChunk, BatchJob, BatchResult  # noqa: E402
from ml.models.review import ReviewItem  # noqa: E402

__all__ = [
    "Alert",
    "BatchChunk",
    "BatchJob",
    "BatchResult",
    "ChoiceSource",
    "DatasetReset",
    "MetricSnapshot",
    "ModelActivation",
    "ModelVersion",
    "Prediction",
    "ReviewItem",
    "SellerLabelReview",
    "TrainingRun",
]
