"""Reads on model versions and their activations."""

from django.conf import settings
from django.db.models import Count, QuerySet

from catalog.models import Category
from catalog.selectors import category_order_by_code
from ml.models import (
    ModelActivation,
    ModelVersion,
)
from ml.validation import validation_figure
from rakuten.exceptions import NotFoundError


def model_version_get_active() -> ModelVersion | None:
    return ModelVersion.objects.filter(status=ModelVersion.Status.ACTIVE).first()


def model_version_list() -> QuerySet[ModelVersion]:
    return ModelVersion.objects.select_related("training_run")


def model_version_get(*, pk: int) -> ModelVersion:
    try:
        return ModelVersion.objects.get(pk=pk)
    except ModelVersion.DoesNotExist as exc:
        raise NotFoundError("No such model version.") from exc


def model_version_get_by_ref(*, ref: str) -> ModelVersion:
    """A version by id, or the active one for ``"active"``."""
    from rakuten.exceptions import NotFoundError

    if ref == "active":
        version = model_version_get_active()
        if version is None:
            raise NotFoundError("No model is active.")
        return version
    if not ref.isdigit():
        raise NotFoundError(f"Invalid model version {ref!r}: give an id or 'active'.")
    version = ModelVersion.objects.filter(pk=int(ref)).first()
    if version is None or not version.bundle_sha256:
        raise NotFoundError(f"No trained model version #{ref}.")
    return version


def _category_figure(per_class: dict | None, *, version_validation: dict):
    """One category's validation F1 with its support as n (``ml.validation``): not
    enough data when the version's whole validation was too small."""
    if not per_class or per_class.get("f1") is None:
        return None
    figure = validation_figure(
        {"n": per_class.get("support"), "weighted_f1": per_class["f1"]},
        min_products=1,
        interval_below=settings.ML_VALIDATION_INTERVAL_BELOW,
    )
    if not version_validation["enough_data"]:
        figure["enough_data"] = False
        figure["min_products"] = version_validation["min_products"]
    return figure


def model_version_compare(*, versions: list[ModelVersion]) -> dict:
    """Validation metrics of ``versions`` side by side: the headline numbers (with
    their n and interval: ``validations``, ``ModelVersion.validation`` of each) and
    one row of F1 per category (None where a version has no such category; as
    figures with the category's support as n in ``figures``)."""
    fused = [(v.metrics or {}).get("fused") or {} for v in versions]
    validations = [v.validation for v in versions]
    codes = sorted({code for m in fused for code in (m.get("per_class") or {})})
    names = dict(Category.objects.filter(code__in=codes).values_list("code", "name"))
    return {
        "versions": versions,
        "validations": validations,
        "rows": [
            {
                "code": code,
                "name": names.get(code, code),
                "f1": [
                    ((m.get("per_class") or {}).get(code) or {}).get("f1")
                    for m in fused
                ],
                "figures": [
                    _category_figure(
                        (m.get("per_class") or {}).get(code),
                        version_validation=validation,
                    )
                    for m, validation in zip(fused, validations, strict=True)
                ],
            }
            for code in codes
        ],
    }


def model_version_rollback_target() -> tuple[ModelVersion | None, ModelVersion | None]:
    """What a rollback would do: the version active now and the one it would bring
    back (the previous one of the last activation; None when there is none), as
    ``model_version_rollback`` decides."""
    last = (
        ModelActivation.objects.select_related("version", "previous")
        .order_by("-created_at", "-id")
        .first()
    )
    if last is None:
        return model_version_get_active(), None
    return last.version, last.previous


def model_activation_list(*, limit: int = 20) -> QuerySet[ModelActivation]:
    return ModelActivation.objects.select_related(
        "version", "previous", "activated_by"
    )[:limit]


def model_version_evaluate_csv(
    *, version: ModelVersion, csv_path, images_dir=None, progress=None
) -> tuple[dict, list]:
    """Score a version on a generic-layout CSV without storing anything. Returns the
    report (``ml.core.evaluation.evaluate_items``) and the rows that could not be
    read."""
    from catalog.importers import ImportRow, RejectedRow, read_generic_csv
    from ml.core.evaluation import evaluate_items
    from ml.core.inference import get_predictor

    items, rejected = [], []
    for row in read_generic_csv(csv_path, images_dir=images_dir):
        if not isinstance(row, ImportRow):
            rejected.append(row)
        elif not row.category:
            rejected.append(RejectedRow(row.line, "no category"))
        else:
            items.append(
                {
                    "title": row.title,
                    "description": row.description,
                    "image": row.image_path,
                    "label": row.category,
                }
            )
    predictor = get_predictor(
        version.bundle_path, version.bundle_sha256, quantize=settings.PREDICT_QUANTIZE
    )
    return evaluate_items(predictor, items, progress=progress), rejected


def taxonomy_overview() -> list[dict]:
    """Every category (active first, then by code) with its products and
    whether the active model can predict it (``known``; None without an active
    model): the taxonomy page's table."""
    active = model_version_get_active()
    known = set(active.label_codes) if active else None
    categories = category_order_by_code(
        Category.objects.annotate(n_products=Count("products")), "-active"
    )
    return [
        {
            "category": category,
            "products": category.n_products,
            "known": None if known is None else category.code in known,
        }
        for category in categories
    ]
