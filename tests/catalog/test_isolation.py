"""Seller isolation, checked on every route that takes an object id.

The routes come from the URL resolver, so a new object route fails
``test_every_object_route_is_classified`` until it is added to ``OBJECT_ROUTES``
with the rule it follows. Each classified route is then tried as the owner, another
seller, an integrator, staff and an anonymous visitor, with every method."""

from datetime import timedelta

import pytest
from django.core.files.base import ContentFile
from django.test import Client
from django.urls import URLResolver, get_resolver, reverse
from django.utils import timezone
from rest_framework.test import APIClient

from catalog.models import (
    ListingImport,
    ListingImportRow,
    Product,
    TaxonomyMigration,
    TaxonomyVersion,
)
from ml.models import (
    Alert,
    BatchJob,
    ModelVersion,
    ReviewItem,
    SellerLabelReview,
    TrainingRun,
)
from tests.factories import CategoryFactory, ProductFactory
from tests.images import jpeg_bytes

OWNED = "owned by its seller: other sellers get 404, only the seller changes it"
STAFF = "staff only: everyone else gets 403"
POOL = "the unlabelled pool: imported products without a seller, any user reads"
IMPORT = "a seller's listing import: only its seller reads or changes it; 404 to others"

OBJECT_ROUTES = {
    # HTML pages
    "catalog:product_detail": OWNED,
    "catalog:product_photo": OWNED,
    "catalog:product_edit": OWNED,
    "catalog:product_delete": OWNED,
    "catalog:proposal_photo": POOL,
    "ml:training_progress": STAFF,
    "ml:model_version_activate": STAFF,
    "ml:alert_acknowledge": STAFF,
    "ml:alert_resolve": STAFF,
    "ml:seller_label_review_clear": STAFF,
    "ml:seller_label_review_exclude": STAFF,
    # REST API
    "api-product": OWNED,
    "api-product-photo": OWNED,
    "api-proposal-photo": POOL,
    "api-training-run": STAFF,
    "api-model-version-activate": STAFF,
    # Listing imports (a seller's staged catalogue upload)
    "catalog:listing_import_detail": IMPORT,
    "catalog:listing_import_progress": IMPORT,
    "catalog:listing_import_row_choose": IMPORT,
    "catalog:listing_import_row_photo": IMPORT,
    "catalog:listing_import_accept": IMPORT,
    "catalog:listing_import_confirm": IMPORT,
    "api-listing-import": IMPORT,
    "api-listing-import-confirm": IMPORT,
    # Batch jobs, the review queue and taxonomy migrations (staff)
    "ml:batch_job": STAFF,
    "ml:batch_job_progress": STAFF,
    "ml:batch_job_cancel": STAFF,
    "ml:batch_job_resume": STAFF,
    "api-batch-job": STAFF,
    "api-batch-job-cancel": STAFF,
    "api-batch-job-resume": STAFF,
    "ml:review_decide": STAFF,
    "api-review-item-decide": STAFF,
    "ml:taxonomy_migration_predict": STAFF,
    "ml:taxonomy_migration_train": STAFF,
    "ml:taxonomy_migration_undo": STAFF,
    "api-taxonomy-migration": STAFF,
    "api-taxonomy-migration-predict": STAFF,
    "api-taxonomy-migration-train": STAFF,
    "api-taxonomy-migration-undo": STAFF,
}
EXCLUDED_NAMESPACES = {
    "admin": "the Django admin lets in only is_staff users (staff read everything)",
}
# Staff and integrators read every product through these (GET).
READ_ROUTES = {
    "catalog:product_detail",
    "catalog:product_photo",
    "api-product",
    "api-product-photo",
}
METHODS = ["get", "post", "put", "patch", "delete"]
ACTORS = ["owner", "other_seller", "integrator", "staff", "anonymous"]
MISSING_PK = 987654


def object_routes() -> dict[str, list[str]]:
    """{route name: its parameters} for every route with a parameter."""
    found: dict[str, list[str]] = {}

    def walk(patterns, namespace: str, params: list[str]):
        for entry in patterns:
            names = [*params, *entry.pattern.regex.groupindex]
            if isinstance(entry, URLResolver):
                inner = entry.namespace or ""
                if inner in EXCLUDED_NAMESPACES:
                    continue
                full = f"{namespace}:{inner}" if namespace and inner else inner
                walk(entry.url_patterns, full or namespace, names)
            elif names:
                name = entry.name or str(entry.pattern)
                found[f"{namespace}:{name}" if namespace else name] = names

    walk(get_resolver().url_patterns, "", [])
    return found


def test_every_object_route_is_classified():
    routes = object_routes()
    unclassified = sorted(set(routes) - set(OBJECT_ROUTES))
    assert unclassified == [], f"classify these routes in OBJECT_ROUTES: {unclassified}"
    assert sorted(set(OBJECT_ROUTES) - set(routes)) == []
    assert all(params in (["pk"], ["pk", "row_pk"]) for params in routes.values())


# --- Trying every route --------------------------------------------------------------


@pytest.fixture
def category(db):
    return CategoryFactory()


@pytest.fixture
def clients(seller, other_seller, integrator, staff_user, api_as):
    """{actor: (HTML client, API client)}; "owner" is ``seller``."""
    users = {
        "owner": seller,
        "other_seller": other_seller,
        "integrator": integrator,
        "staff": staff_user,
    }
    result = {"anonymous": (Client(), APIClient())}
    for actor, user in users.items():
        html = Client()
        html.force_login(user)
        result[actor] = (html, api_as(user))
    return result


def make_object(kind: str, seller, category):
    if kind == OWNED:
        product = ProductFactory(seller=seller, category=category, title="Original")
        product.image.save("p.jpg", ContentFile(jpeg_bytes()))
        return product
    if kind == POOL:
        product = ProductFactory(seller=None, category=None, source="import")
        product.image.save("p.jpg", ContentFile(jpeg_bytes()))
        return product
    return ModelVersion.objects.create(
        name="v", status="ready", bundle_path="/nowhere", bundle_sha256="a" * 64
    )


def object_for(name: str, kind: str, seller, category):
    if "batch_job" in name or "batch-job" in name:
        return BatchJob.objects.create(
            scope="all", model_version=make_object(STAFF, seller, category)
        )
    if name in ("ml:review_decide", "api-review-item-decide"):
        product = ProductFactory(seller=None, category=None, source="import")
        return ReviewItem.objects.create(product=product)
    if "taxonomy" in name:
        old = TaxonomyVersion.objects.create(name="old")
        new = TaxonomyVersion.objects.create(name="new")
        return TaxonomyMigration.objects.create(
            from_version=old, to_version=new, status="done"
        )
    if name in ("ml:training_progress", "api-training-run"):
        return TrainingRun.objects.create()
    if name in ("ml:alert_acknowledge", "ml:alert_resolve"):
        return Alert.objects.create(
            kind="global",
            model_version=make_object(kind, seller, category),
            value=0.5,
            threshold=0.8,
            message="test",
        )
    if name in ("ml:seller_label_review_clear", "ml:seller_label_review_exclude"):
        return SellerLabelReview.objects.create(
            seller=seller, active_key=str(seller.pk)
        )
    return make_object(kind, seller, category)


def listing_import_of(seller, category) -> tuple[ListingImport, ListingImportRow]:
    listing_import = ListingImport.objects.create(
        seller=seller,
        status=ListingImport.Status.READY,
        threshold=0.9,
        rows_total=1,
        expires_at=timezone.now() + timedelta(days=1),
    )
    row = ListingImportRow.objects.create(
        listing_import=listing_import, line=2, sku="SKU-1", title="Original"
    )
    return listing_import, row


ROW_PK = {"pk": None}  # the row of the import a listing-import route is tried with


def call(clients, actor: str, name: str, method: str, pk: int, category):
    html, api = clients[actor]
    kwargs = {"pk": pk}
    if "row" in name and "listing_import" in name:
        kwargs["row_pk"] = ROW_PK["pk"] if pk != MISSING_PK else MISSING_PK
    url = reverse(name, kwargs=kwargs)
    payload = {"title": "Hacked title", "description": "", "category": category.pk}
    if name.startswith("api-"):
        return getattr(api, method)(url, payload, format="json")
    if method in ("get", "post"):
        return getattr(html, method)(url, payload)
    return getattr(html, method)(url)


def assert_anonymous_refused(name: str, response):
    if name.startswith("api-"):
        assert response.status_code == 401
        assert response.json()["error"]["code"] == "not_authenticated"
    else:
        assert response.status_code == 302
        assert response["Location"].startswith("/accounts/login/?next=")


@pytest.mark.parametrize("name", [n for n, k in OBJECT_ROUTES.items() if k == OWNED])
def test_seller_owned_routes(name, clients, seller, category):
    product = make_object(OWNED, seller, category)
    for method in METHODS:
        # Another seller: exactly what a missing object answers, never a success
        foreign = call(clients, "other_seller", name, method, product.pk, category)
        missing = call(clients, "other_seller", name, method, MISSING_PK, category)
        assert foreign.status_code == missing.status_code, (method, foreign)
        assert foreign.status_code in (404, 405), (method, foreign)
        # Anonymous: sent to log in (HTML) or 401 (API)
        assert_anonymous_refused(
            name, call(clients, "anonymous", name, method, product.pk, category)
        )
        # Staff and integrators may read, never change
        for actor in ("integrator", "staff"):
            response = call(clients, actor, name, method, product.pk, category)
            if method == "get" and name in READ_ROUTES:
                assert response.status_code == 200, (actor, method)
            elif method == "get":  # the edit and delete forms are the seller's
                assert response.status_code == 404, (actor, method)
            else:
                assert response.status_code in (403, 404, 405), (actor, method)
        # Nothing of the product changed
        product.refresh_from_db()
        assert product.title == "Original"
    # The owner is served (each method on a fresh product: DELETE deletes it)
    for method in METHODS:
        own = make_object(OWNED, seller, category)
        response = call(clients, "owner", name, method, own.pk, category)
        assert response.status_code not in (401, 403, 404), (method, response)
        assert response.status_code < 500


@pytest.mark.parametrize("name", [n for n, k in OBJECT_ROUTES.items() if k == STAFF])
def test_staff_only_routes(name, clients, seller, category):
    target = object_for(name, STAFF, seller, category)
    for method in METHODS:
        for actor in ("owner", "other_seller", "integrator"):
            response = call(clients, actor, name, method, target.pk, category)
            assert response.status_code == 403, (actor, method, response)
        assert_anonymous_refused(
            name, call(clients, "anonymous", name, method, target.pk, category)
        )
    if isinstance(target, ModelVersion):
        target.refresh_from_db()
        assert target.status == "ready"
    for method in METHODS:
        response = call(clients, "staff", name, method, target.pk, category)
        assert response.status_code not in (401, 403, 404), (method, response)
        assert response.status_code < 500


@pytest.mark.parametrize("name", [n for n, k in OBJECT_ROUTES.items() if k == POOL])
def test_unlabelled_pool_routes(name, clients, seller, other_seller, category):
    pooled = make_object(POOL, None, category)
    listing = make_object(OWNED, other_seller, category)
    for actor in ("owner", "other_seller", "integrator", "staff"):
        assert call(clients, actor, name, "get", pooled.pk, category).status_code == 200
        # a seller's listing is never served as part of the pool
        assert (
            call(clients, actor, name, "get", listing.pk, category).status_code == 404
        )
        for method in ("post", "put", "patch", "delete"):
            response = call(clients, actor, name, method, pooled.pk, category)
            assert response.status_code == 405
    for method in METHODS:
        assert_anonymous_refused(
            name, call(clients, "anonymous", name, method, pooled.pk, category)
        )
    assert Product.objects.filter(pk=pooled.pk).exists()


@pytest.mark.parametrize("name", [n for n, k in OBJECT_ROUTES.items() if k == IMPORT])
def test_listing_import_routes(name, clients, seller, category):
    listing_import, row = listing_import_of(seller, category)
    ROW_PK["pk"] = row.pk
    for method in METHODS:
        foreign = call(
            clients, "other_seller", name, method, listing_import.pk, category
        )
        missing = call(clients, "other_seller", name, method, MISSING_PK, category)
        assert foreign.status_code == missing.status_code, (method, foreign)
        assert foreign.status_code in (404, 405), (method, foreign)
        assert_anonymous_refused(
            name, call(clients, "anonymous", name, method, listing_import.pk, category)
        )
        for actor in ("integrator", "staff"):  # not even staff read a seller's upload
            response = call(clients, actor, name, method, listing_import.pk, category)
            assert response.status_code in (403, 404, 405), (actor, method, response)
    row.refresh_from_db()
    assert row.title == "Original" and row.category_id is None
    listing_import.refresh_from_db()
    assert listing_import.status == ListingImport.Status.READY
    for method in METHODS:
        response = call(clients, "owner", name, method, listing_import.pk, category)
        assert response.status_code < 500, (method, response)
        if not name.endswith("photo"):  # (the row has no photo: 404 is right there)
            assert response.status_code not in (401, 403, 404), (method, response)


# --- Lists -----------------------------------------------------------------------


def test_lists_never_show_another_sellers_products(clients, seller, category):
    # Given three products of the owner's
    ProductFactory.create_batch(3, seller=seller, category=category)
    html, api = clients["other_seller"]
    # When another seller lists products (HTML and API) and searches for them
    html_page = html.get("/products/")
    api_page = api.get("/api/v1/products/", {"search": "Produit"})
    by_category = api.get("/api/v1/products/", {"category": category.pk})
    # Then none is listed
    assert html_page.status_code == 200
    assert list(html_page.context["page"].object_list) == []
    assert api_page.json()["count"] == 0
    assert by_category.json()["count"] == 0
    # while the owner sees all three
    assert clients["owner"][1].get("/api/v1/products/").json()["count"] == 3
