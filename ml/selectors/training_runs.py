"""Reads on training runs."""

from django.db.models import QuerySet

from ml.models import (
    TrainingRun,
)
from rakuten.exceptions import NotFoundError


def training_run_list(*, limit: int | None = 20) -> QuerySet[TrainingRun]:
    return TrainingRun.objects.select_related("model_version", "created_by")[:limit]


def training_run_get(*, pk: int) -> TrainingRun:
    try:
        return TrainingRun.objects.select_related("model_version").get(pk=pk)
    except TrainingRun.DoesNotExist as exc:
        raise NotFoundError("No such training run.") from exc


def training_run_get_activating() -> TrainingRun | None:
    """The newest queued or running run that activates its model when done (the
    starter model, or a run staff asked to activate), or None."""
    return (
        TrainingRun.objects.filter(
            status__in=[TrainingRun.Status.QUEUED, TrainingRun.Status.RUNNING],
            parameters__activate=True,
        )
        .order_by("-created_at", "-id")
        .first()
    )
