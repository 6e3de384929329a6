"""Reads on the datasets: which confirmed products are new since the last reset."""

from datetime import datetime

from django.db.models import Max, QuerySet

from catalog.models import Product
from ml.models import (
    DatasetReset,
    TrainingRun,
)


def dataset_cutoff() -> datetime | None:
    """Since when products count as new: the later of the last successful training
    run's end and the last dataset reset (None: every confirmed product is new)."""
    trained = (
        TrainingRun.objects.filter(status=TrainingRun.Status.SUCCEEDED)
        .aggregate(at=Max("finished_at"))
        .get("at")
    )
    reset = DatasetReset.objects.aggregate(at=Max("created_at")).get("at")
    return max((at for at in (trained, reset) if at is not None), default=None)


def dataset_new_products() -> QuerySet[Product]:
    """Products confirmed (by a seller, an import or staff) after the cutoff: the data
    the next training run adds."""
    qs = Product.objects.filter(category__isnull=False, confirmed_at__isnull=False)
    cutoff = dataset_cutoff()
    return qs.filter(confirmed_at__gt=cutoff) if cutoff is not None else qs


def dataset_reset_list(*, limit: int = 20) -> QuerySet[DatasetReset]:
    return DatasetReset.objects.select_related("created_by")[:limit]
