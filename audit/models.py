from django.conf import settings
from django.db import models


class AuditEvent(models.Model):
    """Who did what to the platform's models and data, written by the services."""

    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    verb = models.CharField(max_length=40)
    object_type = models.CharField(max_length=40, blank=True)
    object_id = models.CharField(max_length=40, blank=True)
    message = models.TextField(blank=True)
    data = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        # The table was created by the ml app (ml/0006) before auditing became an
        # app of its own; the model moved, the table stayed.
        db_table = "ml_auditevent"
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(
                fields=["verb", "created_at"], name="ml_auditeve_verb_04989f_idx"
            )
        ]

    def __str__(self) -> str:
        return f"{self.verb} {self.object_type} #{self.object_id}"
