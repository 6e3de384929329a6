"""The listing-import API: upload, suggestions by the real active model through the
batch engine, read, confirm; every refused file is a clear 400 and stores nothing;
another seller's import is a 404."""

import jsonschema
import pytest

from catalog.models import ListingImport, ListingImportRow, Product
from ml.models import ChoiceSource, Prediction
from rakuten.celery import app
from tests.catalog.listing_import_data import csv_upload, media_files, zip_upload
from tests.images import jpeg_bytes
from tests.test_schema_conformance import component

pytestmark = pytest.mark.django_db

URL = "/api/v1/listing-imports/"
ROWS = [
    ("K-1", "roman poche auteur", "chapitre edition roman", "a.jpg"),
    ("K-2", "console manette jeu", "playstation nintendo jeu", ""),
    ("K-3", "piscine filtre pompe", "chlore bassin piscine", "b.jpg"),
    ("K-4", "x", "too short a title", ""),
]


@pytest.fixture
def eager():
    """Tasks run in the process, as soon as their transaction commits."""
    before = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = before


def upload(client, rows=ROWS, photos=None):
    photos = (
        {"a.jpg": jpeg_bytes(), "b.jpg": jpeg_bytes()} if photos is None else photos
    )
    data = {"csv": csv_upload(rows)}
    if photos:
        data["zip"] = zip_upload(photos)
    return client.post(URL, data, format="multipart")


def test_upload_suggest_review_and_confirm(
    api_as, seller, active_model, eager, django_capture_on_commit_callbacks
):
    client = api_as(seller)
    with django_capture_on_commit_callbacks(execute=True):
        response = upload(client)

    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["rows_total"], body["rows_rejected"]) == (3, 1)
    assert body["rejections"] == [
        {"line": 5, "reason": "The title is shorter than 3 characters."}
    ]
    import_id = body["id"]

    detail = client.get(f"{URL}{import_id}/").json()
    schema = client.get("/api/v1/schema/", {"format": "json"}).json()
    jsonschema.validate(detail, component(schema, "ListingImportDetailOutput"))
    assert detail["status"] == "ready"
    assert detail["progress"]["done"] == detail["progress"]["total"] == 3
    rows = detail["rows"]["results"]
    assert detail["rows"]["count"] == 3
    assert [row["sku"] for row in rows] == ["K-1", "K-2", "K-3"]
    assert [row["has_photo"] for row in rows] == [True, False, True]
    for row, expected in zip(rows, ["9101", "9102", "9103"], strict=True):
        assert len(row["suggestions"]) == 3
        assert row["suggestions"][0]["code"] == expected
        probabilities = [s["probability"] for s in row["suggestions"]]
        assert probabilities == sorted(probabilities, reverse=True)
        assert row["used"] == "text"
        assert row["model_version_id"] == active_model.pk
        assert row["decision"] in {"accepted", "flagged"}

    # The seller changes K-2 to its second suggestion and accepts every other one.
    second = rows[1]["suggestions"][1]
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            f"{URL}{import_id}/confirm/",
            {
                "choices": [{"row": rows[1]["id"], "category": second["category_id"]}],
                "accept_at_or_above": 0.0,
            },
            format="json",
        )

    # 202: the products are listed by a worker (here at once, eagerly)
    assert response.status_code == 202, response.json()
    body = response.json()
    jsonschema.validate(body, component(schema, "ListingImportOutput"))
    assert (body["status"], body["products_created"]) == ("confirming", 0)
    assert (body["progress"]["to_list"], body["progress"]["listed"]) == (3, 0)
    detail = client.get(f"{URL}{import_id}/").json()
    assert (detail["status"], detail["products_created"]) == ("confirmed", 3)
    assert detail["progress"]["listed_percent"] == 100
    products = {p.sku: p for p in Product.objects.filter(seller=seller)}
    assert {sku: p.category.code for sku, p in products.items()} == {
        "K-1": "9101",
        "K-2": second["code"],
        "K-3": "9103",
    }
    kept = {
        p.product.sku: p.kept
        for p in Prediction.objects.filter(chosen_source=ChoiceSource.IMPORT)
    }
    assert kept == {"K-1": True, "K-2": False, "K-3": True}


def test_confirming_twice_is_refused(
    api_as, seller, active_model, eager, django_capture_on_commit_callbacks
):
    client = api_as(seller)
    with django_capture_on_commit_callbacks(execute=True):
        import_id = upload(client).json()["id"]
    url = f"{URL}{import_id}/confirm/"
    with django_capture_on_commit_callbacks() as callbacks:
        first = client.post(url, {"accept_at_or_above": 0.0}, format="json")
    assert first.status_code == 202
    # refused while its products are being listed, and once they are
    for _ in range(2):
        response = client.post(url, {"accept_at_or_above": 0.0}, format="json")
        assert response.status_code == 400
        assert response.json()["error"]["code"] == "import_not_ready"
        for callback in callbacks:
            callback()
        callbacks.clear()
    assert response.json()["error"]["message"].startswith("This import is confirmed")
    assert Product.objects.count() == 3


@pytest.mark.parametrize(
    ("rows", "photos", "message"),
    [
        (
            None,
            None,
            "The CSV misses the column description: its header must be "
            "sku,title,description,image.",
        ),
        (ROWS * 2, None, "The CSV has more than 5 rows: import at most 5 at a time."),
        (
            ROWS,
            {"../a.jpg": jpeg_bytes(), "b.jpg": jpeg_bytes()},
            "The zip holds an unsafe path (../a.jpg): paths may not be absolute or "
            "contain '..'. Nothing was imported.",
        ),
        (
            ROWS,
            {"a.jpg": b"\0" * 300_000, "b.jpg": jpeg_bytes()},
            "The zip's photos expand to more than 195.3 KB. Nothing was imported.",
        ),
        (
            ROWS,
            {"a.jpg": b"plain text, not a photo", "b.jpg": jpeg_bytes()},
            "The photo a.jpg (line 2) is refused: The file is not a valid or complete "
            "image. Nothing was imported.",
        ),
    ],
)
def test_a_refused_upload_is_a_clear_400_and_stores_nothing(
    api_as, seller, settings, media_root, rows, photos, message
):
    settings.LISTING_IMPORT_MAX_ROWS = 5
    settings.LISTING_IMPORT_MAX_UNZIPPED_BYTES = 200_000
    client = api_as(seller)
    if rows is None:
        data = {
            "csv": csv_upload(
                [r[:2] + r[3:] for r in ROWS], header=("sku", "title", "image")
            )
        }
        response = client.post(URL, data, format="multipart")
    else:
        response = upload(client, rows, photos)

    assert response.status_code == 400
    assert response.json()["error"]["message"] == message
    assert ListingImport.objects.count() == 0
    assert ListingImportRow.objects.count() == 0
    assert media_files(media_root) == []


def test_a_csv_is_required(api_as, seller):
    response = api_as(seller).post(URL, {}, format="multipart")
    assert response.status_code == 400
    assert "csv" in response.json()["error"]["fields"]


def test_another_sellers_import_is_not_found(api_as, seller, other_seller):
    import_id = upload(api_as(seller)).json()["id"]
    intruder = api_as(other_seller)

    assert intruder.get(f"{URL}{import_id}/").status_code == 404
    response = intruder.post(
        f"{URL}{import_id}/confirm/", {"accept_at_or_above": 0.0}, format="json"
    )
    assert response.status_code == 404
    assert ListingImport.objects.get().status == "uploaded"


def test_rows_are_paginated_and_filtered(api_as, seller, training_categories):
    client = api_as(seller)
    rows = [(f"P-{i}", f"produit numero {i}", "", "") for i in range(25)]
    import_id = upload(client, rows, photos={}).json()["id"]
    ListingImportRow.objects.filter(sku="P-3").update(
        decision="flagged", category=training_categories["9103"]
    )

    first = client.get(f"{URL}{import_id}/").json()["rows"]
    assert (first["count"], len(first["results"])) == (25, 20)
    assert first["next"].endswith(f"{URL}{import_id}/?page=2")
    flagged = client.get(f"{URL}{import_id}/?decision=flagged").json()["rows"]
    assert [r["sku"] for r in flagged["results"]] == ["P-3"]
    category = training_categories["9103"].pk
    by_category = client.get(f"{URL}{import_id}/?category={category}").json()["rows"]
    assert [r["sku"] for r in by_category["results"]] == ["P-3"]
    assert client.get(f"{URL}{import_id}/?decision=nope").status_code == 400
