"""Fill ``Product.search_text`` for the products stored before it existed (the product
services write it from now on). Backwards: nothing to undo (0003 drops the column)."""

import unicodedata

from django.db import migrations

BATCH_SIZE = 1000


# A frozen copy of catalog.text (a migration must not change when the app does).
def _normalise(text):
    decomposed = unicodedata.normalize("NFKD", (text or "").casefold())
    bare = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(bare.split())


def _search_text(title, description):
    return "\n".join(
        part for part in (_normalise(title), _normalise(description)) if part
    )


def backfill(apps, schema_editor):
    Product = apps.get_model("catalog", "Product")
    products = Product.objects.only("pk", "title", "description").order_by("pk")
    last_pk = 0
    while batch := list(products.filter(pk__gt=last_pk)[:BATCH_SIZE]):
        for product in batch:
            product.search_text = _search_text(product.title, product.description)
        Product.objects.bulk_update(batch, ["search_text"])
        last_pk = batch[-1].pk


class Migration(migrations.Migration):
    dependencies = [("catalog", "0003_product_search_text")]

    operations = [migrations.RunPython(backfill, migrations.RunPython.noop)]
