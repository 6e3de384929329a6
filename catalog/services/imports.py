"""Product imports: a CSV in the Rakuten or the generic layout, in atomic batches,
idempotent, with bad rows reported by line; the demo catalogue on a fresh install."""

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from django.utils import timezone

from catalog.images import InvalidImageError, image_check
from catalog.importers import (
    ImportFileError,
    ImportRow,
    RejectedRow,
    read_generic_csv,
)
from catalog.models import Category, Product
from catalog.text import product_search_text

logger = logging.getLogger(__name__)


DEFAULT_BATCH_SIZE = 500


@dataclass
class ImportSummary:
    created: int = 0
    updated: int = 0
    skipped: int = 0
    rejected: int = 0
    categories_created: list[str] = field(default_factory=list)
    rejections: list[RejectedRow] = field(default_factory=list)

    def line(self) -> str:
        text = (
            f"created {self.created} / updated {self.updated} / "
            f"skipped {self.skipped} / rejected {self.rejected}"
        )
        if self.categories_created:
            text += f" ({len(self.categories_created)} categories created)"
        return text


def products_import(
    *,
    rows: Iterable[ImportRow | RejectedRow],
    create_categories: bool = False,
    batch_size: int = DEFAULT_BATCH_SIZE,
    on_progress: Callable[[int], None] | None = None,
) -> ImportSummary:
    """Create or update products from parsed rows, one transaction per batch.

    Idempotent: a product is found again by its external id, so a second run of the same
    file updates nothing and reports every row as skipped. A bad row is counted as
    rejected
    and skipped; an unknown category (without ``create_categories``) stops the import
    with
    ``ImportFileError`` and rolls back the batch it is in.
    """
    summary = ImportSummary()
    seen: dict[str, int] = {}
    categories = {c.code: c for c in Category.objects.all()}
    iterator = iter(rows)
    while batch := list(islice(iterator, batch_size)):
        accepted = _dedupe(batch, seen, summary)
        _import_batch(
            accepted, summary, categories, create_categories=create_categories
        )
        if on_progress:
            on_progress(len(batch))
    return summary


def _dedupe(batch, seen: dict[str, int], summary: ImportSummary) -> list[ImportRow]:
    accepted = []
    for row in batch:
        if isinstance(row, RejectedRow):
            _reject(summary, row)
        elif row.external_id in seen:
            _reject(
                summary,
                RejectedRow(
                    row.line,
                    f"duplicate product id {row.external_id!r} "
                    f"(first at line {seen[row.external_id]})",
                ),
            )
        else:
            seen[row.external_id] = row.line
            accepted.append(row)
    return accepted


def _reject(summary: ImportSummary, row: RejectedRow) -> None:
    summary.rejected += 1
    summary.rejections.append(row)


def _import_batch(
    rows: list[ImportRow],
    summary: ImportSummary,
    categories: dict[str, Category],
    *,
    create_categories: bool,
) -> None:
    stored_files: list[str] = []
    counts_before = (
        summary.created,
        summary.updated,
        summary.skipped,
        summary.rejected,
    )
    created_before = list(summary.categories_created)
    try:
        with transaction.atomic():
            existing = Product.objects.in_bulk(
                [r.external_id for r in rows], field_name="external_id"
            )
            now = timezone.now()
            to_create, to_update = [], []
            for row in rows:
                category = _resolve_category(
                    row, categories, summary, create=create_categories
                )
                try:
                    photo = _read_photo(row)
                except InvalidImageError as exc:
                    _reject(summary, RejectedRow(row.line, exc.message))
                    continue
                product = existing.get(row.external_id)
                if product is None:
                    product = Product(
                        external_id=row.external_id,
                        source=Product.Source.IMPORT,
                        confirmed_at=now if category else None,
                    )
                    to_create.append(product)
                elif _unchanged(product, row, category, photo):
                    summary.skipped += 1
                    continue
                else:
                    product.updated_at = now  # bulk_update skips auto_now
                    to_update.append(product)
                product.title = row.title
                product.description = row.description
                product.search_text = product_search_text(row.title, row.description)
                product.external_image_id = row.external_image_id
                if category != product.category:
                    product.confirmed_at = now if category else None
                product.category = category
                if photo and photo[1] != product.image_sha256:
                    name = default_storage.save(
                        f"products/import/{photo[1][:2]}/{photo[1]}{photo[2]}",
                        ContentFile(photo[0]),
                    )
                    stored_files.append(name)
                    product.image.name = name
                    product.image_sha256 = photo[1]
            Product.objects.bulk_create(to_create)
            Product.objects.bulk_update(
                to_update,
                [
                    "title",
                    "description",
                    "search_text",
                    "external_image_id",
                    "category",
                    "confirmed_at",
                    "image",
                    "image_sha256",
                    "updated_at",
                ],
            )
            summary.created += len(to_create)
            summary.updated += len(to_update)
    except BaseException:
        # The batch rolled back: forget its counts and the photos it stored.
        for name in stored_files:
            default_storage.delete(name)
        summary.created, summary.updated, summary.skipped, summary.rejected = (
            counts_before
        )
        for code in summary.categories_created[len(created_before) :]:
            categories.pop(code, None)
        summary.categories_created = created_before
        raise


def _resolve_category(
    row: ImportRow,
    categories: dict[str, Category],
    summary: ImportSummary,
    *,
    create: bool,
) -> Category | None:
    if not row.category:
        return None
    category = categories.get(row.category)
    if category is not None:
        return category
    if not create:
        raise ImportFileError(
            f"line {row.line}: unknown category {row.category!r} "
            "(import the taxonomy first, or pass --create-categories)"
        )
    category = Category.objects.create(code=row.category, name=row.category)
    categories[category.code] = category
    summary.categories_created.append(category.code)
    return category


def _read_photo(row: ImportRow) -> tuple[bytes, str, str] | None:
    if row.image_path is None:
        return None
    try:
        data = row.image_path.read_bytes()
    except OSError as exc:
        raise InvalidImageError(f"cannot read image {row.image_path.name}") from exc
    checked = image_check(
        data, filename=row.image_path.name, max_bytes=settings.PRODUCT_IMAGE_MAX_BYTES
    )
    return data, checked.sha256, checked.extension


def _unchanged(product: Product, row: ImportRow, category, photo) -> bool:
    return (
        product.title == row.title
        and product.description == row.description
        and product.category_id == (category.pk if category else None)
        and product.external_image_id == row.external_image_id
        and (photo is None or photo[1] == product.image_sha256)
    )


def products_import_generic_csv(
    *, csv_path: Path, images_dir: Path | None, create_categories: bool = False
) -> ImportSummary:
    """Import a generic-layout CSV in one call (used by the worker task)."""
    return products_import(
        rows=read_generic_csv(csv_path, images_dir=images_dir),
        create_categories=create_categories,
    )


def demo_catalogue_ensure(*, per_category: int = 40) -> ImportSummary | None:
    """On an empty catalogue, import the built-in French demo catalogue (written to
    ``var/demo/demo_catalogue.csv`` in the generic layout). Returns None otherwise."""
    from catalog.demo.generator import write_demo_csv

    if Product.objects.exists():
        return None
    path = Path(settings.VAR_DIR) / "demo" / "demo_catalogue.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    write_demo_csv(path, per_category=per_category)
    return products_import_generic_csv(csv_path=path, images_dir=None)
