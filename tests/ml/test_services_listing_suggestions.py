"""The model's side of a listing import: the batch engine's "import" scope writes each
row's suggestions and pre-decides it; the confirmation records each listed row's
prediction with the seller's choice, so a changed row is an anomaly (not kept)."""

import pytest

from catalog.models import ListingImport
from catalog.services.listing_import_confirmation import listing_import_confirm
from catalog.services.listing_imports import (
    listing_import_create,
    listing_import_row_choose,
)
from ml.models import BatchJob, BatchResult, ChoiceSource, Prediction
from ml.selectors.anomalies import prediction_linked_list
from ml.services.listing_suggestions import ImportScope, listing_import_suggest
from rakuten.exceptions import ApplicationError
from tests.catalog.listing_import_data import csv_upload, zip_upload
from tests.factories import CategoryFactory, ModelVersionFactory
from tests.images import jpeg_bytes

pytestmark = pytest.mark.django_db

ROWS = [
    ("S-1", "Roman de poche", "Un roman", "a.jpg"),
    ("S-2", "Manette de console", "", ""),
]


@pytest.fixture
def listing_import(seller):
    return listing_import_create(
        seller=seller,
        csv_file=csv_upload(ROWS),
        zip_file=zip_upload({"a.jpg": jpeg_bytes()}),
    )


@pytest.fixture
def job(listing_import):
    listing_import.status = ListingImport.Status.SUGGESTING
    listing_import.save()
    return BatchJob.objects.create(
        scope=BatchJob.Scope.IMPORT,
        scope_params={"import_id": listing_import.pk},
        model_version=ModelVersionFactory(),
    )


def results(job, listing_import, tops, used=("text+image", "text")):
    rows = list(listing_import.rows.order_by("line"))
    return [
        BatchResult.objects.create(
            job=job,
            item_id=row.pk,
            predicted_code=top[0][0],
            probability=top[0][1],
            top_k=[{"code": c, "probability": p} for c, p in top],
            used=u,
        )
        for row, top, u in zip(rows, tops, used, strict=True)
    ]


def test_the_scope_reads_the_rows_with_their_photos(job, listing_import, settings):
    scope = ImportScope()
    assert scope.validate({"import_id": listing_import.pk}) == {
        "import_id": listing_import.pk
    }
    with pytest.raises(ApplicationError):
        scope.validate({"import_id": listing_import.pk + 1})

    ids = scope.item_ids(job)
    items = sorted(scope.items(job, ids), key=lambda item: item.item_id)

    rows = list(listing_import.rows.order_by("pk"))
    assert ids == [row.pk for row in rows]
    assert [(i.title, i.description) for i in items] == [
        ("Roman de poche", "Un roman"),
        ("Manette de console", ""),
    ]
    assert items[0].image.is_file()
    assert str(items[0].image).startswith(str(settings.MEDIA_ROOT))
    assert items[1].image is None


def test_results_become_suggestions_and_pre_decisions(
    job, listing_import, training_categories
):
    scope = ImportScope()
    tops = [
        [("9101", 0.93), ("9102", 0.05), ("9103", 0.01), ("9999", 0.01)],
        [("9102", 0.55), ("9103", 0.45)],
    ]
    scope.on_results(job, results(job, listing_import, tops))
    scope.on_finish(job)

    listing_import.refresh_from_db()
    assert listing_import.status == ListingImport.Status.READY
    first, second = listing_import.rows.order_by("line")
    livres, jeux = training_categories["9101"], training_categories["9102"]
    assert first.suggestions == [
        {
            "category_id": livres.pk,
            "code": "9101",
            "name": "Livres",
            "probability": 0.93,
        },
        {
            "category_id": jeux.pk,
            "code": "9102",
            "name": "Jeux vidéo",
            "probability": 0.05,
        },
        {
            "category_id": training_categories["9103"].pk,
            "code": "9103",
            "name": "Piscine",
            "probability": 0.01,
        },
    ]
    assert (first.decision, first.category, first.used) == (
        "accepted",
        livres,
        "text+image",
    )
    assert (second.decision, second.category, second.used) == ("flagged", jeux, "text")
    assert first.model_version_id == second.model_version_id == job.model_version_id


def test_a_first_suggestion_of_a_retired_category_is_flagged_without_a_category(
    job, listing_import
):
    CategoryFactory(code="9201", name="Retirée", active=False)
    ImportScope().on_results(
        job, results(job, listing_import, [[("9201", 0.99)], [("9201", 0.99)]])
    )
    assert list(listing_import.rows.values_list("decision", "category")) == [
        ("flagged", None),
        ("flagged", None),
    ]


def test_without_an_active_model_the_import_is_ready_and_every_row_flagged(
    listing_import,
):
    listing_import_suggest(import_id=listing_import.pk)

    listing_import.refresh_from_db()
    assert listing_import.status == ListingImport.Status.READY
    assert listing_import.note == "No model is active: choose each row's category."
    assert set(listing_import.rows.values_list("decision", flat=True)) == {"flagged"}
    # Safe to run twice: a ready import starts nothing.
    assert listing_import_suggest(import_id=listing_import.pk) is None


def test_confirmation_records_each_rows_prediction_kept_or_changed(
    job, listing_import, seller, training_categories
):
    ImportScope().on_results(
        job,
        results(
            job,
            listing_import,
            [[("9101", 0.95), ("9102", 0.05)], [("9102", 0.95), ("9103", 0.05)]],
        ),
    )
    ImportScope().on_finish(job)
    listing_import.refresh_from_db()
    changed = listing_import.rows.get(sku="S-2")
    listing_import_row_choose(
        listing_import=listing_import,
        row_id=changed.pk,
        category=training_categories["9103"],
    )

    listing_import_confirm(listing_import=listing_import, user=seller)

    predictions = {
        p.product.sku: p for p in Prediction.objects.select_related("product")
    }
    assert set(predictions) == {"S-1", "S-2"}
    kept, anomaly = predictions["S-1"], predictions["S-2"]
    assert (kept.chosen_rank, kept.kept, kept.for_saved_text) == (1, True, True)
    assert (anomaly.chosen_rank, anomaly.kept) == (2, False)
    assert anomaly.chosen_category == training_categories["9103"]
    assert anomaly.predicted_category == training_categories["9102"]
    for prediction in (kept, anomaly):
        assert prediction.chosen_source == ChoiceSource.IMPORT
        assert prediction.model_version_id == job.model_version_id
        assert prediction.requested_by == seller
    assert kept.used == "text+image"
    assert kept.input_image_sha256 == kept.product.image_sha256 != ""
    linked = {p.product.sku: p.is_anomaly for p in prediction_linked_list()}
    assert linked == {"S-1": False, "S-2": True}
