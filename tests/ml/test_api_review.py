"""The staff API of the review queue and of taxonomy migrations: the operations,
their filters, bad files refused with nothing changed, and other roles refused."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from audit.models import AuditEvent
from catalog.models import Category, CategoryMove, Product, TaxonomyMigration
from ml.models import BatchJob, BatchResult, ReviewItem
from ml.services.review_queue import review_items_from_results
from tests.factories import CategoryFactory, ModelVersionFactory, ProductFactory


@pytest.fixture
def waiting(db):
    """Three waiting items: probabilities 0.2 (X first), 0.5 (Y first), 0.7 (X)."""
    x, y = CategoryFactory(code="X"), CategoryFactory(code="Y")
    job = BatchJob.objects.create(
        scope="all", model_version=ModelVersionFactory(), apply_threshold=0.9
    )
    results = []
    for code, other, p in (("X", "Y", 0.2), ("Y", "X", 0.5), ("X", "Y", 0.7)):
        product = ProductFactory(category=None)
        results.append(
            BatchResult.objects.create(
                job=job,
                item_id=product.pk,
                product=product,
                predicted_code=code,
                probability=p,
                top_k=[
                    {"code": code, "probability": p},
                    {"code": other, "probability": round(1 - p, 2)},
                ],
            )
        )
    review_items_from_results(job=job, results=results)
    return list(ReviewItem.objects.order_by("probability")), x, y


def test_list_filters_and_pages(waiting, api_as, staff_user):
    items, x, y = waiting
    client = api_as(staff_user)
    body = client.get("/api/v1/review-items/").json()
    assert body["count"] == 3
    assert [r["id"] for r in body["results"]] == [i.pk for i in items]
    first = body["results"][0]
    assert first["suggestions"] == [
        {"code": "X", "probability": 0.2},
        {"code": "Y", "probability": 0.8},
    ]
    assert (first["status"], first["reason"], first["product"]["category"]) == (
        "waiting",
        "low_confidence",
        None,
    )
    by_category = client.get("/api/v1/review-items/?category=X").json()
    assert [r["id"] for r in by_category["results"]] == [items[0].pk, items[2].pk]
    below = client.get("/api/v1/review-items/?max_probability=0.5").json()
    assert [r["id"] for r in below["results"]] == [items[0].pk]
    paged = client.get("/api/v1/review-items/?page_size=2&page=2").json()
    assert [r["id"] for r in paged["results"]] == [items[2].pk]
    bad = client.get("/api/v1/review-items/?max_probability=2")
    assert bad.status_code == 400


def test_decide_accept_and_correct(waiting, api_as, staff_user):
    items, x, y = waiting
    client = api_as(staff_user)
    accepted = client.post(
        f"/api/v1/review-items/{items[0].pk}/decide/", {"accept": True}, format="json"
    )
    assert accepted.status_code == 200
    assert (accepted.json()["status"], accepted.json()["chosen_category"]) == (
        "accepted",
        "X",
    )
    corrected = client.post(
        f"/api/v1/review-items/{items[1].pk}/decide/", {"category": "X"}, format="json"
    )
    assert (corrected.json()["status"], corrected.json()["decided_by"]) == (
        "corrected",
        "staff",
    )
    assert Product.objects.get(pk=items[1].product_id).category == x
    # twice, or neither accept nor category: refused
    again = client.post(
        f"/api/v1/review-items/{items[1].pk}/decide/", {"accept": True}, format="json"
    )
    assert again.status_code == 400
    assert "already reviewed" in again.json()["error"]["message"]
    neither = client.post(
        f"/api/v1/review-items/{items[2].pk}/decide/", {}, format="json"
    )
    assert neither.status_code == 400
    unknown = client.post(
        f"/api/v1/review-items/{items[2].pk}/decide/", {"category": "NO"}, format="json"
    )
    assert unknown.status_code == 400
    assert ReviewItem.objects.get(pk=items[2].pk).status == "waiting"
    assert (
        client.post("/api/v1/review-items/999999/decide/", {"accept": True}).status_code
        == 404
    )


def test_bulk_accept_by_ids_and_by_filter(waiting, api_as, staff_user):
    items, x, y = waiting
    client = api_as(staff_user)
    by_ids = client.post(
        "/api/v1/review-items/bulk-accept/", {"ids": [items[1].pk]}, format="json"
    )
    assert by_ids.json() == {"accepted": 1}
    by_filter = client.post(
        "/api/v1/review-items/bulk-accept/", {"category": "X"}, format="json"
    )
    assert by_filter.json() == {"accepted": 2}
    too_large = client.post(
        "/api/v1/review-items/bulk-accept/", {"ids": [2**63]}, format="json"
    )
    assert too_large.status_code == 400
    assert set(ReviewItem.objects.values_list("status", flat=True)) == {"accepted"}
    assert AuditEvent.objects.filter(verb="review.accepted").count() == 3


@pytest.mark.parametrize("role", ["seller", "integrator"])
def test_other_roles_are_refused(waiting, api_as, request, role):
    items, x, y = waiting
    client = api_as(request.getfixturevalue(role))
    assert client.get("/api/v1/review-items/").status_code == 403
    decide = client.post(
        f"/api/v1/review-items/{items[0].pk}/decide/", {"accept": True}, format="json"
    )
    assert decide.status_code == 403
    bulk = client.post("/api/v1/review-items/bulk-accept/", {}, format="json")
    assert bulk.status_code == 403
    assert client.get("/api/v1/taxonomy-migrations/1/").status_code == 403
    assert client.post("/api/v1/taxonomy-migrations/1/undo/").status_code == 403
    upload = client.post("/api/v1/taxonomy-migrations/", {}, format="multipart")
    assert upload.status_code == 403
    assert set(ReviewItem.objects.values_list("status", flat=True)) == {"waiting"}


# --- Taxonomy migrations --------------------------------------------------------------


@pytest.fixture
def abc(db):
    Category.objects.update(active=False)
    for code, n in (("A", 2), ("B", 2)):
        ProductFactory.create_batch(n, category=CategoryFactory(code=code))


def _upload(client, categories: str, mapping: str, **extra):
    return client.post(
        "/api/v1/taxonomy-migrations/",
        {
            "categories": SimpleUploadedFile("new.csv", categories.encode()),
            "mapping": SimpleUploadedFile("map.csv", mapping.encode()),
            **extra,
        },
        format="multipart",
    )


@pytest.mark.parametrize(
    ("mapping", "message"),
    [
        (
            "old_code,new_code\nZ,A2\n",
            "unknown old code (not in the current taxonomy): Z",
        ),
        ("old_code,new_code\nA,Q\n", "unknown new code (not in the new taxonomy): Q"),
        ("old_code,new_code\nA,B\nB,A\n", "the mapping has a cycle: A -> B -> A"),
        ("old_code,new_code\n", "mapping.csv: the mapping has no rows"),
        ("old,new\nA,B\n", "mapping.csv: expected the columns old_code and new_code"),
        ("", "The request is not valid."),  # an empty upload
    ],
)
def test_bad_mapping_files_are_refused_and_nothing_changes(
    abc, api_as, staff_user, mapping, message
):
    before = sorted(Product.objects.values_list("pk", "category__code"))
    response = _upload(api_as(staff_user), "code,name\nA,A\nB,B\nA2,A deux\n", mapping)
    assert response.status_code == 400
    assert response.json()["error"]["message"] == message
    assert sorted(Product.objects.values_list("pk", "category__code")) == before
    assert TaxonomyMigration.objects.count() == 0
    assert Category.objects.filter(code="A2").count() == 0


def test_dry_run_create_get_and_undo(abc, api_as, staff_user):
    client = api_as(staff_user)
    new, mapping = "code,name\nAB,Alpha beta\n", "old_code,new_code\nA,AB\nB,AB\n"
    dry = _upload(client, new, mapping, dry_run="true")
    assert dry.status_code == 200
    assert dry.json()["summary"]["mapped"] == {"A": "AB", "B": "AB"}
    assert TaxonomyMigration.objects.count() == 0
    created = _upload(client, new, mapping)
    assert created.status_code == 201
    body = created.json()
    assert (body["status"], body["from_version"], body["to_version"]) == (
        "done",
        "1",
        "2",
    )
    assert body["moves"] == {"mapped": 4, "model": 0, "staff": 0, "waiting": 0}
    assert Product.objects.filter(category__code="AB").count() == 4
    detail = client.get(f"/api/v1/taxonomy-migrations/{body['id']}/").json()
    assert detail["mapping"] == {"A": ["AB"], "B": ["AB"]}
    undone = client.post(f"/api/v1/taxonomy-migrations/{body['id']}/undo/")
    assert (undone.status_code, undone.json()["status"]) == (200, "undone")
    assert Product.objects.filter(category__code="AB").count() == 0
    assert CategoryMove.objects.count() == 4
    again = client.post(f"/api/v1/taxonomy-migrations/{body['id']}/undo/")
    assert again.status_code == 400
    assert client.get("/api/v1/taxonomy-migrations/999999/").status_code == 404
