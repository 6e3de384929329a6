"""A listing import's confirmation off the web request: the claim (``confirming``,
decided and checked at once) queues one task after commit; the task lists the rows
once, however often it is delivered (a delivery after a lost worker resumes after the
last committed chunk); an error puts the import back to ready with a note, and
confirming again lists the rest without duplicates."""

import pytest

from audit.models import AuditEvent
from catalog.models import ListingImport, Product
from catalog.services.listing_import_confirmation import (
    FAILED_NOTE,
    _chunk_confirm,
    listing_import_confirm_enqueue,
    listing_import_confirm_run,
)
from catalog.services.listing_imports import ImportNotReadyError
from rakuten.celery import app
from rakuten.exceptions import NotFoundError
from tests.catalog.test_services_listing_imports import TOPS, suggest, upload

pytestmark = pytest.mark.django_db

_calls = []


def record_then_fail(*, rows, user):
    """A predictions recorder that fails on its second chunk."""
    _calls.append([row.sku for row in rows])
    if len(_calls) == 2:
        raise RuntimeError("the database went away")
    return []


@pytest.fixture
def eager():
    before = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = before


@pytest.fixture
def ready(seller, training_categories):
    listing_import = upload(seller)
    suggest(listing_import, training_categories, TOPS)
    return listing_import


def test_the_claim_queues_the_listing_once_committed(
    ready, seller, eager, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as callbacks:
        claimed = listing_import_confirm_enqueue(
            listing_import=ready, user=seller, accept_at_or_above=0.0
        )
    # Claimed at once, nothing listed until the task runs
    assert claimed.status == ListingImport.Status.CONFIRMING
    assert (claimed.rows_skipped, claimed.confirmed_at) == (0, None)
    assert Product.objects.count() == 0
    with pytest.raises(ImportNotReadyError, match="This import is listing products"):
        listing_import_confirm_enqueue(listing_import=ready, user=seller)
    assert len(callbacks) == 1

    callbacks[0]()  # the task, eagerly

    ready.refresh_from_db()
    assert ready.status == ListingImport.Status.CONFIRMED
    assert ready.confirmed_at is not None
    assert (ready.products_created, ready.products_updated) == (3, 0)
    assert sorted(Product.objects.values_list("sku", "category__code")) == [
        ("A-1", "9101"),
        ("A-2", "9102"),
        ("A-3", "9103"),
    ]
    assert AuditEvent.objects.filter(verb="listing_import.confirmed").count() == 1


def test_a_second_delivery_of_the_task_lists_nothing(ready, seller):
    listing_import_confirm_enqueue(listing_import=ready, user=seller)
    ids = list(
        ready.rows.filter(decision="accepted")
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    assert len(ids) == 2

    first = listing_import_confirm_run(
        import_id=ready.pk, user_id=seller.pk, row_ids=ids
    )
    again = listing_import_confirm_run(
        import_id=ready.pk, user_id=seller.pk, row_ids=ids
    )

    assert first.status == ListingImport.Status.CONFIRMED and again is None
    ready.refresh_from_db()
    assert (ready.products_created, ready.rows_skipped) == (2, 1)
    assert Product.objects.count() == 2


def test_a_delivery_after_a_lost_worker_resumes_after_its_last_chunk(
    ready, seller, settings
):
    settings.LISTING_IMPORT_CONFIRM_CHUNK = 1
    listing_import_confirm_enqueue(
        listing_import=ready, user=seller, accept_at_or_above=0.0
    )
    ids = list(ready.rows.order_by("pk").values_list("pk", flat=True))
    # Given the first delivery listed its first chunk, then its worker was killed
    assert _chunk_confirm(ready, seller, 0, ids[:1], record=lambda **kw: [])
    ready.refresh_from_db()
    assert (ready.status, ready.rows_listed, ready.products_created) == (
        "confirming",
        1,
        1,
    )

    # When the message is delivered again
    done = listing_import_confirm_run(
        import_id=ready.pk, user_id=seller.pk, row_ids=ids
    )

    # Then it lists the two other rows only, and a late chunk of the lost delivery
    # writes nothing
    assert (done.status, done.rows_listed) == ("confirmed", 3)
    assert (done.products_created, done.products_updated) == (3, 0)
    assert Product.objects.count() == 3
    assert not _chunk_confirm(ready, seller, 1, ids[1:2], record=lambda **kw: [])
    assert Product.objects.count() == 3


def test_a_refused_request_claims_nothing(ready, seller):
    with pytest.raises(NotFoundError):
        listing_import_confirm_enqueue(
            listing_import=ready, user=seller, choices={10**9: None}
        )
    ready.refresh_from_db()
    assert ready.status == ListingImport.Status.READY


def test_an_error_gives_the_import_back_with_a_note_and_a_retry_lists_the_rest(
    ready, seller, settings, eager, django_capture_on_commit_callbacks
):
    _calls.clear()
    settings.LISTING_IMPORT_CONFIRM_CHUNK = 1
    settings.LISTING_IMPORT_PREDICTIONS_RECORD = f"{__name__}.record_then_fail"
    with (
        pytest.raises(RuntimeError, match="went away"),
        django_capture_on_commit_callbacks(execute=True),
    ):
        listing_import_confirm_enqueue(
            listing_import=ready, user=seller, accept_at_or_above=0.0
        )

    ready.refresh_from_db()
    assert (ready.status, ready.note, ready.confirmed_at) == (
        "ready",
        FAILED_NOTE,
        None,
    )
    # the first chunk was listed; the second rolled back
    assert list(Product.objects.values_list("sku", flat=True)) == ["A-1"]
    assert ready.rows.get(sku="A-1").product_id is not None

    with django_capture_on_commit_callbacks(execute=True):
        listing_import_confirm_enqueue(
            listing_import=ready, user=seller, accept_at_or_above=0.0
        )

    ready.refresh_from_db()
    assert (ready.status, ready.note) == ("confirmed", "")
    assert sorted(Product.objects.values_list("sku", flat=True)) == [
        "A-1",
        "A-2",
        "A-3",
    ]
    assert (ready.products_created, ready.products_updated) == (3, 1)
