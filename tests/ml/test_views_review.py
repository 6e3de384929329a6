"""The staff review page, the migration upload on the categories page and the
``taxonomy_migrate`` command."""

from io import StringIO

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command

from catalog.models import Category, Product, TaxonomyMigration
from ml.models import BatchJob, BatchResult, ReviewItem
from ml.services.review_queue import review_items_from_results
from tests.factories import CategoryFactory, ModelVersionFactory, ProductFactory


@pytest.fixture
def waiting(db):
    CategoryFactory(code="X", name="Ixe")
    CategoryFactory(code="Y", name="Igrec")
    job = BatchJob.objects.create(
        scope="all", model_version=ModelVersionFactory(), apply_threshold=0.9
    )
    results = []
    for n, p in enumerate((0.3, 0.6)):
        product = ProductFactory(category=None, title=f"Objet {n}")
        results.append(
            BatchResult.objects.create(
                job=job,
                item_id=product.pk,
                product=product,
                predicted_code="X",
                probability=p,
                top_k=[
                    {"code": "X", "probability": p},
                    {"code": "Y", "probability": 0.1},
                ],
            )
        )
    review_items_from_results(job=job, results=results)
    return list(ReviewItem.objects.order_by("probability"))


def test_the_page_lists_filters_and_decides(waiting, client_logged_in_as, staff_user):
    client = client_logged_in_as(staff_user)
    page = client.get("/staff/review/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "Objet 0" in html and "Objet 1" in html and "2 waiting" in html
    assert "1. Ixe <code>X</code> 30 %" in html
    filtered = client.get("/staff/review/?max_probability=0.5").content.decode()
    assert "Objet 0" in filtered and "Objet 1" not in filtered
    # accept the first, correct the second
    back = "/staff/review/?max_probability=0.5"
    response = client.post(
        f"/staff/review/{waiting[0].pk}/decide/", {"category": "X", "next": back}
    )
    assert response.status_code == 302 and response["Location"] == back
    client.post(f"/staff/review/{waiting[1].pk}/decide/", {"category": "Y"})
    assert list(
        ReviewItem.objects.order_by("probability").values_list("status", flat=True)
    ) == [
        "accepted",
        "corrected",
    ]
    assert "Nothing waits" in client.get("/staff/review/").content.decode()


def test_bulk_accept_of_the_ticked_items(waiting, client_logged_in_as, staff_user):
    client = client_logged_in_as(staff_user)
    client.post("/staff/review/bulk-accept/", {"ids": [waiting[1].pk]})
    assert ReviewItem.objects.get(pk=waiting[1].pk).status == "accepted"
    assert ReviewItem.objects.get(pk=waiting[0].pk).status == "waiting"
    client.post("/staff/review/bulk-accept/", {"everything": "1"})
    assert ReviewItem.objects.get(pk=waiting[0].pk).status == "accepted"


def test_sellers_are_refused(waiting, client_logged_in_as, seller):
    client = client_logged_in_as(seller)
    assert client.get("/staff/review/").status_code == 403
    assert (
        client.post(
            f"/staff/review/{waiting[0].pk}/decide/", {"accept": "1"}
        ).status_code
        == 403
    )
    assert (
        client.post("/staff/review/bulk-accept/", {"everything": "1"}).status_code
        == 403
    )
    assert client.post("/staff/categories/migrate/", {}).status_code == 403
    assert set(ReviewItem.objects.values_list("status", flat=True)) == {"waiting"}


@pytest.fixture
def ab(db):
    Category.objects.update(active=False)
    for code in ("A", "B"):
        ProductFactory.create_batch(2, category=CategoryFactory(code=code))


def test_the_categories_page_migrates_and_undoes(ab, client_logged_in_as, staff_user):
    client = client_logged_in_as(staff_user)

    def upload(mapping):
        return client.post(
            "/staff/categories/migrate/",
            {
                "categories": SimpleUploadedFile(
                    "n.csv", b"code,name\nAB,Alpha beta\n"
                ),
                "mapping": SimpleUploadedFile("m.csv", mapping),
            },
            follow=True,
        )

    bad = upload(b"old_code,new_code\nA,ZZ\n").content.decode()
    assert "Nothing changed: unknown new code (not in the new taxonomy): ZZ" in bad
    assert TaxonomyMigration.objects.count() == 0
    done = upload(b"old_code,new_code\nA,AB\nB,AB\n").content.decode()
    assert "Taxonomy version 2 is current: 4 products mapped one to one" in done
    migration = TaxonomyMigration.objects.get()
    assert f"/staff/categories/migrations/{migration.pk}/undo/" in done
    client.post(f"/staff/categories/migrations/{migration.pk}/undo/")
    assert Product.objects.filter(category__code="AB").count() == 0


def test_the_command_summarises_and_refuses_bad_files(ab, tmp_path):
    new, mapping = tmp_path / "new.csv", tmp_path / "map.csv"
    new.write_text("code,name\nA1,Un\nA2,Deux\nB,B\n")
    mapping.write_text("old_code,new_code\nA,A1\nA,A2\n")
    out = StringIO()
    call_command(
        "taxonomy_migrate",
        "--categories",
        new,
        "--mapping",
        mapping,
        "--dry-run",
        stdout=out,
    )
    assert out.getvalue().splitlines() == [
        "3 categories in the new taxonomy (2 new)",
        "kept: 1, mapped one to one: 0 (0 products)",
        "split: 1 (2 products)",
        "retired: 0 (0 products)",
        "dry run: nothing changed",
    ]
    assert TaxonomyMigration.objects.count() == 0
    mapping.write_text("old_code,new_code\nA,A9\n")
    with pytest.raises(CommandError, match="unknown new code"):
        call_command("taxonomy_migrate", "--categories", new, "--mapping", mapping)
    mapping.write_text("old_code,new_code\nA,A1\nA,A2\n")
    out = StringIO()
    call_command(
        "taxonomy_migrate", "--categories", new, "--mapping", mapping, stdout=out
    )
    migration = TaxonomyMigration.objects.get()
    assert out.getvalue().splitlines()[-1] == (
        f"taxonomy migration {migration.pk}: version 2 is current (awaiting)"
    )
    # no active model: the sample (5 per new category) was picked in id order
    assert ReviewItem.objects.filter(reason="split_sample").count() == 2
