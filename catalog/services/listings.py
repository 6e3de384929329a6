"""Selling: a seller lists a product, usually after the model suggested its category,
or labels a product of the unlabelled pool that the Sell page proposed.

The suggestion is the ml app's business and catalog sits below ml in the app order
(accounts <- audit <- catalog <- ml), so this module never imports ml. The function
that records which prediction a listing confirms, and the seller's choice on it, is
named by the setting ``LISTING_PREDICTION_CONFIRM`` and called inside the listing's
transaction (so an inconsistent choice stores nothing).
"""

from functools import cache

from django.conf import settings
from django.db import transaction
from django.utils.module_loading import import_string

from audit.services import audit_event_record
from catalog.models import Category, Product
from catalog.selectors import unlabelled_pool
from catalog.services.products import product_create, product_update
from rakuten.exceptions import ApplicationError


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
    choice_source: str = "",
    choice_rank: int | None = None,
) -> Product:
    """A seller saves a listing. When it confirms a stored prediction, the prediction
    is linked to the product in the same transaction with the seller's choice
    (``choice_source``: ``suggestion`` with its 1-based ``choice_rank``, ``list`` or
    ``api``), so real-versus-predicted accumulates on new products (or neither is
    saved)."""
    product = product_create(
        seller=seller,
        title=title,
        description=description,
        category=category,
        image=image,
    )
    _confirm(product, seller, prediction_id, choice_source, choice_rank)
    return product


@transaction.atomic
def proposal_label(
    *,
    proposal_id: int,
    labeller,
    title: str,
    description: str = "",
    category: Category,
    image=None,
    prediction_id: int | None = None,
    choice_source: str = "",
    choice_rank: int | None = None,
) -> Product:
    """A seller labels a product of the unlabelled pool that the Sell page proposed:
    the pool product itself gets the category (and the text, or photo, the seller
    corrected), is confirmed, and so leaves the pool; no product is created. It keeps
    its seller (none: it was imported); the labeller is in the audit log. A product
    labelled meanwhile by someone else is refused."""
    product = unlabelled_pool().select_for_update().filter(pk=proposal_id).first()
    if product is None:
        raise ApplicationError(
            "This product was labelled meanwhile: propose another one.",
            extra={"proposal": ["This product is no longer in the unlabelled pool."]},
        )
    if category is None:
        raise ApplicationError(
            "Choose a category.", extra={"category": ["Choose a category."]}
        )
    product_update(
        product=product,
        title=title,
        description=description,
        category=category,
        image=image,
        actor=labeller,
    )
    audit_event_record(
        verb="product.proposal_labelled",
        obj=product,
        actor=labeller,
        message=f"labelled {category.code} from the unlabelled pool",
        data={"category": category.code, "prediction": prediction_id},
    )
    _confirm(product, labeller, prediction_id, choice_source, choice_rank)
    return product


def _confirm(product, user, prediction_id, choice_source, choice_rank) -> None:
    if prediction_id is None:
        return
    confirm = _prediction_confirm(settings.LISTING_PREDICTION_CONFIRM)
    confirm(
        prediction_id=prediction_id,
        product=product,
        user=user,
        choice_source=choice_source,
        choice_rank=choice_rank,
    )
