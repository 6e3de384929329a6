"""Taxonomy migrations: a new taxonomy version and a mapping from the current one.

The mapping file has the columns ``old_code,new_code``. For each category of the
current version:

- one row: its products move to the new code at once (``CategoryMove.How.MAPPED``);
- several rows: a split. Its products wait for a model (the ML app's batch job over
  the candidates) or a person (the review queue);
- no row: retired, unless its code is also in the new taxonomy (then it is kept as it
  is, with its products). The products of a retired category wait like a split's, over
  the whole new taxonomy.

A file is refused as a whole, with nothing changed, for: missing columns, no rows, an
old code that is not in the current version, a new code that is not in the new
taxonomy, or a cycle. A cycle is a loop of codes each mapped, as an old code, to the
next one (``A -> B`` and ``B -> A``; ``A -> B``, ``B -> C``, ``C -> A``), not counting a
code mapped to itself: it reads as a rename done twice and is almost always a mistake
in the file. A chain without a loop (``A -> B``, ``B -> C``) is allowed: every product
moves once, from its category in the current version.
"""

import csv
from dataclasses import dataclass, field
from pathlib import Path

from django.db import transaction
from django.utils import timezone

from audit.services import audit_event_record
from catalog.importers import ImportFileError
from catalog.models import (
    Category,
    CategoryMove,
    Product,
    TaxonomyMigration,
    TaxonomyVersion,
)
from catalog.services.products import product_update
from catalog.services.taxonomy import categories_csv_read
from rakuten.exceptions import ApplicationError


class MappingError(ImportFileError):
    code = "bad_mapping"


@dataclass
class MigrationPlan:
    """What a migration will do, computed before anything is written."""

    categories: list[tuple[str, str]]
    mapping: dict[str, list[str]]
    kept: list[str] = field(default_factory=list)
    mapped: dict[str, str] = field(default_factory=dict)
    split: dict[str, list[str]] = field(default_factory=dict)
    retired: list[str] = field(default_factory=list)
    created: list[str] = field(default_factory=list)
    products: dict[str, int] = field(default_factory=dict)

    def summary(self) -> dict:
        return {
            "categories": len(self.categories),
            "created": self.created,
            "kept": self.kept,
            "mapped": self.mapped,
            "split": self.split,
            "retired": self.retired,
            "products_mapped": self.products.get("mapped", 0),
            "products_split": self.products.get("split", 0),
            "products_retired": self.products.get("retired", 0),
        }


def taxonomy_version_current() -> TaxonomyVersion:
    version = TaxonomyVersion.objects.filter(is_current=True).first()
    if version is None:
        # A database migrated before versions existed gets one on first use.
        version = TaxonomyVersion.objects.create(name="1", is_current=True)
        version.categories.set(Category.objects.filter(active=True))
    return version


def mapping_csv_read(*, path: Path) -> list[tuple[str, str]]:
    """The (old_code, new_code) rows of a mapping file."""
    try:
        with open(path, encoding="utf-8-sig", newline="") as handle:
            reader = csv.DictReader(handle)
            columns = reader.fieldnames or []
            if "old_code" not in columns or "new_code" not in columns:
                raise MappingError(
                    f"{path.name}: expected the columns old_code and new_code"
                )
            rows = []
            for number, row in enumerate(reader, start=2):
                old, new = (row["old_code"] or "").strip(), (row["new_code"] or "")
                if not old or not new.strip():
                    raise MappingError(
                        f"{path.name}, line {number}: old_code and new_code are "
                        "both required"
                    )
                rows.append((old, new.strip()))
    except OSError as exc:
        raise MappingError(f"cannot read {path.name}: {exc.strerror}") from exc
    except (UnicodeDecodeError, csv.Error) as exc:
        raise MappingError(f"{path.name}: unreadable: {exc}") from exc
    if not rows:
        raise MappingError(f"{path.name}: the mapping has no rows")
    return rows


def mapping_cycle(mapping: dict[str, list[str]]) -> list[str] | None:
    """A loop of codes ``c1 -> c2 -> ... -> c1`` following the mapping (a code mapped
    to itself does not count), or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: explored

    def visit(code: str, path: list[str]) -> list[str] | None:
        state[code] = 1
        path.append(code)
        for target in mapping.get(code, []):
            if target == code:
                continue
            if state.get(target) == 1:
                return path[path.index(target) :] + [target]
            if target not in state:
                found = visit(target, path)
                if found:
                    return found
        path.pop()
        state[code] = 2
        return None

    for code in sorted(mapping):
        if code not in state:
            found = visit(code, [])
            if found:
                return found
    return None


def taxonomy_migration_plan(
    *, categories: list[tuple[str, str]], rows: list[tuple[str, str]]
) -> MigrationPlan:
    """Check a new taxonomy and its mapping against the current version and say what
    migrating would do. Raises ``MappingError`` (nothing is written either way)."""
    if not categories:
        raise MappingError("the new taxonomy has no categories")
    new_codes = [code for code, _ in categories]
    duplicates = sorted({c for c in new_codes if new_codes.count(c) > 1})
    if duplicates:
        raise MappingError(f"the new taxonomy lists twice: {', '.join(duplicates)}")
    # The current version is the active categories (what the forms and training
    # read); the migration snapshots them into the version's membership.
    current = set(Category.objects.filter(active=True).values_list("code", flat=True))
    mapping: dict[str, list[str]] = {}
    for old, new in rows:
        targets = mapping.setdefault(old, [])
        if new not in targets:
            targets.append(new)
    unknown_old = sorted(set(mapping) - current)
    if unknown_old:
        raise MappingError(
            "unknown old code (not in the current taxonomy): " + ", ".join(unknown_old)
        )
    unknown_new = sorted(
        {n for targets in mapping.values() for n in targets} - set(new_codes)
    )
    if unknown_new:
        raise MappingError(
            "unknown new code (not in the new taxonomy): " + ", ".join(unknown_new)
        )
    cycle = mapping_cycle(mapping)
    if cycle:
        raise MappingError("the mapping has a cycle: " + " -> ".join(cycle))
    plan = MigrationPlan(categories=categories, mapping=mapping)
    existing = set(Category.objects.values_list("code", flat=True))
    plan.created = [c for c in new_codes if c not in existing]
    for code in sorted(current):
        targets = mapping.get(code)
        if not targets:
            if code in new_codes:
                plan.kept.append(code)
            else:
                plan.retired.append(code)
        elif len(targets) == 1:
            if targets[0] == code:
                plan.kept.append(code)
            else:
                plan.mapped[code] = targets[0]
        else:
            plan.split[code] = targets
    counts = dict.fromkeys(("mapped", "split", "retired"), 0)
    for kind, codes in (
        ("mapped", plan.mapped),
        ("split", plan.split),
        ("retired", plan.retired),
    ):
        counts[kind] = Product.objects.filter(category__code__in=list(codes)).count()
    plan.products = counts
    return plan


def taxonomy_migration_plan_files(
    *, categories_path: Path, mapping_path: Path, display_names: bool = False
) -> MigrationPlan:
    """``taxonomy_migration_plan`` of two files (``display_names``: errors name the
    files by their base name, for uploads stored under a temporary folder)."""
    categories = categories_csv_read(
        path=categories_path,
        display_name=categories_path.name if display_names else "",
    )
    return taxonomy_migration_plan(
        categories=[(code, name) for code, name in categories if code],
        rows=mapping_csv_read(path=mapping_path),
    )


@transaction.atomic
def taxonomy_migration_create(
    *, plan: MigrationPlan, name: str = "", user=None
) -> TaxonomyMigration:
    """Apply ``plan`` in one transaction: the new version (current), its categories
    (created, renamed, the others retired), the one-to-one moves, and a pending move
    for each product of a split or retired category."""
    previous = taxonomy_version_current()
    active_before = list(Category.objects.filter(active=True))
    previous.categories.set(active_before)
    previous.is_current = None
    previous.save(update_fields=["is_current"])
    count = TaxonomyVersion.objects.count()
    version = TaxonomyVersion.objects.create(
        name=name or str(count + 1), is_current=True, created_by=user
    )
    renamed, by_code = {}, {}
    for code, new_name in plan.categories:
        category, created = Category.objects.get_or_create(
            code=code, defaults={"name": new_name}
        )
        if not created and category.name != new_name:
            renamed[code] = category.name
            category.name = new_name
        category.active = True
        category.save(update_fields=["name", "active"])
        by_code[code] = category
    new_codes = set(by_code)
    version.categories.set(by_code.values())
    Category.objects.filter(active=True).exclude(code__in=new_codes).update(
        active=False
    )
    migration = TaxonomyMigration.objects.create(
        from_version=previous,
        to_version=version,
        mapping=plan.mapping,
        created_by=user,
        summary={**plan.summary(), "renamed": renamed},
    )
    old_by_code = {c.code: c for c in active_before}
    now = timezone.now()
    for old_code, new_code in plan.mapped.items():
        old, new = old_by_code[old_code], by_code[new_code]
        ids = list(Product.objects.filter(category=old).values_list("pk", flat=True))
        CategoryMove.objects.bulk_create(
            CategoryMove(
                migration=migration,
                product_id=pk,
                kind=CategoryMove.Kind.MAPPED,
                old_category=old,
                new_category=new,
                how=CategoryMove.How.MAPPED,
                decided_by=user,
                decided_at=now,
            )
            for pk in ids
        )
        Product.objects.filter(pk__in=ids).update(category=new)
    waiting = [(c, CategoryMove.Kind.SPLIT) for c in plan.split] + [
        (c, CategoryMove.Kind.RETIRED) for c in plan.retired
    ]
    for old_code, kind in waiting:
        old = old_by_code[old_code]
        CategoryMove.objects.bulk_create(
            CategoryMove(
                migration=migration, product_id=pk, kind=kind, old_category=old
            )
            for pk in Product.objects.filter(category=old).values_list("pk", flat=True)
        )
    if not migration.moves.filter(new_category__isnull=True).exists():
        migration.status = TaxonomyMigration.Status.DONE
        migration.save(update_fields=["status"])
    audit_event_record(
        verb="taxonomy.migrated",
        obj=migration,
        actor=user,
        message=(
            f"taxonomy {previous.name} -> {version.name}: "
            f"{plan.products.get('mapped', 0)} products mapped, "
            f"{plan.products.get('split', 0) + plan.products.get('retired', 0)} "
            "awaiting a decision"
        ),
        data=migration.summary,
    )
    return migration


def move_candidates(*, move: CategoryMove) -> list[str]:
    """The new categories a waiting product may go to: the targets of its old
    category's split, or the whole new taxonomy for a retired one."""
    migration = move.migration
    targets = migration.mapping.get(move.old_category.code)
    if targets and len(targets) > 1:
        return list(targets)
    return sorted(migration.to_version.categories.values_list("code", flat=True))


@transaction.atomic
def category_move_decide(
    *,
    move: CategoryMove,
    category: Category,
    how: str,
    user=None,
    model_version_id: int | None = None,
    probability: float | None = None,
) -> CategoryMove:
    """Move a waiting product to ``category`` (one of its candidates), recorded with
    how it was decided. A staff decision confirms the label (``product_update``: new
    ``confirmed_at``, audited); a model's is recorded on the move and in the audit
    log, and keeps ``confirmed_at``, as a mapped move does."""
    move = (
        CategoryMove.objects.select_for_update()
        .select_related("migration", "product", "old_category")
        .get(pk=move.pk)
    )
    if move.migration.status == TaxonomyMigration.Status.UNDONE:
        raise ApplicationError("This taxonomy migration was undone.")
    if category.code not in move_candidates(move=move):
        raise ApplicationError(
            f"{category.code} is not a candidate for this product.",
            extra={"category": [f"{category.code} is not a candidate."]},
        )
    product = move.product
    if how == CategoryMove.How.STAFF:
        product_update(
            product=product,
            title=product.title,
            description=product.description,
            category=category,
            actor=user,
        )
    else:
        Product.objects.filter(pk=product.pk).update(category=category)
        audit_event_record(
            verb="product.category_changed",
            obj=product,
            actor=user,
            message=(
                f"category {move.old_category.code} -> {category.code} "
                f"(model #{model_version_id})"
            ),
            data={
                "old": move.old_category.code,
                "new": category.code,
                "model_version": model_version_id,
                "probability": probability,
                "migration": move.migration_id,
            },
        )
    move.new_category = category
    move.how = how
    move.decided_by = user
    move.model_version_id = model_version_id
    move.probability = probability
    move.decided_at = timezone.now()
    move.save()
    migration = move.migration
    if (
        migration.status == TaxonomyMigration.Status.AWAITING
        and not migration.moves.filter(new_category__isnull=True).exists()
    ):
        migration.status = TaxonomyMigration.Status.DONE
        migration.save(update_fields=["status"])
    return move


@transaction.atomic
def taxonomy_migration_undo(
    *, migration: TaxonomyMigration, user=None
) -> TaxonomyMigration:
    """Undo the whole migration: every product it moved goes back to its old
    category, the categories get their previous names and flags, and the previous
    version is current again. Only the latest migration can be undone."""
    migration = TaxonomyMigration.objects.select_for_update().get(pk=migration.pk)
    if migration.status == TaxonomyMigration.Status.UNDONE:
        raise ApplicationError("This taxonomy migration is already undone.")
    if not migration.to_version.is_current:
        raise ApplicationError(
            "Only the latest taxonomy migration can be undone: undo the later ones "
            "first."
        )
    restored = 0
    old_ids = migration.moves.values_list("old_category", flat=True).distinct()
    for old_id in list(old_ids):
        restored += Product.objects.filter(
            category_moves__migration=migration,
            category_moves__old_category_id=old_id,
        ).update(category_id=old_id)
    for code, old_name in (migration.summary.get("renamed") or {}).items():
        Category.objects.filter(code=code).update(name=old_name)
    previous = migration.from_version
    before = set(previous.categories.values_list("pk", flat=True))
    Category.objects.filter(pk__in=before).update(active=True)
    Category.objects.filter(active=True).exclude(pk__in=before).update(active=False)
    TaxonomyVersion.objects.filter(pk=migration.to_version_id).update(is_current=None)
    TaxonomyVersion.objects.filter(pk=previous.pk).update(is_current=True)
    migration.status = TaxonomyMigration.Status.UNDONE
    migration.undone_at = timezone.now()
    migration.undone_by = user
    migration.save(update_fields=["status", "undone_at", "undone_by"])
    audit_event_record(
        verb="taxonomy.migration_undone",
        obj=migration,
        actor=user,
        message=(
            f"taxonomy {migration.to_version.name} -> {previous.name}: "
            f"{restored} products back in their old category"
        ),
        data={"products": restored},
    )
    return migration
