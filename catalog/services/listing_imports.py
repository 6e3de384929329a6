"""Sellers' listing imports: a CSV and a zip of photos are staged as rows, the model
suggests each row's category (a batch job of the ml app, queued by task name), the
seller reviews, and only the confirmation creates or updates products.

catalog never imports ml: the suggestion job is queued by name
(``ml.tasks.listing_import_suggest``). The confirmation is in
``catalog.services.listing_import_confirmation``.
"""

import contextlib
import hashlib
import os
import uuid
from datetime import timedelta
from pathlib import PurePosixPath

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from django.utils import timezone

from audit.services import audit_event_record
from catalog.listing_files import (
    ListingFileError,
    ListingLimits,
    PhotoArchive,
    RowRejection,
    listing_csv_read,
    sizes_check,
)
from catalog.models import Category, ListingImport, ListingImportRow, Product
from catalog.services.products import product_category_check
from rakuten.exceptions import ApplicationError, NotFoundError
from rakuten.queueing import enqueue_on_commit

FOLDER_ROOT = "listing-imports"
SUGGEST_TASK = "ml.tasks.listing_import_suggest"
# Imports that still hold uploads (and may expire).
OPEN_STATUSES = (
    ListingImport.Status.UPLOADED,
    ListingImport.Status.SUGGESTING,
    ListingImport.Status.READY,
    ListingImport.Status.FAILED,
)
Decision = ListingImportRow.Decision


class ImportNotReadyError(ApplicationError):
    code = "import_not_ready"


def listing_import_create(*, seller, csv_file, zip_file=None) -> ListingImport:
    """Stage a seller's CSV (and zip of photos) and queue the suggestions. Every
    limit is checked before anything is stored; a refused file stores nothing; bad
    rows are kept in ``rejections`` (line, reason) and the others go on."""
    limits = ListingLimits.from_settings()
    sizes_check(
        csv_size=csv_file.size,
        zip_size=zip_file.size if zip_file is not None else None,
        limits=limits,
    )
    csv_file.seek(0)
    rows, rejections = listing_csv_read(csv_file.read(), max_rows=limits.max_rows)
    archive = PhotoArchive(zip_file, limits=limits) if zip_file is not None else None
    folder = f"{FOLDER_ROOT}/{uuid.uuid4().hex}"
    try:
        staged = _photos_stage(rows, rejections, archive, folder)
        if not staged:
            first = "; ".join(f"line {r.line}: {r.reason}" for r in rejections[:5])
            raise ListingFileError(
                f"No row of the CSV can be imported ({first or 'it has no rows'})."
            )
        listing_import = _rows_store(
            seller=seller,
            staged=staged,
            rejections=rejections,
            folder=folder,
            csv_name=csv_file.name or "",
            zip_name=(zip_file.name or "") if zip_file is not None else "",
        )
    except BaseException:
        folder_delete(folder)
        raise
    finally:
        if archive is not None:
            archive.close()
    return listing_import


def _photos_stage(rows, rejections, archive, folder) -> list[tuple]:
    """(row, storage name, sha256) for each row that can be staged; a row naming a
    photo the zip lacks is rejected."""
    stored: dict[str, tuple[str, str]] = {}
    staged = []
    for row in rows:
        if not row.image:
            staged.append((row, "", ""))
            continue
        info = archive.find(row.image) if archive is not None else None
        if info is None:
            where = "the zip" if archive is not None else "any zip: none was uploaded"
            rejections.append(
                RowRejection(row.line, f"The photo {row.image} is not in {where}.")
            )
            continue
        if info.filename not in stored:
            data, extension = archive.photo(info, line=row.line)
            name = default_storage.save(
                f"{folder}/{uuid.uuid4().hex}{extension}", ContentFile(data)
            )
            stored[info.filename] = (name, hashlib.sha256(data).hexdigest())
        staged.append((row, *stored[info.filename]))
    rejections.sort(key=lambda r: r.line)
    return staged


@transaction.atomic
def _rows_store(*, seller, staged, rejections, folder, csv_name, zip_name):
    listing_import = ListingImport.objects.create(
        seller=seller,
        csv_name=csv_name[:255],
        zip_name=zip_name[:255],
        folder=folder,
        rows_total=len(staged),
        rows_rejected=len(rejections),
        rejections=[r.as_dict() for r in rejections],
        threshold=settings.LISTING_IMPORT_THRESHOLD,
        expires_at=timezone.now()
        + timedelta(hours=settings.LISTING_IMPORT_EXPIRY_HOURS),
    )
    existing = _products_by_sku(seller, [row.sku for row, _, _ in staged])
    ListingImportRow.objects.bulk_create(
        [
            ListingImportRow(
                listing_import=listing_import,
                line=row.line,
                sku=row.sku,
                title=row.title,
                description=row.description,
                image=image,
                image_sha256=sha256,
                product_id=existing.get(row.sku),
            )
            for row, image, sha256 in staged
        ],
        batch_size=500,
    )
    audit_event_record(
        verb="listing_import.uploaded",
        obj=listing_import,
        actor=seller,
        message=f"{len(staged)} rows staged, {len(rejections)} rejected",
        data={"rows": len(staged), "rejected": len(rejections)},
    )
    enqueue_on_commit(SUGGEST_TASK, listing_import.pk)
    return listing_import


def _products_by_sku(seller, skus: list[str]) -> dict[str, int]:
    found: dict[str, int] = {}
    for start in range(0, len(skus), 500):
        found.update(
            Product.objects.filter(
                seller=seller, sku__in=skus[start : start + 500]
            ).values_list("sku", "pk")
        )
    return found


# --- Review ---------------------------------------------------------------------------


def _ready_check(listing_import: ListingImport) -> None:
    if listing_import.status != ListingImport.Status.READY:
        raise ImportNotReadyError(
            f"This import is {listing_import.get_status_display().lower()}: it can "
            "be reviewed and confirmed only when its suggestions are ready."
        )


def _row_get(listing_import: ListingImport, row_id: int) -> ListingImportRow:
    row = listing_import.rows.filter(pk=row_id).first()
    if row is None:
        raise NotFoundError(f"Row {row_id} is not in this import.")
    return row


def _decide(row: ListingImportRow, category: Category) -> None:
    row.category = category
    row.decision = (
        Decision.ACCEPTED if category.pk == row.top_category_id else Decision.CHANGED
    )


@transaction.atomic
def listing_import_row_choose(
    *, listing_import: ListingImport, row_id: int, category: Category
) -> ListingImportRow:
    """The seller chooses one row's category: its first suggestion is an accepted
    row, any other category a changed one."""
    _ready_check(listing_import)
    product_category_check(category)
    row = _row_get(listing_import, row_id)
    _decide(row, category)
    row.save(update_fields=["category", "decision"])
    return row


@transaction.atomic
def listing_import_rows_accept(
    *, listing_import: ListingImport, row_ids: list[int] | None = None
) -> int:
    """Bulk accept: the flagged rows (those of ``row_ids`` only, when given) take
    their first suggestion. Changed rows keep the seller's choice. Returns how many
    rows were accepted."""
    _ready_check(listing_import)
    rows = listing_import.rows.filter(decision=Decision.FLAGGED)
    if row_ids is not None:
        rows = rows.filter(pk__in=row_ids)
    active = set(Category.objects.filter(active=True).values_list("pk", flat=True))
    accepted = []
    for row in rows:
        if row.top_category_id in active:
            row.category_id = row.top_category_id
            row.decision = Decision.ACCEPTED
            accepted.append(row)
    ListingImportRow.objects.bulk_update(accepted, ["category", "decision"])
    return len(accepted)


# --- Expiry ---------------------------------------------------------------------------


def listing_imports_expire(*, now=None) -> int:
    """Imports not confirmed by their expiry time expire: their uploaded photos and
    staged rows are deleted (the import stays, as a record). Returns how many."""
    now = now or timezone.now()
    expired = 0
    for pk in ListingImport.objects.filter(
        status__in=OPEN_STATUSES, expires_at__lte=now
    ).values_list("pk", flat=True):
        with transaction.atomic():
            listing_import = (
                ListingImport.objects.select_for_update()
                .filter(pk=pk, status__in=OPEN_STATUSES)
                .first()
            )
            if listing_import is None:
                continue
            listing_import.rows.all().delete()
            listing_import.status = ListingImport.Status.EXPIRED
            listing_import.save(update_fields=["status"])
            folder = listing_import.folder
            transaction.on_commit(lambda folder=folder: folder_delete(folder))
            expired += 1
    return expired


def folder_delete(folder: str) -> None:
    """Delete an import's photos folder (nothing if it does not exist)."""
    if not folder or not PurePosixPath(folder).is_relative_to(FOLDER_ROOT):
        return
    try:
        _, files = default_storage.listdir(folder)
    except FileNotFoundError:
        return
    for name in files:
        default_storage.delete(f"{folder}/{name}")
    with contextlib.suppress(NotImplementedError, OSError):
        os.rmdir(default_storage.path(folder))
