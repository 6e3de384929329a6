"""A listing import whose suggestion job fails or is cancelled goes back to its seller:
ready, with a note, the rows without a suggestion flagged for a hand choice and the
suggested rows kept. A resumed job fills in only the rows still waiting; another
scope's stop touches no import; a scope without ``on_stop`` stops as before."""

import random

import pytest

from catalog.models import ListingImport
from catalog.services.listing_imports import (
    listing_import_create,
    listing_import_row_choose,
)
from ml.models import BatchChunk, BatchJob, BatchResult
from ml.services import batch_scopes
from ml.services.batch import (
    batch_chunk_run,
    batch_job_cancel,
    batch_job_create,
    batch_job_resume,
)
from ml.services.batch_scopes import AllProductsScope
from ml.services.listing_suggestions import listing_import_suggest
from tests.catalog.listing_import_data import csv_upload
from tests.factories import ModelVersionFactory, ProductFactory, product_text

pytestmark = pytest.mark.django_db

FAILED_NOTE = (
    "Suggestions stopped (the batch job failed): choose the remaining rows' categories."
)
CANCELLED_NOTE = (
    "Suggestions stopped (the batch job was cancelled): choose the remaining rows' "
    "categories."
)


@pytest.fixture
def suggesting(
    seller, active_model, sent, settings, django_capture_on_commit_callbacks
):
    """A 5-row import suggesting, its job in chunks of 2 (3 chunks sent), the first
    chunk done: 2 rows suggested, 3 waiting."""
    settings.BATCH_CHUNK_SIZE = 2
    rng = random.Random(5)
    codes = ["9101", "9102", "9103", "9101", "9102"]
    rows = [(f"R-{i}", *product_text(code, rng), "") for i, code in enumerate(codes)]
    listing_import = listing_import_create(seller=seller, csv_file=csv_upload(rows))
    with django_capture_on_commit_callbacks(execute=True):
        listing_import_suggest(import_id=listing_import.pk)
    listing_import.refresh_from_db()
    assert listing_import.status == ListingImport.Status.SUGGESTING
    assert len(sent) == 3
    assert batch_chunk_run(chunk_id=sent[0]) == "done"
    job = BatchJob.objects.get(pk=listing_import.batch_job_id)
    return listing_import, job


def rows_state(listing_import):
    return {
        row.sku: (row.decision, row.category_id, row.suggestions)
        for row in listing_import.rows.all()
    }


def assert_back_in_the_sellers_hands(listing_import, before, note):
    listing_import.refresh_from_db()
    assert listing_import.status == ListingImport.Status.READY
    assert listing_import.note == note
    assert listing_import.suggested_at is not None
    after = rows_state(listing_import)
    # the 2 suggested rows are kept as they were
    suggested = {sku for sku, (_, _, suggestions) in before.items() if suggestions}
    assert suggested == {"R-0", "R-1"}
    assert {sku: after[sku] for sku in suggested} == {
        sku: before[sku] for sku in suggested
    }
    # the 3 others are flagged, without a suggestion or a category
    assert {sku: after[sku] for sku in after if sku not in suggested} == {
        "R-2": ("flagged", None, []),
        "R-3": ("flagged", None, []),
        "R-4": ("flagged", None, []),
    }


def test_a_failed_job_gives_the_import_back_to_its_seller(suggesting, sent):
    listing_import, job = suggesting
    before = rows_state(listing_import)
    assert [before[f"R-{i}"][0] for i in range(2, 5)] == ["pending"] * 3
    # Given the job's model can no longer be read, when its next chunk runs
    BatchJob.objects.filter(pk=job.pk).update(model_version=ModelVersionFactory())
    assert batch_chunk_run(chunk_id=sent[1]) == "failed"

    job.refresh_from_db()
    assert job.status == "failed"
    assert_back_in_the_sellers_hands(listing_import, before, FAILED_NOTE)
    assert listing_import.rows.filter(decision="flagged").count() == 3 + sum(
        decision == "flagged" for decision, _, _ in before.values()
    )
    # the last chunk, delivered late, is skipped and changes nothing
    assert batch_chunk_run(chunk_id=sent[2]) == "skipped"
    assert listing_import.rows.filter(suggestions=[]).count() == 3


def test_a_cancelled_job_gives_the_import_back_to_its_seller(suggesting, staff_user):
    listing_import, job = suggesting
    before = rows_state(listing_import)

    batch_job_cancel(job=job, user=staff_user)

    assert_back_in_the_sellers_hands(listing_import, before, CANCELLED_NOTE)


def test_the_note_shows_on_the_page_and_in_the_api(
    suggesting, seller, staff_user, client_logged_in_as, api_as
):
    listing_import, job = suggesting
    batch_job_cancel(job=job, user=staff_user)

    page = client_logged_in_as(seller).get(listing_import.get_absolute_url())
    assert CANCELLED_NOTE.replace("'", "&#x27;") in page.content.decode()
    body = api_as(seller).get(f"/api/v1/listing-imports/{listing_import.pk}/").json()
    assert (body["status"], body["note"]) == ("ready", CANCELLED_NOTE)


def test_a_resumed_job_fills_in_only_the_rows_still_waiting(
    suggesting,
    sent,
    active_model,
    training_categories,
    staff_user,
    django_capture_on_commit_callbacks,
):
    listing_import, job = suggesting
    BatchJob.objects.filter(pk=job.pk).update(model_version=ModelVersionFactory())
    assert batch_chunk_run(chunk_id=sent[1]) == "failed"
    listing_import.refresh_from_db()
    before = rows_state(listing_import)
    # Given the seller chose one waiting row's category by hand
    chosen = listing_import.rows.get(sku="R-2")
    listing_import_row_choose(
        listing_import=listing_import,
        row_id=chosen.pk,
        category=training_categories["9103"],
    )
    # When staff fix the model and resume the job
    BatchJob.objects.filter(pk=job.pk).update(model_version=active_model)
    sent.clear()
    with django_capture_on_commit_callbacks(execute=True):
        batch_job_resume(job=job, user=staff_user)
    assert sent == list(
        BatchChunk.objects.filter(job=job, index__in=[1, 2])
        .order_by("index")
        .values_list("pk", flat=True)
    )
    assert [batch_chunk_run(chunk_id=pk) for pk in sent] == ["done", "done"]

    job.refresh_from_db()
    listing_import.refresh_from_db()
    assert job.status == "finished"
    assert BatchResult.objects.filter(job=job).count() == 5
    # Then the import stays ready, its note gone: every row has its suggestion or
    # the seller's choice
    assert (listing_import.status, listing_import.note) == ("ready", "")
    after = rows_state(listing_import)
    assert {sku: after[sku] for sku in ("R-0", "R-1")} == {
        sku: before[sku] for sku in ("R-0", "R-1")
    }
    assert after["R-2"] == ("changed", training_categories["9103"].pk, [])
    for sku in ("R-3", "R-4"):
        decision, category_id, suggestions = after[sku]
        assert len(suggestions) == 3 and decision in ("accepted", "flagged")
        assert suggestions[0]["category_id"] == category_id


def test_a_confirmed_import_takes_nothing_from_a_resumed_job(
    suggesting, sent, active_model, staff_user, django_capture_on_commit_callbacks
):
    listing_import, job = suggesting
    batch_job_cancel(job=job, user=staff_user)
    ListingImport.objects.filter(pk=listing_import.pk).update(
        status=ListingImport.Status.CONFIRMED
    )
    before = rows_state(listing_import)
    sent.clear()
    with django_capture_on_commit_callbacks(execute=True):
        batch_job_resume(job=job, user=staff_user)
    assert [batch_chunk_run(chunk_id=pk) for pk in sent] == ["done", "done"]

    assert rows_state(listing_import) == before
    listing_import.refresh_from_db()
    assert (listing_import.status, listing_import.note) == ("confirmed", CANCELLED_NOTE)


def test_another_scopes_failure_or_cancel_touches_no_import(
    suggesting,
    sent,
    training_categories,
    staff_user,
    django_capture_on_commit_callbacks,
):
    listing_import, import_job = suggesting
    before = rows_state(listing_import)
    ProductFactory.create_batch(3, category=training_categories["9101"])
    sent.clear()
    with django_capture_on_commit_callbacks(execute=True):
        failing = batch_job_create(scope="all", model_version=ModelVersionFactory())
        cancelled = batch_job_create(scope="all")
    assert batch_chunk_run(chunk_id=sent[0]) == "failed"
    batch_job_cancel(job=cancelled, user=staff_user)

    failing.refresh_from_db()
    assert (failing.status, BatchJob.objects.get(pk=cancelled.pk).status) == (
        "failed",
        "cancelled",
    )
    listing_import.refresh_from_db()
    assert (listing_import.status, listing_import.note) == ("suggesting", "")
    assert rows_state(listing_import) == before
    assert BatchJob.objects.get(pk=import_job.pk).status == "running"


class NoStopScope:
    """Every product, with the protocol's required methods only (no ``on_stop``)."""

    def __init__(self):
        self._all = AllProductsScope()

    def validate(self, params):
        return self._all.validate(params)

    def item_ids(self, job):
        return self._all.item_ids(job)

    def items(self, job, ids):
        return self._all.items(job, ids)

    def on_results(self, job, results):
        return None

    def on_finish(self, job):
        return None


def test_a_scope_without_on_stop_fails_and_cancels_as_before(
    monkeypatch, active_model, training_categories, sent, staff_user
):
    monkeypatch.setitem(
        batch_scopes.SCOPES, "all", f"{__name__}:{NoStopScope.__name__}"
    )
    ProductFactory.create_batch(2, category=training_categories["9101"])
    cancelled = batch_job_create(scope="all")
    assert batch_job_cancel(job=cancelled, user=staff_user).status == "cancelled"
    failing = batch_job_create(scope="all", model_version=ModelVersionFactory())
    chunk = BatchChunk.objects.get(job=failing)
    assert batch_chunk_run(chunk_id=chunk.pk) == "failed"
    failing.refresh_from_db()
    assert failing.status == "failed"
