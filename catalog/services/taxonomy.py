"""Writes on the taxonomy: categories created or updated, imported, merged."""

import csv
from pathlib import Path

from django.db import transaction

from audit.services import audit_event_record
from catalog.importers import (
    ImportFileError,
)
from catalog.models import Category, Product
from rakuten.exceptions import ApplicationError


@transaction.atomic
def category_upsert(
    *, code: str, name: str, active: bool = True, actor=None
) -> Category:
    """Create the category ``code``, or update (and audit) the existing one."""
    category = Category.objects.select_for_update().filter(code=code).first()
    if category is None:
        return Category.objects.create(code=code, name=name, active=active)
    return category_update(category=category, name=name, active=active, actor=actor)


@transaction.atomic
def category_update(
    *, category: Category, name: str, active: bool, actor=None
) -> Category:
    """Rename, retire or reactivate a category, each change in the audit log. A
    retired category keeps its products and model labels; new products cannot be
    confirmed in it. Its code, the models' label, never changes."""
    changes = []
    if name != category.name:
        changes.append(
            (
                "category.renamed",
                f"renamed to {name}",
                {"old": category.name, "new": name},
            )
        )
    if active != category.active:
        verb = "category.reactivated" if active else "category.retired"
        changes.append((verb, verb.split(".")[1], {}))
    if not changes:
        return category
    category.name, category.active = name, active
    category.full_clean()
    category.save(update_fields=["name", "active"])
    for verb, message, data in changes:
        audit_event_record(
            verb=verb,
            obj=category,
            actor=actor,
            message=f"{category.code} {message}",
            data=data,
        )
    return category


def categories_csv_read(*, path: Path, display_name: str = "") -> list[tuple[str, str]]:
    """The (code, name) rows of a taxonomy CSV: a code column (``code``, ``category``
    or ``prdtypecode``) and ``name`` (the code when empty); a row without a code has
    an empty one. Errors name the file ``display_name`` (an upload's) or its path."""
    shown = display_name or path
    try:
        with open(path, encoding="utf-8-sig", newline="") as handle:
            reader = csv.DictReader(handle)
            columns = reader.fieldnames or []
            code_column = next(
                (c for c in ("code", "category", "prdtypecode") if c in columns), None
            )
            if code_column is None or "name" not in columns:
                raise ImportFileError(
                    f"{shown}: expected a code column (code, category or prdtypecode) "
                    "and a name column"
                )
            rows = [
                ((r[code_column] or "").strip(), (r["name"] or "").strip())
                for r in reader
            ]
    except OSError as exc:
        raise ImportFileError(f"cannot read {shown}: {exc.strerror}") from exc
    except (UnicodeDecodeError, csv.Error) as exc:
        raise ImportFileError(f"{shown}: unreadable: {exc}") from exc
    return [(code, name or code) for code, name in rows]


def categories_import_csv(*, path: Path) -> int:
    """Import a taxonomy: a CSV with a code column (``code``, ``category`` or
    ``prdtypecode``) and ``name``. Existing codes are renamed; returns rows read."""
    rows = categories_csv_read(path=path)
    with transaction.atomic():
        for code, name in rows:
            if code:
                category_upsert(code=code, name=name)
    return len(rows)


@transaction.atomic
def category_merge(*, source: Category, target: Category, user=None) -> int:
    """Fold ``source`` into ``target``: every product confirmed as ``source`` moves to
    ``target`` and ``source`` is retired (kept, inactive), so the next training run
    learns the merged label set. Predictions keep their predicted category and model
    version: what a model said stays attributable. Returns the products moved."""
    if source.pk == target.pk:
        raise ApplicationError("A category cannot be merged into itself.")
    if not target.active:
        raise ApplicationError(f"{target} is retired: merge into an active category.")
    moved = Product.objects.filter(category=source).update(category=target)
    Category.objects.filter(pk=source.pk).update(active=False)
    audit_event_record(
        verb="category.merged",
        obj=source,
        actor=user,
        message=f"{source.code} merged into {target.code} ({moved} products)",
        data={"target": target.code, "products": moved},
    )
    return moved
