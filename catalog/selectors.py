"""Reads on the catalogue."""

from django.db.models import QuerySet

from catalog.models import Category, Product


def category_list(*, active_only: bool = True) -> QuerySet[Category]:
    qs = Category.objects.all()
    return qs.filter(active=True) if active_only else qs


def category_map_by_code() -> dict[str, Category]:
    return {c.code: c for c in Category.objects.all()}


def product_count() -> int:
    return Product.objects.count()
