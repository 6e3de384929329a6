"""Datasets: reset the count of new products."""

from django.db import transaction

from audit.services import audit_event_record
from ml.models import (
    DatasetReset,
)
from ml.selectors.datasets import dataset_new_products
from rakuten.exceptions import ApplicationError


@transaction.atomic
def dataset_reset(*, user, confirm: bool) -> DatasetReset:
    """Start counting new products from zero ("reset datasets"). Non-destructive: no
    product is deleted or changed; the reset records how many new products it covered,
    and ``dataset_new_products`` counts from it."""
    if not confirm:
        raise ApplicationError(
            "Confirm the reset: tick “I understand”.",
            extra={"confirm": ["Tick this box to reset."]},
        )
    reset = DatasetReset.objects.create(
        created_by=user, products_count=dataset_new_products().count()
    )
    audit_event_record(
        verb="dataset.reset",
        obj=reset,
        actor=user,
        message=f"{reset.products_count} new products marked as seen",
    )
    return reset
