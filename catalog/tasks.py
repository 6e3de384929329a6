"""Celery tasks of the catalog app: thin, they call one service."""

from pathlib import Path

from celery import shared_task

from catalog.services.imports import products_import_generic_csv
from catalog.services.listing_import_confirmation import listing_import_confirm_run
from catalog.services.listing_imports import listing_imports_expire


@shared_task(name="catalog.import_generic_csv")
def import_generic_csv(
    csv_path: str, images_dir: str | None = None, create_categories: bool = False
) -> dict:
    """Import a generic-layout CSV on a worker; returns the summary counts."""
    summary = products_import_generic_csv(
        csv_path=Path(csv_path),
        images_dir=Path(images_dir) if images_dir else None,
        create_categories=create_categories,
    )
    return {
        "created": summary.created,
        "updated": summary.updated,
        "skipped": summary.skipped,
        "rejected": summary.rejected,
    }


@shared_task(name="catalog.listing_imports_expire")
def listing_imports_expire_task() -> int:
    """Beat's hourly expiry of the listing imports not confirmed in time (their
    uploads are deleted); returns how many expired."""
    return listing_imports_expire()


@shared_task(name="catalog.listing_import_confirm")
def listing_import_confirm_task(import_id: int, user_id: int, row_ids: list[int]):
    """List a claimed listing import's rows (queued by its confirmation)."""
    listing_import = listing_import_confirm_run(
        import_id=import_id, user_id=user_id, row_ids=row_ids
    )
    return listing_import.status if listing_import is not None else None
