"""Writes on products: create, update (a changed category is a new confirmation,
audited), delete, with the photo checked and stored through the storage API."""

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from django.utils import timezone

from audit.services import audit_event_record
from catalog.images import image_check
from catalog.models import Category, Product
from catalog.text import product_search_text
from rakuten.exceptions import ApplicationError


def _photo_read(upload) -> tuple[bytes, str]:
    """Bytes and file name of an uploaded photo (Django ``UploadedFile``)."""
    upload.seek(0)
    return upload.read(), upload.name or "photo"


def _photo_store(product: Product, upload) -> None:
    data, name = _photo_read(upload)
    checked = image_check(
        data, filename=name, max_bytes=settings.PRODUCT_IMAGE_MAX_BYTES
    )
    product.image.save(f"photo{checked.extension}", ContentFile(data), save=False)
    product.image_sha256 = checked.sha256


def product_category_check(category: Category | None) -> None:
    """A product is confirmed only in an active category (forms check it before
    saving, with the same message)."""
    if category is not None and not category.active:
        raise ApplicationError(
            "This category is retired: choose an active one.",
            extra={"category": ["This category is retired."]},
        )


@transaction.atomic
def product_create(
    *,
    seller,
    title: str,
    description: str = "",
    category: Category | None = None,
    image=None,
    sku: str | None = None,
) -> Product:
    """A seller lists a product with its confirmed category (``ml.services.
    listing_create`` also links the prediction the listing confirms); ``sku`` is the
    seller's own reference (a listing import's)."""
    product_category_check(category)
    product = Product(
        seller=seller,
        sku=sku or None,
        title=title.strip(),
        description=(description or "").strip(),
        category=category,
        source=Product.Source.LISTING,
        confirmed_at=timezone.now() if category else None,
    )
    product.search_text = product_search_text(product.title, product.description)
    if image:
        _photo_store(product, image)
    product.full_clean(exclude=["image"])
    product.save()
    return product


@transaction.atomic
def product_update(
    *,
    product: Product,
    title: str,
    description: str = "",
    category: Category | None = None,
    image=None,
    actor=None,
) -> Product:
    """Change a product (its seller's page, the API or the admin). A changed category
    is a new confirmation: ``confirmed_at`` moves, so monitoring and retraining see
    it, and the change is recorded in the audit log with its ``actor``."""
    product_category_check(category)
    previous = product.category
    product.title = title.strip()
    product.description = (description or "").strip()
    product.search_text = product_search_text(product.title, product.description)
    if category != previous:
        product.confirmed_at = timezone.now() if category else None
    product.category = category
    if image:
        _photo_store(product, image)
    product.full_clean(exclude=["image"])
    product.save()
    if category != previous:
        old, new = (c.code if c else None for c in (previous, category))
        audit_event_record(
            verb="product.category_changed",
            obj=product,
            actor=actor,
            message=f"category {old or '—'} -> {new or '—'}",
            data={"old": old, "new": new},
        )
    return product


@transaction.atomic
def product_delete(*, product: Product) -> None:
    image_name = product.image.name
    product.delete()
    if image_name:
        transaction.on_commit(lambda: default_storage.delete(image_name))
