"""Predictions: ask the active model and store what it said with the version that
said it; link a prediction to the listing that confirms it."""

from catalog.models import Category
from ml.models import (
    Prediction,
)
from ml.selectors.model_versions import model_version_get_active
from rakuten.exceptions import ApplicationError


class NoActiveModelError(ApplicationError):
    code = "no_active_model"


def prediction_create(
    *,
    title: str,
    description: str = "",
    image: bytes | None = None,
    user=None,
    top_k: int = 3,
) -> Prediction:
    """Ask the active model for the top-k categories and store the prediction with the
    version that made it."""
    from ml.core.errors import MLError
    from ml.core.inference import get_predictor

    version = model_version_get_active()
    if version is None:
        raise NoActiveModelError("No model is active yet: choose the category by hand.")
    if not (title or "").strip() and not (description or "").strip() and not image:
        raise ApplicationError("Give a title, a description or a photo.")
    try:
        predictor = get_predictor(version.bundle_path, version.bundle_sha256)
        result = predictor.predict(
            title=title, description=description, image=image, top_k=top_k
        )
    except MLError as exc:
        raise ApplicationError(str(exc)) from exc
    categories = {
        c.code: c for c in Category.objects.filter(code__in=version.label_codes)
    }
    top = [
        _suggestion(categories, label, probability) for label, probability in result.top
    ]
    branches = {
        name: (_suggestion(categories, *best) if best else None)
        for name, best in result.branch_top.items()
    }
    first = categories.get(result.top[0][0]) if result.top else None
    return Prediction.objects.create(
        model_version=version,
        predicted_category=first,
        top_k=top,
        branches=branches,
        used=result.used,
        latency_ms=result.latency_ms,
        requested_by=user if getattr(user, "is_authenticated", False) else None,
    )


def _suggestion(categories: dict[str, Category], code: str, probability: float) -> dict:
    category = categories.get(code)
    return {
        "category_id": category.pk if category else None,
        "code": code,
        "name": category.name if category else code,
        "probability": round(float(probability), 4),
    }


def prediction_attach(*, prediction_id: int, product, user) -> Prediction:
    """Link a stored prediction to the product that confirms it. Only the user who asked
    for the prediction may use it, and only once."""
    prediction = (
        Prediction.objects.select_for_update()
        .filter(pk=prediction_id, requested_by=user, product__isnull=True)
        .first()
    )
    if prediction is None:
        raise ApplicationError(
            "Unknown or already used prediction.",
            extra={"prediction": ["Unknown or already used prediction."]},
        )
    prediction.product = product
    prediction.save(update_fields=["product"])
    return prediction
