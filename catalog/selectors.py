"""Reads on the catalogue."""

import random

from django.db.models import Case, Count, IntegerField, QuerySet, Value, When
from django.db.models.functions import Length

from accounts.models import User
from catalog.models import (
    Category,
    ListingImport,
    ListingImportRow,
    Product,
    TaxonomyMigration,
)
from catalog.text import search_normalise
from rakuten.exceptions import NotFoundError

# A code made of digits only sorts as a number (no cast: codes may be longer than any
# integer column, and a cast of "abc" fails on some databases).
_NUMERIC_CODE = r"^[0-9]+$"


def category_order_by_code(
    queryset: QuerySet[Category], *first: str
) -> QuerySet[Category]:
    """``queryset`` ordered by code, codes that are numbers by their value (10, 40,
    50, 60, 1140, ... not 10, 1140, ..., 40), then the other codes by text; after the
    orderings in ``first`` (``"-active"``: active categories first). The one category
    order of the pages, the API and the forms. (Numbers are compared by length, then
    digit by digit: a code with leading zeros, such as "007", sorts by its length.)"""
    is_number = When(code__regex=_NUMERIC_CODE, then=Value(0))
    numeric_length = When(code__regex=_NUMERIC_CODE, then=Length("code"))
    return queryset.annotate(
        code_is_text=Case(is_number, default=Value(1), output_field=IntegerField()),
        code_number_length=Case(
            numeric_length, default=Value(0), output_field=IntegerField()
        ),
    ).order_by(*first, "code_is_text", "code_number_length", "code")


def category_list(*, active_only: bool = True) -> QuerySet[Category]:
    """The taxonomy in code order (``category_order_by_code``); active categories
    only unless ``active_only`` is false."""
    qs = Category.objects.all()
    if active_only:
        qs = qs.filter(active=True)
    return category_order_by_code(qs)


def product_list_visible_to(
    *, user, search: str = "", category_id: int | None = None
) -> QuerySet[Product]:
    """Sellers see their own products; staff and integrators see every product."""
    qs = Product.objects.select_related("category", "seller")
    if not _reads_all(user):
        qs = qs.filter(seller=user)
    search = search_normalise(search)
    if search:
        # Case and accents ignored alike on every database (``Product.search_text``).
        qs = qs.filter(search_text__contains=search)
    if category_id:
        qs = qs.filter(category_id=category_id)
    return qs


def product_get_visible_to(*, user, pk: int) -> Product:
    """A product the user may read; another seller's product is "not found"."""
    try:
        return product_list_visible_to(user=user).get(pk=pk)
    except Product.DoesNotExist as exc:
        raise NotFoundError("No such product.") from exc


def product_get_owned_by(*, user, pk: int) -> Product:
    """A product the user may change: only its seller may."""
    try:
        return Product.objects.select_related("category").get(pk=pk, seller=user)
    except Product.DoesNotExist as exc:
        raise NotFoundError("No such product.") from exc


def unlabelled_pool() -> QuerySet[Product]:
    """Imported products waiting for a category (never a seller's own listing)."""
    return Product.objects.filter(
        category__isnull=True, seller__isnull=True, source=Product.Source.IMPORT
    )


def product_proposal_random() -> Product | None:
    """A random product of the unlabelled pool (imported without a category)."""
    pool = unlabelled_pool().order_by("pk")
    count = pool.count()
    if count == 0:
        return None
    return pool[random.randrange(count)]


def proposal_get(*, pk: int) -> Product:
    """A product of the unlabelled pool, proposed to try the model on; any other
    product (a seller's listing, a labelled import) is "not found"."""
    try:
        return unlabelled_pool().get(pk=pk)
    except Product.DoesNotExist as exc:
        raise NotFoundError("No such product in the unlabelled pool.") from exc


def _reads_all(user) -> bool:
    return user.is_superuser or user.role in (User.Role.STAFF, User.Role.INTEGRATOR)


def taxonomy_migration_list(*, limit: int = 20) -> QuerySet[TaxonomyMigration]:
    """The latest taxonomy migrations, newest first."""
    return TaxonomyMigration.objects.select_related(
        "from_version", "to_version", "created_by"
    ).order_by("-created_at", "-id")[:limit]


# --- Listing imports ------------------------------------------------------------------


def listing_import_get_owned_by(*, user, pk: int) -> ListingImport:
    """The user's own import; anyone else's is "not found"."""
    listing_import = ListingImport.objects.filter(pk=pk, seller=user).first()
    if listing_import is None:
        raise NotFoundError("No such import.")
    return listing_import


def listing_import_list_for_seller(*, user) -> QuerySet[ListingImport]:
    return ListingImport.objects.filter(seller=user)


def listing_import_rows(
    *,
    listing_import: ListingImport,
    decision: str | None = None,
    category_id: int | None = None,
) -> QuerySet[ListingImportRow]:
    """The import's rows in CSV order, of one decision and/or one chosen
    category."""
    rows = listing_import.rows.select_related("category", "product")
    if decision:
        rows = rows.filter(decision=decision)
    if category_id:
        rows = rows.filter(category_id=category_id)
    return rows.order_by("line")


def listing_import_rows_for_review(
    *, listing_import: ListingImport, **filters
) -> QuerySet[ListingImportRow]:
    """As ``listing_import_rows``, the flagged rows first."""
    flagged_first = Case(
        When(decision=ListingImportRow.Decision.FLAGGED, then=Value(0)),
        default=Value(1),
        output_field=IntegerField(),
    )
    return (
        listing_import_rows(listing_import=listing_import, **filters)
        .annotate(flagged_first=flagged_first)
        .order_by("flagged_first", "line")
    )


def listing_import_progress(*, listing_import: ListingImport) -> dict:
    """``done`` rows with their suggestions written, of ``total``; per decision the
    number of rows; and once confirmed (or confirming), ``listed`` rows of
    ``to_list``."""
    counts = dict(listing_import.rows.values_list("decision").annotate(n=Count("pk")))
    total = listing_import.rows_total
    done = total - counts.get(ListingImportRow.Decision.PENDING, 0)
    to_list = total - listing_import.rows_skipped
    listed = listing_import.rows_listed
    return {
        "total": total,
        "done": done,
        "percent": round(100 * done / total) if total else 100,
        "decisions": counts,
        "to_list": to_list,
        "listed": listed,
        "listed_percent": round(100 * listed / to_list) if to_list else 100,
    }
