"""The review queue: products a batch job could not decide with enough confidence
(below the job's threshold), and the sample of a taxonomy split that staff label so a
model can learn the new categories. A person accepts the first suggestion or chooses
another category; the decision is the product's confirmed label."""

from django.conf import settings
from django.db import models


class ReviewItem(models.Model):
    class Reason(models.TextChoices):
        LOW_CONFIDENCE = "low_confidence", "Below the confidence threshold"
        SPLIT_SAMPLE = "split_sample", "Sample of a split category"
        RETIRED = "retired", "Its category was retired"

    class Status(models.TextChoices):
        WAITING = "waiting", "Waiting"
        ACCEPTED = "accepted", "Accepted"
        CORRECTED = "corrected", "Corrected"
        # Its taxonomy migration was undone, or the product was decided elsewhere.
        WITHDRAWN = "withdrawn", "Withdrawn"

    product = models.ForeignKey(
        "catalog.Product", on_delete=models.CASCADE, related_name="review_items"
    )
    job = models.ForeignKey(
        "ml.BatchJob",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="review_items",
    )
    result = models.ForeignKey(
        "ml.BatchResult",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    # The product's move in a taxonomy migration, when it waits for one.
    move = models.ForeignKey(
        "catalog.CategoryMove",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="review_items",
    )
    # [{"code", "probability"}, ...] best first (the batch result's top_k).
    suggestions = models.JSONField(default=list, blank=True)
    # The first suggestion, in columns of its own for the queue's filters and order.
    suggested_code = models.CharField(max_length=64, blank=True)
    probability = models.FloatField(default=0.0)
    reason = models.CharField(max_length=20, choices=Reason.choices)
    status = models.CharField(
        max_length=20, choices=Status.choices, default=Status.WAITING
    )
    chosen_category = models.ForeignKey(
        "catalog.Category",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["probability", "id"]
        indexes = [
            models.Index(fields=["status", "probability"], name="reviewitem_queue")
        ]

    def __str__(self) -> str:
        return f"review of product {self.product_id} ({self.status})"
