"""Predict a list of batch items with one model version: the prediction step of a
batch chunk, and of the promotion gate's slice.

Items go through the process-wide predictor (loaded once per process) in forward
passes of ``BATCH_PREDICT_BATCH_SIZE``. One bad item never sinks its batch: when a
batch fails, its items are predicted one by one, an unreadable photo is dropped (the
text decides), and an item with nothing to predict from gets an empty prediction.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from django.conf import settings

from ml.models import ModelVersion
from ml.services.batch_scopes import BatchItem
from rakuten.exceptions import ApplicationError


@dataclass(frozen=True)
class ItemPrediction:
    """``code`` "" when the item had nothing to predict from (no text, no photo)."""

    item_id: int
    code: str
    probability: float
    top: list[tuple[str, float]]
    used: str


def batch_items_predict(
    *,
    version: ModelVersion,
    items: Sequence[BatchItem],
    top_k: int = 3,
    batch_size: int | None = None,
) -> list[ItemPrediction]:
    """``version``'s prediction of every item, in order. An item with
    ``candidates`` is predicted over those label codes only (``ml.core.fusion.
    restrict``; unknown codes are ignored, and none known means no restriction).

    Raises ``ApplicationError`` when the version's bundle cannot be loaded."""
    from ml.core.errors import MLError

    predictor = _predictor(version)
    try:
        predictor.load()
    except MLError as exc:
        raise ApplicationError(f"Model version #{version.pk}: {exc}") from exc
    labels = predictor.labels
    size = max(int(batch_size or settings.BATCH_PREDICT_BATCH_SIZE), 1)
    predictions: list[ItemPrediction] = []
    for start in range(0, len(items), size):
        part = items[start : start + size]
        # a restricted item needs every label's probability to renormalise
        k = len(labels) if any(item.candidates for item in part) else top_k
        for item, result in zip(part, _predict_part(predictor, part, k), strict=True):
            predictions.append(_prediction(item, result, labels, top_k))
    return predictions


def batch_predictor_warm() -> ModelVersion | None:
    """Load the active version's predictor (the batch variant, ``BATCH_QUANTIZE``)
    into this process, so that a batch worker's first chunk does not pay the load.
    Returns the version, or None when no version is active.

    Raises ``ApplicationError`` when its bundle cannot be loaded."""
    from ml.core.errors import MLError
    from ml.selectors.model_versions import model_version_get_active

    version = model_version_get_active()
    if version is None or not version.bundle_sha256:
        return None
    try:
        _predictor(version).load()
    except MLError as exc:
        raise ApplicationError(f"Model version #{version.pk}: {exc}") from exc
    return version


def _predictor(version: ModelVersion):
    from ml.core.inference import get_predictor

    if not version.bundle_sha256:
        raise ApplicationError(f"Model version #{version.pk} has no trained bundle.")
    return get_predictor(
        version.bundle_path,
        version.bundle_sha256,
        quantize=settings.BATCH_QUANTIZE,
    )


def _as_input(item: BatchItem, *, image: bool = True) -> dict:
    return {
        "title": item.title,
        "description": item.description,
        "image": item.image if image else None,
    }


def _predict_part(predictor, items: Sequence[BatchItem], k: int) -> list:
    """The predictor's results for ``items`` (None for an item with nothing to
    predict from), in one forward pass when every item can be read."""
    from ml.core.errors import MLError

    try:
        return predictor.predict_batch([_as_input(i) for i in items], top_k=k)
    except MLError:
        pass  # an unreadable photo or an empty item: one by one
    results = []
    for item in items:
        result = None
        for with_image in (True, False) if item.image else (False,):
            try:
                result = predictor.predict_batch(
                    [_as_input(item, image=with_image)], top_k=k
                )[0]
                break
            except MLError:
                continue
        results.append(result)
    return results


def _prediction(
    item: BatchItem, result, labels: list[str], top_k: int
) -> ItemPrediction:
    if result is None:
        return ItemPrediction(
            item_id=item.item_id, code="", probability=0.0, top=[], used=""
        )
    top = [(code, float(p)) for code, p in result.top]
    if item.candidates:
        top = _restricted(top, labels, item.candidates)
    top = top[: max(top_k, 1)]
    return ItemPrediction(
        item_id=item.item_id,
        code=top[0][0],
        probability=top[0][1],
        top=top,
        used=result.used,
    )


def _restricted(
    top: list[tuple[str, float]], labels: list[str], candidates: Sequence[str]
) -> list[tuple[str, float]]:
    import torch

    from ml.core.fusion import restrict

    index = {code: i for i, code in enumerate(labels)}
    allowed = [index[code] for code in candidates if code in index]
    if not allowed:
        return top
    probs = torch.zeros(len(labels), dtype=torch.float64)
    for code, p in top:
        probs[index[code]] = p
    values = restrict(probs, allowed).tolist()
    order = sorted(allowed, key=lambda i: (-values[i], i))
    return [(labels[i], float(values[i])) for i in order]
