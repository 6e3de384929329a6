"""The listing-import pages: upload, progress, review (filter, change one row, bulk
accept), confirm; refusals as form errors; another seller's import is a 404."""

import pytest
from django.urls import reverse

from catalog.models import ListingImport, Product
from ml.models import Prediction
from rakuten.celery import app
from tests.catalog.listing_import_data import csv_upload, zip_upload
from tests.images import jpeg_bytes

pytestmark = pytest.mark.django_db

ROWS = [
    ("V-1", "roman poche auteur", "chapitre edition", "a.jpg"),
    ("V-2", "console manette jeu", "playstation nintendo", ""),
    ("V-3", "piscine filtre pompe", "chlore bassin", ""),
]


@pytest.fixture
def eager():
    before = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = before


def post_upload(client, rows=ROWS, photos=None):
    photos = {"a.jpg": jpeg_bytes()} if photos is None else photos
    data = {"csv": csv_upload(rows)}
    if photos:
        data["zip"] = zip_upload(photos)
    return client.post(reverse("catalog:listing_import"), data)


def test_the_upload_page_needs_a_log_in(client):
    response = client.get(reverse("catalog:listing_import"))
    assert response.status_code == 302
    assert "/accounts/login/" in response["Location"]


def test_a_refused_file_is_a_form_error_and_stores_nothing(client_logged_in_as, seller):
    client = client_logged_in_as(seller)
    response = post_upload(client, photos={"../a.jpg": jpeg_bytes()})

    assert response.status_code == 200
    assert "The zip holds an unsafe path (../a.jpg)" in response.content.decode()
    assert ListingImport.objects.count() == 0


def test_upload_shows_progress_until_the_suggestions_are_in(
    client_logged_in_as, seller
):
    client = client_logged_in_as(seller)
    response = post_upload(client)
    listing_import = ListingImport.objects.get()
    assert response["Location"] == listing_import.get_absolute_url()

    page = client.get(listing_import.get_absolute_url()).content.decode()
    assert 'id="import-progress"' in page
    assert "0 of 3 rows suggested" in page
    progress = reverse("catalog:listing_import_progress", args=[listing_import.pk])
    assert client.get(progress).status_code == 200
    ListingImport.objects.filter(pk=listing_import.pk).update(status="ready")
    response = client.get(progress)
    assert (response.status_code, response["HX-Refresh"]) == (204, "true")


def test_review_change_one_row_bulk_accept_and_confirm(
    client_logged_in_as,
    seller,
    active_model,
    training_categories,
    eager,
    django_capture_on_commit_callbacks,
):
    client = client_logged_in_as(seller)
    with django_capture_on_commit_callbacks(execute=True):
        post_upload(client)
    listing_import = ListingImport.objects.get()
    assert listing_import.status == "ready"
    url = listing_import.get_absolute_url()

    page = client.get(url).content.decode()
    assert page.count('class="import-thumb"') == 1
    assert page.count('class="suggestion"') == 9  # the top 3 of each row
    row = listing_import.rows.get(sku="V-2")
    photo = listing_import.rows.get(sku="V-1")
    assert (
        client.get(
            reverse(
                "catalog:listing_import_row_photo", args=[listing_import.pk, photo.pk]
            )
        ).status_code
        == 200
    )

    # Change V-2 to a category other than its first suggestion, then accept the rest.
    other = training_categories["9103"]
    response = client.post(
        reverse("catalog:listing_import_row_choose", args=[listing_import.pk, row.pk]),
        {"category": other.pk, "next": "decision=flagged"},
    )
    assert response["Location"] == f"{url}?decision=flagged"
    row.refresh_from_db()
    assert (row.category, row.decision) == (other, "changed")
    changed = client.get(f"{url}?decision=changed").content.decode()
    assert 'data-sku="V-2"' in changed and 'data-sku="V-1"' not in changed
    client.post(reverse("catalog:listing_import_accept", args=[listing_import.pk]))
    assert set(listing_import.rows.values_list("decision", flat=True)) <= {
        "accepted",
        "changed",
    }

    # Confirming queues the listing on a worker: the page shows it in progress
    with django_capture_on_commit_callbacks() as callbacks:
        response = client.post(
            reverse("catalog:listing_import_confirm", args=[listing_import.pk])
        )
    assert response["Location"] == url
    page = client.get(url).content.decode()
    assert "Import confirmed: listing your products…" in page
    assert "Listing your products… 0 of 3 rows listed." in page
    assert 'data-status="confirming"' in page
    progress = reverse("catalog:listing_import_progress", args=[listing_import.pk])
    assert "Listing your products…" in client.get(progress).content.decode()
    assert Product.objects.count() == 0
    # until the task has listed them
    assert len(callbacks) == 1
    callbacks[0]()
    response = client.get(progress)
    assert (response.status_code, response["HX-Refresh"]) == (204, "true")
    page = client.get(url).content.decode()
    assert 'data-status="confirmed"' in page
    assert ": 3 products listed, 0 updated, 0 rows not listed." in page
    assert dict(Product.objects.values_list("sku", "category__code")) == {
        "V-1": "9101",
        "V-2": "9103",
        "V-3": "9103",
    }
    kept = {p.product.sku: p.kept for p in Prediction.objects.all()}
    assert kept == {"V-1": True, "V-2": False, "V-3": True}


def test_another_sellers_import_is_not_found(
    client_logged_in_as, seller, other_seller, training_categories
):
    post_upload(client_logged_in_as(seller))
    listing_import = ListingImport.objects.get()
    row = listing_import.rows.first()
    intruder = client_logged_in_as(other_seller)
    pk = listing_import.pk

    assert intruder.get(listing_import.get_absolute_url()).status_code == 404
    assert (
        intruder.get(
            reverse("catalog:listing_import_row_photo", args=[pk, row.pk])
        ).status_code
        == 404
    )
    assert (
        intruder.post(
            reverse("catalog:listing_import_row_choose", args=[pk, row.pk]),
            {"category": training_categories["9101"].pk},
        ).status_code
        == 404
    )
    assert (
        intruder.post(reverse("catalog:listing_import_confirm", args=[pk])).status_code
        == 404
    )
    assert ListingImport.objects.get().status == "uploaded"
