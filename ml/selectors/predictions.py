"""Reads on stored predictions."""

from ml.models import (
    Prediction,
)


def prediction_get_unused(*, pk: int, user) -> Prediction | None:
    """A prediction ``user`` asked for and has not used for a listing yet (to show the
    suggestions again when the listing form comes back with an error)."""
    return (
        Prediction.objects.select_related("model_version")
        .filter(pk=pk, requested_by=user, product__isnull=True)
        .first()
    )
