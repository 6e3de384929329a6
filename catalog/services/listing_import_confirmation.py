"""A listing import's confirmation: the seller's decisions become products.

The page and the API claim the import (``confirming``) and queue the listing on a
worker (``listing_import_confirm_enqueue``, then the task
``catalog.listing_import_confirm`` once the claim commits), so a large import never
holds a web request; ``listing_import_confirm`` does both at once (bench, shell).
Products are written ``LISTING_IMPORT_CONFIRM_CHUNK`` rows per transaction, each
starting with the conditional UPDATE of the import's ``rows_listed``: a task delivered
again (its worker was lost) resumes after the last committed chunk, and of two
deliveries at once only one writes each chunk. The function that records each listed
row's prediction (model version, suggestions, the seller's choice) is named by the
setting ``LISTING_IMPORT_PREDICTIONS_RECORD`` (catalog never imports ml) and called
in each chunk's transaction, as ``LISTING_PREDICTION_CONFIRM`` is for a Sell-page
listing.
"""

import logging
from functools import cache

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.module_loading import import_string

from audit.services import audit_event_record
from catalog.models import Category, ListingImport, ListingImportRow, Product
from catalog.services.listing_imports import (
    _decide,
    _products_by_sku,
    _ready_check,
    folder_delete,
)
from catalog.services.products import (
    product_category_check,
    product_create,
    product_update,
)
from rakuten.exceptions import NotFoundError
from rakuten.queueing import enqueue_on_commit

logger = logging.getLogger(__name__)

CONFIRM_TASK = "catalog.listing_import_confirm"
FAILED_NOTE = (
    "Listing stopped before the end (an error occurred): the rows listed so far are "
    "products; confirm again to list the others."
)
Decision = ListingImportRow.Decision


@cache
def _predictions_record(path: str):
    return import_string(path)


def listing_import_confirm_enqueue(
    *,
    listing_import: ListingImport,
    user,
    choices: dict[int, Category] | None = None,
    accept_at_or_above: float | None = None,
) -> ListingImport:
    """Claim the import for confirmation (``confirming``: checked and decided now,
    a second confirmation is refused) and queue the listing of its rows on a worker
    once this commits. Which rows: see ``listing_import_confirm``."""
    with transaction.atomic():
        row_ids = _claim(listing_import, choices, accept_at_or_above)
        enqueue_on_commit(CONFIRM_TASK, listing_import.pk, user.pk, row_ids)
    listing_import.refresh_from_db()
    return listing_import


def listing_import_confirm(
    *,
    listing_import: ListingImport,
    user,
    choices: dict[int, Category] | None = None,
    accept_at_or_above: float | None = None,
) -> ListingImport:
    """List the import's products now (the whole confirmation, in this process). By
    default the accepted and changed rows are listed, and flagged rows are not. With
    ``choices`` (row id -> category) and/or ``accept_at_or_above`` (rows whose first
    suggestion is at least that probable take it), exactly those rows are listed. A
    row whose sku the seller already lists updates that product."""
    row_ids = _claim(listing_import, choices, accept_at_or_above)
    _rows_list(listing_import.pk, user, row_ids)
    listing_import.refresh_from_db()
    return listing_import


def listing_import_confirm_run(*, import_id: int, user_id: int, row_ids: list[int]):
    """The task's part: list the claimed import's rows ``row_ids``, from where a
    previous delivery stopped (``rows_listed``). Does nothing for an import that is
    not (or no longer) confirming. On an error the import is ready again, with a
    note, and the error is raised."""
    user = get_user_model().objects.filter(pk=user_id).first()
    return _rows_list(import_id, user, row_ids)


@transaction.atomic
def _claim(listing_import, choices, accept_at_or_above) -> list[int]:
    """Check the import is ready, apply the request's decisions and mark it
    ``confirming``; returns the ids of the rows to list."""
    listing_import = ListingImport.objects.select_for_update().get(pk=listing_import.pk)
    _ready_check(listing_import)
    row_ids = _decisions_apply(listing_import, choices, accept_at_or_above)
    listing_import.status = ListingImport.Status.CONFIRMING
    listing_import.rows_listed = 0
    listing_import.rows_skipped = listing_import.rows_total - len(row_ids)
    listing_import.save(update_fields=["status", "rows_listed", "rows_skipped"])
    return row_ids


def _rows_list(import_id: int, user, row_ids: list[int]) -> ListingImport | None:
    confirming = ListingImport.objects.filter(
        pk=import_id, status=ListingImport.Status.CONFIRMING
    )
    listing_import = confirming.select_related("seller").first()
    if listing_import is None:
        return None
    record = _predictions_record(settings.LISTING_IMPORT_PREDICTIONS_RECORD)
    size = settings.LISTING_IMPORT_CONFIRM_CHUNK
    try:
        for start in range(listing_import.rows_listed, len(row_ids), size):
            chunk = row_ids[start : start + size]
            if not _chunk_confirm(listing_import, user, start, chunk, record):
                return None  # another delivery of the task is listing them
    except BaseException:
        # Back to review: the chunks already committed are linked to their products
        # (a second confirmation updates them, it does not duplicate them).
        logger.exception("listing import %s: confirmation failed", import_id)
        confirming.update(status=ListingImport.Status.READY, note=FAILED_NOTE)
        raise
    with transaction.atomic():
        # One delivery finishes it.
        if not confirming.filter(rows_listed__gte=len(row_ids)).update(
            status=ListingImport.Status.CONFIRMED, confirmed_at=timezone.now(), note=""
        ):
            return None
        listing_import.refresh_from_db()
        audit_event_record(
            verb="listing_import.confirmed",
            obj=listing_import,
            actor=user,
            message=(
                f"{listing_import.products_created} created, "
                f"{listing_import.products_updated} updated, "
                f"{listing_import.rows_skipped} not listed"
            ),
            data={
                "created": listing_import.products_created,
                "updated": listing_import.products_updated,
                "skipped": listing_import.rows_skipped,
            },
        )
        folder = listing_import.folder
        transaction.on_commit(lambda: folder_delete(folder))
    return listing_import


def _decisions_apply(listing_import, choices, accept_at_or_above) -> list[int]:
    """The ids of the rows to list, after applying the request's choices."""
    rows = listing_import.rows.all()
    if not choices and accept_at_or_above is None:
        return list(
            rows.filter(
                decision__in=[Decision.ACCEPTED, Decision.CHANGED],
                category__isnull=False,
            ).values_list("pk", flat=True)
        )
    choices = choices or {}
    known = rows.filter(pk__in=choices).values_list("pk", flat=True)
    unknown = set(choices) - set(known)
    if unknown:
        raise NotFoundError(
            f"Row {min(unknown)} is not in this import.",
            extra={"choices": [f"Unknown row: {pk}" for pk in sorted(unknown)]},
        )
    active = set(Category.objects.filter(active=True).values_list("pk", flat=True))
    listed, changed = [], []
    for row in rows:
        if row.pk in choices:
            product_category_check(choices[row.pk])
            _decide(row, choices[row.pk])
        elif (
            accept_at_or_above is not None
            and row.top_probability is not None
            and row.top_probability >= accept_at_or_above
            and row.top_category_id in active
        ):
            row.category_id = row.top_category_id
            row.decision = Decision.ACCEPTED
        else:
            continue
        changed.append(row)
        listed.append(row.pk)
    ListingImportRow.objects.bulk_update(changed, ["category", "decision"])
    return listed


@transaction.atomic
def _chunk_confirm(listing_import, user, start, row_ids, record) -> bool:
    """List the rows ``row_ids``, the confirmation's rows from ``start``; False when
    another delivery listed them (its conditional UPDATE of ``rows_listed`` won)."""
    won = ListingImport.objects.filter(
        pk=listing_import.pk,
        status=ListingImport.Status.CONFIRMING,
        rows_listed=start,
    ).update(rows_listed=start + len(row_ids))
    if not won:
        return False
    rows = list(
        ListingImportRow.objects.filter(pk__in=row_ids)
        .select_related("category", "product")
        .order_by("line")
    )
    # A sku listed since the upload (another import of the same seller, confirmed
    # meanwhile) is updated too, never duplicated.
    known = _products_by_sku(
        listing_import.seller, [r.sku for r in rows if not r.product]
    )
    products = Product.objects.in_bulk(known.values())
    created = updated = 0
    for row in rows:
        if row.product is None and row.sku in known:
            row.product = products[known[row.sku]]
        image = default_storage.open(row.image, "rb") if row.image else None
        try:
            if row.product is not None:
                row.product = product_update(
                    product=row.product,
                    title=row.title,
                    description=row.description,
                    category=row.category,
                    image=image,
                    actor=user,
                )
                updated += 1
            else:
                row.product = product_create(
                    seller=listing_import.seller,
                    title=row.title,
                    description=row.description,
                    category=row.category,
                    image=image,
                    sku=row.sku,
                )
                created += 1
        finally:
            if image is not None:
                image.close()
    ListingImportRow.objects.bulk_update(rows, ["product"])
    record(rows=rows, user=user)
    ListingImport.objects.filter(pk=listing_import.pk).update(
        products_created=F("products_created") + created,
        products_updated=F("products_updated") + updated,
    )
    return True
