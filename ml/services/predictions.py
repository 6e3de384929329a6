"""Predictions: ask the active model and store what it said with the version that
said it, and what it was said for; link a prediction to the listing that confirms it,
with the seller's choice."""

import hashlib

from django.conf import settings

from catalog.models import Category
from ml.metrics import prediction_observe
from ml.models import (
    ChoiceSource,
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
        predictor = get_predictor(
            version.bundle_path,
            version.bundle_sha256,
            quantize=settings.PREDICT_QUANTIZE,
        )
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
        name: (
            {**_suggestion(categories, *best), "share": result.shares.get(name, 0.0)}
            if best
            else None
        )
        for name, best in result.branch_top.items()
    }
    first = categories.get(result.top[0][0]) if result.top else None
    prediction = Prediction.objects.create(
        model_version=version,
        predicted_category=first,
        top_k=top,
        branches=branches,
        used=result.used,
        latency_ms=result.latency_ms,
        requested_by=user if getattr(user, "is_authenticated", False) else None,
        input_text_sha256=prediction_input_sha256(title=title, description=description),
        input_image_sha256=hashlib.sha256(image).hexdigest() if image else "",
    )
    prediction_observe(
        model_version_id=version.pk,
        used=result.used,
        latency_ms=result.latency_ms,
        top1=float(result.top[0][1]) if result.top else None,
    )
    return prediction


def prediction_input_sha256(*, title: str, description: str = "") -> str:
    """The text a prediction is made for, as a hash: the stripped title and
    description, as a product stores them."""
    text = f"{(title or '').strip()}\n{(description or '').strip()}"
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _suggestion(categories: dict[str, Category], code: str, probability: float) -> dict:
    category = categories.get(code)
    return {
        "category_id": category.pk if category else None,
        "code": code,
        "name": category.name if category else code,
        "probability": round(float(probability), 4),
    }


class ChoiceMismatchError(ApplicationError):
    code = "choice_mismatch"


def prediction_attach(
    *,
    prediction_id: int,
    product,
    user,
    choice_source: str = "",
    choice_rank: int | None = None,
) -> Prediction:
    """Link a stored prediction to the product that confirms it, with the seller's
    choice. Only the user who asked for the prediction may use it, and only once.

    ``choice_source`` says where the product's category came from: ``suggestion``
    (then ``choice_rank``, 1-based, must name the suggestion of that category: an
    inconsistent choice is refused), ``list`` or ``api``. The stored rank is always
    derived from the prediction's suggestions (NULL: the category was not
    suggested). ``for_saved_text`` records whether the product was saved with the
    text (and photo, when the model read it) the prediction was made for."""
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
    rank = prediction_rank_of(prediction=prediction, category_id=product.category_id)
    source = choice_source or ChoiceSource.LIST
    if source not in ChoiceSource.values:
        raise ChoiceMismatchError(f"Unknown choice source: {source}.")
    claimed = choice_rank if choice_rank is not None else rank
    if source == ChoiceSource.SUGGESTION and (rank is None or claimed != rank):
        message = (
            "The category you chose is not the suggestion you ticked: choose again."
        )
        raise ChoiceMismatchError(message, extra={"choice_rank": [message]})
    prediction.product = product
    prediction.chosen_category = product.category
    prediction.chosen_rank = rank
    prediction.chosen_source = source
    prediction.for_saved_text = _made_for(prediction, product)
    prediction.save(
        update_fields=[
            "product",
            "chosen_category",
            "chosen_rank",
            "chosen_source",
            "for_saved_text",
        ]
    )
    return prediction


def prediction_rank_of(
    *, prediction: Prediction, category_id: int | None
) -> int | None:
    """The 1-based rank of ``category_id`` among the prediction's suggestions, or
    None."""
    if category_id is None:
        return None
    for rank, suggestion in enumerate(prediction.top_k, start=1):
        if suggestion.get("category_id") == category_id:
            return rank
    return None


def _made_for(prediction: Prediction, product) -> bool | None:
    """Was ``prediction`` made for the product's saved text (and photo, when the
    model read one)? None for a prediction stored without its input's hashes."""
    if not prediction.input_text_sha256:
        return None
    text = prediction_input_sha256(title=product.title, description=product.description)
    if text != prediction.input_text_sha256:
        return False
    if "image" in (prediction.used or ""):
        return prediction.input_image_sha256 == (product.image_sha256 or "")
    return True
