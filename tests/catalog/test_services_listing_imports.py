"""Sellers' listing imports, the catalog side: upload (every refusal stores nothing;
bad rows are reported by line while the others go on), review, confirmation (products
with the chosen categories; a known sku updates its product), expiry."""

from datetime import timedelta

import pytest
from django.utils import timezone

from catalog.listing_files import ListingFileError
from catalog.models import ListingImport, ListingImportRow, Product
from catalog.services.listing_import_confirmation import listing_import_confirm
from catalog.services.listing_imports import (
    ImportNotReadyError,
    listing_import_create,
    listing_import_row_choose,
    listing_import_rows_accept,
    listing_imports_expire,
)
from ml.services.listing_suggestions import suggestions_write
from tests.catalog.listing_import_data import csv_upload, media_files, zip_upload
from tests.factories import ModelVersionFactory, ProductFactory
from tests.images import jpeg_bytes

pytestmark = pytest.mark.django_db

ROWS = [
    ("A-1", "Roman de poche", "Un roman", "a.jpg"),
    ("A-2", "Manette de console", "Pour jouer", ""),
    ("A-3", "Pompe de piscine", "Filtre et pompe", "photos/c.jpg"),
]


def upload(seller, rows=ROWS, photos=None):
    photos = (
        {"a.jpg": jpeg_bytes(), "photos/c.jpg": jpeg_bytes()}
        if photos is None
        else photos
    )
    return listing_import_create(
        seller=seller,
        csv_file=csv_upload(rows),
        zip_file=zip_upload(photos) if photos else None,
    )


def suggest(listing_import, categories, tops):
    """Write suggestions as the batch job does: ``tops`` is, per row in CSV order,
    [(code, probability), ...] best first; then the import is ready."""
    version = ModelVersionFactory()
    rows = list(listing_import.rows.order_by("line"))
    suggestions_write(
        listing_import=listing_import,
        model_version_id=version.pk,
        results=[
            (row.pk, [{"code": c, "probability": p} for c, p in top], "text")
            for row, top in zip(rows, tops, strict=True)
        ],
    )
    listing_import.status = ListingImport.Status.READY
    listing_import.save()
    return version


TOPS = [
    [("9101", 0.95), ("9102", 0.03), ("9103", 0.02)],
    [("9102", 0.60), ("9101", 0.30), ("9103", 0.10)],
    [("9103", 0.91), ("9101", 0.05), ("9102", 0.04)],
]


def test_an_upload_stages_its_rows_and_photos(seller, media_root):
    listing_import = upload(seller)

    assert listing_import.status == ListingImport.Status.UPLOADED
    assert (listing_import.rows_total, listing_import.rows_rejected) == (3, 0)
    rows = list(listing_import.rows.order_by("line"))
    assert [(r.line, r.sku, r.title, r.decision) for r in rows] == [
        (2, "A-1", "Roman de poche", "pending"),
        (3, "A-2", "Manette de console", "pending"),
        (4, "A-3", "Pompe de piscine", "pending"),
    ]
    assert rows[1].image == ""
    assert rows[0].image.startswith(listing_import.folder + "/")
    assert len(media_files(media_root)) == 2
    assert Product.objects.count() == 0


def test_bad_rows_are_reported_by_line_and_the_others_go_on(seller):
    rows = [
        ("B-1", "Roman de poche", "", ""),
        ("", "Sans référence", "", ""),
        ("B-3", "ab", "", ""),
        ("B-1", "Encore le même sku", "", ""),
        ("B-5", "Photo absente", "", "missing.jpg"),
        ("B-6", "Manette de console", "", "a.jpg"),
    ]
    listing_import = upload(seller, rows, photos={"a.jpg": jpeg_bytes()})

    assert listing_import.rejections == [
        {"line": 3, "reason": "The sku is empty."},
        {"line": 4, "reason": "The title is shorter than 3 characters."},
        {"line": 5, "reason": "The sku 'B-1' is already on line 2."},
        {"line": 6, "reason": "The photo missing.jpg is not in the zip."},
    ]
    assert list(listing_import.rows.values_list("sku", flat=True)) == ["B-1", "B-6"]
    assert (listing_import.rows_total, listing_import.rows_rejected) == (2, 4)


@pytest.mark.parametrize(
    ("csv_rows", "header", "photos", "message"),
    [
        (
            ROWS,
            ("sku", "title", "image"),
            None,
            "The CSV misses the column description",
        ),
        (ROWS * 2, None, None, "The CSV has more than 5 rows"),
        (
            ROWS,
            None,
            {"../a.jpg": jpeg_bytes()},
            "The zip holds an unsafe path (../a.jpg)",
        ),
        (ROWS, None, {"/etc/a.jpg": jpeg_bytes()}, "The zip holds an unsafe path"),
        (
            ROWS,
            None,
            {"a.jpg": b"\0" * 200_000},
            "The zip's photos expand to more than",
        ),
        (
            ROWS,
            None,
            {"a.jpg": b"not an image", "photos/c.jpg": jpeg_bytes()},
            "The photo a.jpg (line 2) is refused: The file is not a valid or complete",
        ),
    ],
)
def test_a_refused_file_stores_nothing(
    seller, media_root, settings, csv_rows, header, photos, message
):
    settings.LISTING_IMPORT_MAX_ROWS = 5
    settings.LISTING_IMPORT_MAX_UNZIPPED_BYTES = 100_000
    csv_file = csv_upload(csv_rows, **({"header": header} if header else {}))
    zip_file = zip_upload(photos) if photos else None

    with pytest.raises(ListingFileError) as caught:
        listing_import_create(seller=seller, csv_file=csv_file, zip_file=zip_file)

    assert caught.value.message.startswith(message)
    assert ListingImport.objects.count() == 0
    assert ListingImportRow.objects.count() == 0
    assert media_files(media_root) == []


def test_a_symbolic_link_in_the_zip_is_refused(seller, media_root):
    with pytest.raises(ListingFileError, match="symbolic link"):
        listing_import_create(
            seller=seller,
            csv_file=csv_upload(ROWS[1:2]),
            zip_file=zip_upload({}, links={"a.jpg": "/etc/passwd"}),
        )
    assert ListingImport.objects.count() == 0


def test_files_over_their_size_limits_are_refused_before_reading(seller, settings):
    settings.LISTING_IMPORT_MAX_CSV_BYTES = 50
    with pytest.raises(ListingFileError, match="The CSV is larger than 50 bytes"):
        upload(seller)
    settings.LISTING_IMPORT_MAX_CSV_BYTES = 10_000
    settings.LISTING_IMPORT_MAX_ZIP_BYTES = 100
    with pytest.raises(ListingFileError, match="The zip is larger than 100 bytes"):
        upload(seller)
    assert ListingImport.objects.count() == 0


def test_confirmation_lists_accepted_and_changed_rows_not_flagged_ones(
    seller, training_categories, media_root, django_capture_on_commit_callbacks
):
    listing_import = upload(seller)
    suggest(listing_import, training_categories, TOPS)
    rows = list(listing_import.rows.order_by("line"))
    # Pre-decided by the threshold (0.9): 0.95 and 0.91 accepted, 0.60 flagged.
    assert [r.decision for r in rows] == ["accepted", "flagged", "accepted"]

    listing_import_row_choose(
        listing_import=listing_import,
        row_id=rows[2].pk,
        category=training_categories["9101"],
    )
    with django_capture_on_commit_callbacks(execute=True):
        listing_import = listing_import_confirm(
            listing_import=listing_import, user=seller
        )

    assert listing_import.status == ListingImport.Status.CONFIRMED
    products = Product.objects.filter(seller=seller).order_by("sku")
    assert [(p.sku, p.category.code) for p in products] == [
        ("A-1", "9101"),
        ("A-3", "9101"),
    ]
    assert all(p.confirmed_at is not None and p.image for p in products)
    assert (
        listing_import.products_created,
        listing_import.products_updated,
        listing_import.rows_skipped,
    ) == (2, 0, 1)
    # The staged photos are gone; the products keep their own copies.
    assert all(name.startswith("products/") for name in media_files(media_root))


def test_bulk_accept_takes_the_first_suggestion_of_flagged_rows(
    seller, training_categories
):
    listing_import = upload(seller)
    suggest(listing_import, training_categories, TOPS)

    assert listing_import_rows_accept(listing_import=listing_import) == 1
    listing_import_confirm(listing_import=listing_import, user=seller)

    assert sorted(Product.objects.values_list("sku", "category__code")) == [
        ("A-1", "9101"),
        ("A-2", "9102"),
        ("A-3", "9103"),
    ]


def test_confirming_with_a_threshold_lists_exactly_those_rows(
    seller, training_categories
):
    listing_import = upload(seller)
    suggest(listing_import, training_categories, TOPS)
    a2 = listing_import.rows.get(sku="A-2")

    listing_import_confirm(
        listing_import=listing_import,
        user=seller,
        choices={a2.pk: training_categories["9103"]},
        accept_at_or_above=0.93,
    )

    assert sorted(Product.objects.values_list("sku", "category__code")) == [
        ("A-1", "9101"),
        ("A-2", "9103"),
    ]


def test_reuploading_the_same_csv_updates_products_by_sku(seller, training_categories):
    first = upload(seller)
    suggest(first, training_categories, TOPS)
    listing_import_rows_accept(listing_import=first)
    listing_import_confirm(listing_import=first, user=seller)
    ids = dict(Product.objects.values_list("sku", "pk"))

    rows = [(sku, title + " (2e édition)", d, i) for sku, title, d, i in ROWS]
    second = upload(seller, rows)
    assert sorted(second.rows.values_list("sku", "product_id")) == sorted(ids.items())
    suggest(second, training_categories, TOPS)
    listing_import_rows_accept(listing_import=second)
    second = listing_import_confirm(listing_import=second, user=seller)

    assert Product.objects.count() == 3
    assert dict(Product.objects.values_list("sku", "pk")) == ids
    assert Product.objects.get(sku="A-1").title == "Roman de poche (2e édition)"
    assert (second.products_created, second.products_updated) == (0, 3)


def test_another_sellers_sku_is_not_updated(seller, other_seller, training_categories):
    theirs = ProductFactory(seller=other_seller, sku="A-1")
    listing_import = upload(seller)
    assert listing_import.rows.get(sku="A-1").product_id is None
    suggest(listing_import, training_categories, TOPS)
    listing_import_confirm(listing_import=listing_import, user=seller)
    assert Product.objects.filter(sku="A-1").count() == 2
    theirs.refresh_from_db()
    assert theirs.seller == other_seller


def test_an_import_is_reviewed_and_confirmed_only_when_ready(
    seller, training_categories
):
    listing_import = upload(seller)
    row = listing_import.rows.first()
    with pytest.raises(ImportNotReadyError):
        listing_import_row_choose(
            listing_import=listing_import,
            row_id=row.pk,
            category=training_categories["9101"],
        )
    with pytest.raises(ImportNotReadyError):
        listing_import_confirm(listing_import=listing_import, user=seller)
    suggest(listing_import, training_categories, TOPS)
    listing_import_confirm(listing_import=listing_import, user=seller)
    with pytest.raises(ImportNotReadyError, match="This import is confirmed"):
        listing_import_confirm(listing_import=listing_import, user=seller)
    assert Product.objects.count() == 2


def test_expiry_deletes_the_uploads_of_unconfirmed_imports(
    seller, media_root, django_capture_on_commit_callbacks
):
    stale, fresh = upload(seller), upload(seller)
    ListingImport.objects.filter(pk=stale.pk).update(
        expires_at=timezone.now() - timedelta(minutes=1)
    )

    with django_capture_on_commit_callbacks(execute=True):
        assert listing_imports_expire() == 1

    stale.refresh_from_db()
    assert stale.status == ListingImport.Status.EXPIRED
    assert stale.rows.count() == 0
    assert all(name.startswith(fresh.folder) for name in media_files(media_root))
    assert len(media_files(media_root)) == 2
    assert listing_imports_expire() == 0


def test_a_csv_without_any_good_row_is_refused(seller, media_root):
    rows = [("", "Sans référence", "", ""), ("C-2", "ab", "", "")]
    with pytest.raises(ListingFileError) as caught:
        upload(seller, rows, photos={})
    assert caught.value.message == (
        "No row of the CSV can be imported (line 2: The sku is empty.; line 3: The "
        "title is shorter than 3 characters.)."
    )
    assert ListingImport.objects.count() == 0


def test_a_zip_entry_that_understates_its_size_is_refused(seller, media_root):
    # Given a photo entry whose directory declares 10 bytes but inflates to 300,000
    # (a zip bomb that lies: the declared total passes the limit)
    import struct

    from django.core.files.uploadedfile import SimpleUploadedFile

    from tests.catalog.listing_import_data import zip_bytes

    data = zip_bytes({"a.jpg": b"\0" * 300_000, "photos/c.jpg": jpeg_bytes()})
    lying = data.replace(struct.pack("<I", 300_000), struct.pack("<I", 10))
    assert lying.count(struct.pack("<I", 10)) >= 2
    # When it is uploaded, then it is refused and nothing is stored
    with pytest.raises(ListingFileError, match="The photo a.jpg cannot be read"):
        listing_import_create(
            seller=seller,
            csv_file=csv_upload(ROWS),
            zip_file=SimpleUploadedFile("photos.zip", lying),
        )
    assert ListingImport.objects.count() == 0
    assert media_files(media_root) == []


def test_two_imports_of_one_sku_confirmed_in_turn_update_one_product(
    seller, training_categories
):
    first, second = upload(seller), upload(seller)
    for listing_import in (first, second):
        suggest(listing_import, training_categories, TOPS)
        listing_import_rows_accept(listing_import=listing_import)
        listing_import_confirm(listing_import=listing_import, user=seller)
    second.refresh_from_db()
    assert Product.objects.count() == 3
    assert (second.products_created, second.products_updated) == (0, 3)
