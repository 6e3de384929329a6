"""Batch prediction jobs: one model version re-predicts a scope of items (products, or
the rows of a seller's listing import), split into chunks that Celery workers on the
``batch`` queue predict independently.

Exactly-once bookkeeping lives in the database, not in the broker:

- a chunk is marked done by one conditional UPDATE (``status=pending -> done``); a
  re-delivered chunk (``acks_late``: its worker died) finds it done, or redoes it;
- its results are unique per (job, item), so a redone chunk cannot write twice;
- the job's counters move with ``F()`` only when the chunk's UPDATE matched, and the job
  finishes with one conditional UPDATE (``chunks_done == chunks_total``), so its
  on-finish step runs once.
"""

from django.conf import settings
from django.db import models


class BatchJob(models.Model):
    class Scope(models.TextChoices):
        ALL = "all", "All products"
        CATEGORIES = "categories", "Products of some categories"
        UNLABELLED = "unlabelled", "The unlabelled pool"
        PRODUCTS = "products", "Given products"
        IMPORT = "import", "A listing import"
        MIGRATION = "migration", "A taxonomy migration"
        GATE = "gate", "The promotion gate's slice"

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        RUNNING = "running", "Running"
        FINISHED = "finished", "Finished"
        CANCELLED = "cancelled", "Cancelled"
        FAILED = "failed", "Failed"

    scope = models.CharField(max_length=20, choices=Scope.choices)
    # What the scope needs: {"categories": [codes]}, {"product_ids": [...]},
    # {"import_id": N}, {"migration_id": N}, {"candidate_id": N} ...
    scope_params = models.JSONField(default=dict, blank=True)
    model_version = models.ForeignKey(
        "ml.ModelVersion", on_delete=models.PROTECT, related_name="batch_jobs"
    )
    status = models.CharField(
        max_length=20, choices=Status.choices, default=Status.PENDING
    )
    chunk_size = models.PositiveIntegerField(default=500)
    total = models.PositiveIntegerField(default=0)
    done = models.PositiveIntegerField(default=0)
    chunks_total = models.PositiveIntegerField(default=0)
    chunks_done = models.PositiveIntegerField(default=0)
    # Results at or above this calibrated probability are applied; below, they wait
    # for a person (the review queue). NULL: nothing is applied (predict only).
    apply_threshold = models.FloatField(null=True, blank=True)
    error = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    # When a chunk was last taken or finished: a running job with pending chunks and
    # no progress for BATCH_STALE_SECONDS lost their messages or their worker (the
    # watchdog queues them again; chunks are idempotent).
    progress_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["status", "-created_at"], name="batchjob_status")
        ]

    def __str__(self) -> str:
        return f"batch job {self.pk} ({self.scope}, {self.status})"


class BatchChunk(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        DONE = "done", "Done"

    job = models.ForeignKey(BatchJob, on_delete=models.CASCADE, related_name="chunks")
    index = models.PositiveIntegerField()
    item_ids = models.JSONField(default=list)
    status = models.CharField(
        max_length=20, choices=Status.choices, default=Status.PENDING
    )
    attempts = models.PositiveSmallIntegerField(default=0)
    worker = models.CharField(max_length=255, blank=True)
    seconds = models.FloatField(null=True, blank=True)
    done_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["job", "index"]
        constraints = [
            models.UniqueConstraint(fields=["job", "index"], name="batchchunk_unique")
        ]

    def __str__(self) -> str:
        return f"chunk {self.index} of batch job {self.job_id} ({self.status})"


class BatchResult(models.Model):
    job = models.ForeignKey(BatchJob, on_delete=models.CASCADE, related_name="results")
    # The product's id, or the import row's id for an import job.
    item_id = models.PositiveBigIntegerField()
    product = models.ForeignKey(
        "catalog.Product",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="batch_results",
    )
    predicted_code = models.CharField(max_length=64, blank=True)
    probability = models.FloatField(default=0.0)
    # [{"code", "probability"}, ...] best first, calibrated; restricted and renormalised
    # to the item's candidate categories when the scope gives some.
    top_k = models.JSONField(default=list)
    used = models.CharField(max_length=20, blank=True)  # text, image or text+image
    applied = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["job", "item_id"]
        constraints = [
            models.UniqueConstraint(
                fields=["job", "item_id"], name="batchresult_unique"
            )
        ]
        indexes = [models.Index(fields=["job", "probability"], name="batchresult_conf")]

    def __str__(self) -> str:
        return f"{self.item_id} -> {self.predicted_code} ({self.probability:.2f})"
