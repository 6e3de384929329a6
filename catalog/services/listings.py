"""Selling: a seller lists a product, usually after the model suggested its category.

The suggestion is the ml app's business and catalog sits below ml in the app order
(accounts <- audit <- catalog <- ml), so this module never imports ml. The function
that records which prediction a listing confirms is named by the setting
``LISTING_PREDICTION_CONFIRM`` and called inside the listing's transaction.
"""

from functools import cache

from django.conf import settings
from django.db import transaction
from django.utils.module_loading import import_string

from catalog.models import Category, Product
from catalog.services.products import product_create


@cache
def _prediction_confirm(path: str):
    return import_string(path)


@transaction.atomic
def listing_create(
    *,
    seller,
    title: str,
    description: str = "",
    category: Category | None = None,
    image=None,
    prediction_id: int | None = None,
) -> Product:
    """A seller saves a listing. When it confirms a stored prediction, the prediction
    is linked to the product in the same transaction, so real-versus-predicted
    accumulates on new products (or neither is saved)."""
    product = product_create(
        seller=seller,
        title=title,
        description=description,
        category=category,
        image=image,
    )
    if prediction_id is not None:
        confirm = _prediction_confirm(settings.LISTING_PREDICTION_CONFIRM)
        confirm(prediction_id=prediction_id, product=product, user=seller)
    return product
