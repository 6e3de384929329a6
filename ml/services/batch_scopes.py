"""What a batch job predicts: its scope.

A scope says which items a job covers (their ids, in a stable order), how to read a
chunk of them in bulk, how to check the job's parameters, what to do with a chunk's
results once they are written, what to do once when the whole job is over, and
(optionally) what to do when it fails or is cancelled. The engine
(``ml.services.batch``) does the rest: chunks, Celery tasks, exactly-once
bookkeeping, prediction.

Scopes are named in :data:`SCOPES` as ``"module:Class"`` and imported on first use,
so a scope can live in the app that owns its items (a taxonomy migration, a listing
import) without the engine importing it. To plug a scope in: write a class with the
methods of :class:`BatchScope` (``on_stop`` may be left out), add it to
:data:`SCOPES` and to ``BatchJob.Scope``. See docs/batch.md.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from django.conf import settings
from django.db.models import QuerySet

from catalog.models import Category, Product
from catalog.selectors import unlabelled_pool
from ml.models import BatchResult
from ml.services.review_queue import review_items_from_results
from rakuten.exceptions import ApplicationError

if TYPE_CHECKING:
    from ml.models import BatchJob


@dataclass(frozen=True)
class BatchItem:
    """One thing to predict. ``candidates``: predict over these label codes only
    (the fused probabilities of the others are zeroed and the rest renormalised)."""

    item_id: int
    title: str
    description: str
    image: Path | None  # a readable file, or None
    product_id: int | None = None
    candidates: tuple[str, ...] | None = None


class BatchScope(Protocol):
    def item_ids(self, job: BatchJob) -> list[int]:
        """Every item of the job, in a stable order."""

    def items(self, job: BatchJob, ids: list[int]) -> list[BatchItem]:
        """The items ``ids`` (one chunk), read in bulk."""

    def validate(self, params: dict) -> dict:
        """Clean parameters, or raise ``ApplicationError``."""

    def on_results(self, job: BatchJob, results: list[BatchResult]) -> None:
        """Called inside the chunk's transaction once its results are written (and
        only then: a chunk delivered twice calls it once)."""

    def on_finish(self, job: BatchJob) -> None:
        """Called once per job, inside the transaction that finishes it."""

    def on_stop(self, job: BatchJob, status: str) -> None:
        """Optional: called when the job fails or is cancelled (``status``), inside
        the transaction that marks it so; once per stop (a resumed job may stop
        again). A scope without it does nothing."""


SCOPES: dict[str, str] = {
    "all": "ml.services.batch_scopes:AllProductsScope",
    "categories": "ml.services.batch_scopes:CategoriesScope",
    "unlabelled": "ml.services.batch_scopes:UnlabelledScope",
    "products": "ml.services.batch_scopes:ProductsScope",
    "gate": "ml.services.batch_scopes:GateScope",
    "migration": "ml.services.taxonomy_migrations:MigrationScope",
    "import": "ml.services.listing_suggestions:ImportScope",
}


def batch_scope_get(name: str) -> BatchScope:
    """The scope called ``name`` (a new instance), or ``ApplicationError`` when the
    name is unknown or its module is not installed."""
    target = SCOPES.get(name)
    if target is None:
        raise ApplicationError(
            f"Unknown batch scope {name!r}: choose one of {', '.join(SCOPES)}."
        )
    module_name, _, class_name = target.partition(":")
    try:
        cls = getattr(importlib.import_module(module_name), class_name)
    except (ImportError, AttributeError) as exc:
        raise ApplicationError(
            f"The batch scope {name!r} is not available on this platform "
            f"({target} cannot be imported)."
        ) from exc
    return cls()


def product_image_file(image: str) -> Path | None:
    """The stored photo ``image`` (a path under MEDIA_ROOT) when it is a readable
    file, else None (the product is then predicted from its text)."""
    if not image:
        return None
    path = Path(settings.MEDIA_ROOT) / image
    return path if path.is_file() else None


class ProductScope:
    """The product scopes' common part: products read in bulk, in pk order. With a
    job ``apply_threshold``, a result at or above it is marked ``applied``: accepted
    without review. A plain re-categorisation never overwrites a product's category
    (a confirmed label is a person's decision); the results below the threshold are
    what a review queue shows."""

    def queryset(self, params: dict) -> QuerySet[Product]:
        raise NotImplementedError

    def validate(self, params: dict) -> dict:
        return {}

    def item_ids(self, job: BatchJob) -> list[int]:
        return list(
            self.queryset(job.scope_params).order_by("pk").values_list("pk", flat=True)
        )

    def items(self, job: BatchJob, ids: list[int]) -> list[BatchItem]:
        rows = Product.objects.filter(pk__in=ids).values_list(
            "pk", "title", "description", "image"
        )
        return [
            BatchItem(
                item_id=pk,
                title=title,
                description=description,
                image=product_image_file(image),
                product_id=pk,
            )
            for pk, title, description, image in sorted(rows)
        ]

    def on_results(self, job: BatchJob, results: list[BatchResult]) -> None:
        """With a threshold: results at or above it are marked applied (the
        product's confirmed category is left alone), the others wait for a person
        in the review queue."""
        if job.apply_threshold is None:
            return
        BatchResult.objects.filter(
            job=job,
            item_id__in=[result.item_id for result in results],
            probability__gte=job.apply_threshold,
        ).exclude(predicted_code="").update(applied=True)
        review_items_from_results(job=job, results=results)

    def on_finish(self, job: BatchJob) -> None:
        return None

    def on_stop(self, job: BatchJob, status: str) -> None:
        return None


class AllProductsScope(ProductScope):
    def queryset(self, params: dict) -> QuerySet[Product]:
        return Product.objects.all()


class UnlabelledScope(ProductScope):
    def queryset(self, params: dict) -> QuerySet[Product]:
        return unlabelled_pool()


def _codes(params: dict, key: str) -> list[str]:
    codes = params.get(key)
    if (
        not isinstance(codes, list)
        or not codes
        or not all(isinstance(c, str) and c.strip() for c in codes)
    ):
        raise ApplicationError(f"Give {key} as a non-empty list of category codes.")
    return sorted({c.strip() for c in codes})


class CategoriesScope(ProductScope):
    """``{"categories": [codes]}``: the products labelled with one of them."""

    def validate(self, params: dict) -> dict:
        codes = _codes(params, "categories")
        known = set(
            Category.objects.filter(code__in=codes).values_list("code", flat=True)
        )
        unknown = [code for code in codes if code not in known]
        if unknown:
            raise ApplicationError(f"Unknown category: {', '.join(unknown)}.")
        return {"categories": codes}

    def queryset(self, params: dict) -> QuerySet[Product]:
        return Product.objects.filter(category__code__in=params["categories"])


class ProductsScope(ProductScope):
    """``{"product_ids": [ids]}``: the given products (those that exist)."""

    def validate(self, params: dict) -> dict:
        ids = params.get("product_ids")
        if (
            not isinstance(ids, list)
            or not ids
            or not all(isinstance(i, int) and not isinstance(i, bool) for i in ids)
        ):
            raise ApplicationError("Give product_ids as a non-empty list of ids.")
        ids = sorted(set(ids))
        found = set(Product.objects.filter(pk__in=ids).values_list("pk", flat=True))
        missing = [str(i) for i in ids if i not in found]
        if missing:
            raise ApplicationError(f"No such product: {', '.join(missing[:10])}.")
        return {"product_ids": ids}

    def queryset(self, params: dict) -> QuerySet[Product]:
        return Product.objects.filter(pk__in=params["product_ids"])


class GateScope(ProductScope):
    """The promotion gate's evaluation slice (``{"candidate_id": N}``, for the
    record): the slice's products, predicted by the job's version."""

    def validate(self, params: dict) -> dict:
        candidate = params.get("candidate_id")
        if candidate is not None and not isinstance(candidate, int):
            raise ApplicationError("candidate_id must be a model version id.")
        return {"candidate_id": candidate} if candidate is not None else {}

    def queryset(self, params: dict) -> QuerySet[Product]:
        from ml.services.training_data import evaluation_slice_products

        return evaluation_slice_products()
