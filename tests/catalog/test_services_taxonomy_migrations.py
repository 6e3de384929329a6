"""Taxonomy migrations in the catalog: the files are checked as a whole (nothing
changes on a bad one), one-to-one mappings move products at once, splits and retired
categories wait, and the whole migration can be undone."""

import pytest

from audit.models import AuditEvent
from catalog.importers import ImportFileError
from catalog.models import (
    Category,
    CategoryMove,
    Product,
    TaxonomyMigration,
    TaxonomyVersion,
)
from catalog.services.taxonomy_migrations import (
    category_move_decide,
    mapping_cycle,
    move_candidates,
    taxonomy_migration_create,
    taxonomy_migration_plan_files,
    taxonomy_migration_undo,
    taxonomy_version_current,
)
from rakuten.exceptions import ApplicationError
from tests.factories import CategoryFactory, ProductFactory


@pytest.fixture
def small_taxonomy(db):
    """The current taxonomy reduced to three categories: A (2 products), B (3), C (1).
    The seeded Rakuten types are retired first so the mapping stays short."""
    Category.objects.update(active=False)
    a = CategoryFactory(code="A", name="Alpha")
    b = CategoryFactory(code="B", name="Beta")
    c = CategoryFactory(code="C", name="Gamma")
    for category, n in ((a, 2), (b, 3), (c, 1)):
        ProductFactory.create_batch(n, category=category)
    return a, b, c


def _files(tmp_path, categories: str, mapping: str):
    new, mapping_file = tmp_path / "new.csv", tmp_path / "map.csv"
    new.write_text(categories, encoding="utf-8")
    mapping_file.write_text(mapping, encoding="utf-8")
    return new, mapping_file


def _state():
    return (
        sorted(Product.objects.values_list("pk", "category__code")),
        sorted(Category.objects.values_list("code", "name", "active")),
        list(TaxonomyVersion.objects.values_list("pk", "is_current")),
        TaxonomyMigration.objects.count(),
        CategoryMove.objects.count(),
    )


NEW = "code,name\nA2,Alpha deux\nB1,Beta un\nB2,Beta deux\nD,Delta\n"


def test_version_one_is_the_seeded_taxonomy(db):
    version = TaxonomyVersion.objects.get(is_current=True)
    assert version.name == "1"
    assert version.categories.count() == 27
    assert version.categories.filter(code="2905").exists()


@pytest.mark.parametrize(
    ("categories", "mapping", "message"),
    [
        (NEW, "old_code,new_code\nZ,A2\n", "unknown old code"),
        (
            NEW,
            "old_code,new_code\nA,Q\n",
            "unknown new code (not in the new taxonomy): Q",
        ),
        (NEW, "old_code,new_code\n", "the mapping has no rows"),
        (NEW, "", "expected the columns old_code and new_code"),
        (NEW, "old,new\nA,A2\n", "expected the columns old_code and new_code"),
        (
            "code,name\n",
            "old_code,new_code\nA,A2\n",
            "the new taxonomy has no categories",
        ),
        ("label\nA2\n", "old_code,new_code\nA,A2\n", "expected a code column"),
        (
            "code,name\nA,Alpha\nB,Beta\nC,Gamma\n",
            "old_code,new_code\nA,B\nB,A\n",
            "the mapping has a cycle: A -> B -> A",
        ),
        (
            "code,name\nA,Alpha\nB,Beta\nC,Gamma\n",
            "old_code,new_code\nA,B\nB,C\nC,A\n",
            "the mapping has a cycle: A -> B -> C -> A",
        ),
        (
            NEW,
            "old_code,new_code\nA,\n",
            "line 2: old_code and new_code are both required",
        ),
    ],
)
def test_a_bad_file_is_refused_and_nothing_changes(
    small_taxonomy, tmp_path, categories, mapping, message
):
    # Given the current taxonomy and its products
    before = _state()
    new, mapping_file = _files(tmp_path, categories, mapping)
    # When the files are checked
    with pytest.raises(ImportFileError) as caught:
        taxonomy_migration_plan_files(categories_path=new, mapping_path=mapping_file)
    # Then the error says why, and nothing changed
    assert message in caught.value.message
    assert _state() == before


def test_a_chain_without_a_loop_and_a_code_kept_as_itself_are_allowed():
    assert mapping_cycle({"A": ["B"], "B": ["C"]}) is None
    assert mapping_cycle({"A": ["A", "B"], "B": ["B"]}) is None
    assert mapping_cycle({"A": ["B", "C"], "C": ["A"]}) == ["A", "C", "A"]


def test_one_to_one_moves_at_once_splits_and_retired_wait(
    small_taxonomy, tmp_path, staff_user
):
    a, b, c = small_taxonomy
    old_version = taxonomy_version_current()
    # Given A -> A2 (one to one), B -> B1|B2 (split), C retired, D new
    new, mapping_file = _files(tmp_path, NEW, "old_code,new_code\nA,A2\nB,B1\nB,B2\n")
    plan = taxonomy_migration_plan_files(categories_path=new, mapping_path=mapping_file)
    assert plan.mapped == {"A": "A2"}
    assert plan.split == {"B": ["B1", "B2"]}
    assert plan.retired == ["C"]
    assert plan.created == ["A2", "B1", "B2", "D"]
    assert plan.products == {"mapped": 2, "split": 3, "retired": 1}
    # When the migration is applied
    migration = taxonomy_migration_create(plan=plan, user=staff_user)
    # Then A's products are in A2 at once, recorded as mapped by the staff member
    a2 = Category.objects.get(code="A2")
    assert Product.objects.filter(category=a2).count() == 2
    mapped = migration.moves.filter(kind=CategoryMove.Kind.MAPPED)
    assert mapped.count() == 2
    assert set(mapped.values_list("how", "decided_by", "new_category")) == {
        ("mapped", staff_user.pk, a2.pk)
    }
    # B's and C's products keep their old category and wait
    waiting = migration.moves.filter(new_category__isnull=True)
    assert sorted(waiting.values_list("kind", flat=True)) == [
        "retired",
        "split",
        "split",
        "split",
    ]
    assert Product.objects.filter(category=b).count() == 3
    # the new version is current with exactly the new categories, the old retired
    assert migration.status == TaxonomyMigration.Status.AWAITING
    assert migration.to_version.is_current is True
    assert sorted(migration.to_version.categories.values_list("code", flat=True)) == [
        "A2",
        "B1",
        "B2",
        "D",
    ]
    assert sorted(
        Category.objects.filter(active=True).values_list("code", flat=True)
    ) == ["A2", "B1", "B2", "D"]
    assert sorted(old_version.categories.values_list("code", flat=True)) == [
        "A",
        "B",
        "C",
    ]
    # a split's candidates are its targets; a retired category's, the whole taxonomy
    split_move = waiting.filter(kind="split").first()
    retired_move = waiting.get(kind="retired")
    assert move_candidates(move=split_move) == ["B1", "B2"]
    assert move_candidates(move=retired_move) == ["A2", "B1", "B2", "D"]
    assert AuditEvent.objects.filter(verb="taxonomy.migrated").count() == 1


def test_a_staff_decision_confirms_and_the_last_one_completes_the_migration(
    small_taxonomy, tmp_path, staff_user
):
    new, mapping_file = _files(
        tmp_path, NEW, "old_code,new_code\nA,A2\nB,B1\nB,B2\nC,D\n"
    )
    plan = taxonomy_migration_plan_files(categories_path=new, mapping_path=mapping_file)
    migration = taxonomy_migration_create(plan=plan, user=staff_user)
    b1, b2 = Category.objects.get(code="B1"), Category.objects.get(code="B2")
    moves = list(migration.moves.filter(new_category__isnull=True))
    # a category outside the candidates is refused
    with pytest.raises(ApplicationError):
        category_move_decide(
            move=moves[0], category=Category.objects.get(code="D"), how="staff"
        )
    category_move_decide(move=moves[0], category=b1, how="staff", user=staff_user)
    category_move_decide(
        move=moves[1], category=b2, how="model", model_version_id=7, probability=0.97
    )
    product = Product.objects.get(pk=moves[0].product_id)
    assert product.category == b1 and product.confirmed_at is not None
    move = CategoryMove.objects.get(pk=moves[1].pk)
    assert (move.how, move.model_version_id, move.probability) == ("model", 7, 0.97)
    migration.refresh_from_db()
    assert migration.status == TaxonomyMigration.Status.AWAITING
    category_move_decide(move=moves[2], category=b2, how="staff", user=staff_user)
    migration.refresh_from_db()
    assert migration.status == TaxonomyMigration.Status.DONE


def test_undo_restores_every_product_category_and_version(
    small_taxonomy, tmp_path, staff_user
):
    a, b, c = small_taxonomy
    before = sorted(Product.objects.values_list("pk", "category__code"))
    categories_before = sorted(Category.objects.values_list("code", "name", "active"))
    old_version = taxonomy_version_current()
    # Given a migration that renames A, maps C into A and splits B, one decided
    new, mapping_file = _files(
        tmp_path,
        "code,name\nA,Alpha renamed\nB1,Beta un\nB2,Beta deux\n",
        "old_code,new_code\nC,A\nB,B1\nB,B2\n",
    )
    plan = taxonomy_migration_plan_files(categories_path=new, mapping_path=mapping_file)
    assert plan.kept == ["A"] and plan.mapped == {"C": "A"}
    migration = taxonomy_migration_create(plan=plan, user=staff_user)
    move = migration.moves.filter(kind="split").first()
    category_move_decide(
        move=move,
        category=Category.objects.get(code="B1"),
        how="staff",
        user=staff_user,
    )
    # When it is undone
    taxonomy_migration_undo(migration=migration, user=staff_user)
    # Then every product, category and the current version are as before
    assert sorted(Product.objects.values_list("pk", "category__code")) == before
    after = sorted(
        Category.objects.exclude(code__in=["B1", "B2"]).values_list(
            "code", "name", "active"
        )
    )
    assert after == categories_before
    assert list(
        Category.objects.filter(code__in=["B1", "B2"]).values_list("active", flat=True)
    ) == [False, False]
    assert taxonomy_version_current() == old_version
    migration.refresh_from_db()
    assert migration.status == "undone" and migration.undone_by == staff_user
    assert AuditEvent.objects.filter(verb="taxonomy.migration_undone").count() == 1
    # and it cannot be undone twice, nor decided on any more
    with pytest.raises(ApplicationError):
        taxonomy_migration_undo(migration=migration, user=staff_user)
    with pytest.raises(ApplicationError):
        category_move_decide(
            move=migration.moves.filter(new_category__isnull=True).first(),
            category=Category.objects.get(code="B2"),
            how="staff",
        )


def test_only_the_latest_migration_can_be_undone(small_taxonomy, tmp_path):
    new, mapping_file = _files(tmp_path, NEW, "old_code,new_code\nA,A2\nB,B1\nC,D\n")
    first = taxonomy_migration_create(
        plan=taxonomy_migration_plan_files(
            categories_path=new, mapping_path=mapping_file
        )
    )
    new2, mapping2 = _files(
        tmp_path, "code,name\nX,Ex\n", "old_code,new_code\nA2,X\nB1,X\nD,X\n"
    )
    second = taxonomy_migration_create(
        plan=taxonomy_migration_plan_files(categories_path=new2, mapping_path=mapping2)
    )
    with pytest.raises(ApplicationError) as caught:
        taxonomy_migration_undo(migration=first)
    assert "latest" in caught.value.message
    taxonomy_migration_undo(migration=second)
    taxonomy_migration_undo(migration=first)
    assert sorted(
        Category.objects.filter(active=True).values_list("code", flat=True)
    ) == ["A", "B", "C"]
