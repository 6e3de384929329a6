"""The product and taxonomy importers (``manage.py import_products``,
``import_categories``), driven through ``call_command`` and, for the exit status, a
real ``manage.py`` process."""

import csv
import hashlib
import io
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.core.files.storage import default_storage
from django.core.management import call_command
from django.core.management.base import CommandError
from PIL import Image

from catalog.models import Category, Product

BASE_DIR = Path(__file__).resolve().parents[2]
FIXTURES = BASE_DIR / "tests" / "fixtures" / "rakuten"
HEADER = ["product_id", "title", "description", "category", "image"]


# --- helpers -------------------------------------------------------------------------


def write_csv(path: Path, rows: list[list[str]], header=HEADER) -> Path:
    with open(path, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        if header is not None:
            writer.writerow(header)
        writer.writerows(rows)
    return path


def write_jpeg(path: Path, color=(200, 30, 40)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (16, 12), color).save(buffer, "JPEG")
    path.write_bytes(buffer.getvalue())
    return buffer.getvalue()


def import_products(*args) -> tuple[str, str]:
    """Run the command; return (stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    call_command(
        "import_products", *map(str, args), "--no-progress", stdout=out, stderr=err
    )
    return out.getvalue(), err.getvalue()


def stored_files() -> list[str]:
    root = Path(settings.MEDIA_ROOT)
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


def snapshot() -> list[tuple]:
    return list(
        Product.objects.order_by("external_id").values_list(
            "external_id", "title", "category__code", "image", "image_sha256"
        )
    )


@pytest.fixture
def images(tmp_path) -> Path:
    folder = tmp_path / "photos"
    folder.mkdir()
    return folder


@pytest.fixture
def catalogue(tmp_path, images) -> tuple[Path, dict[str, bytes]]:
    """A valid generic CSV: three products, two with a photo."""
    photos = {
        "pool.jpg": write_jpeg(images / "pool.jpg", (20, 120, 220)),
        "chair.jpg": write_jpeg(images / "chair.jpg", (120, 80, 20)),
    }
    path = write_csv(
        tmp_path / "products.csv",
        [
            ["P1", "Piscine tubulaire 3m", "Ronde, avec pompe", "2583", "pool.jpg"],
            ["P2", "Chaise pliante en acacia", "", "2582", "chair.jpg"],
            ["P3", "Lot de romans policiers", "Occasion", "10", ""],
        ],
    )
    return path, photos


# --- generic layout ------------------------------------------------------------------


@pytest.mark.django_db
def test_generic_import_creates_products_with_their_photos(catalogue, images):
    # Given a generic CSV with three products, two of them with a photo
    path, photos = catalogue
    # When it is imported
    out, err = import_products("--csv", path, "--images", images)
    # Then the three products exist with their category, confirmed, from the import
    assert out == "created 3 / updated 0 / skipped 0 / rejected 0\n"
    assert err == ""
    assert Product.objects.count() == 3
    pool = Product.objects.get(external_id="P1")
    assert (pool.title, pool.description, pool.category.code, pool.source) == (
        "Piscine tubulaire 3m",
        "Ronde, avec pompe",
        "2583",
        "import",
    )
    assert pool.confirmed_at is not None
    assert pool.seller is None
    # And the photos went through the storage API, named by their sha256
    sha = hashlib.sha256(photos["pool.jpg"]).hexdigest()
    assert pool.image_sha256 == sha
    assert pool.image.name == f"products/import/{sha[:2]}/{sha}.jpg"
    assert default_storage.exists(pool.image.name)
    with default_storage.open(pool.image.name) as stored:
        assert stored.read() == photos["pool.jpg"]
    assert (Path(settings.MEDIA_ROOT) / pool.image.name).is_file()
    chair = Product.objects.get(external_id="P2")
    assert chair.description == ""
    assert chair.image_sha256 == hashlib.sha256(photos["chair.jpg"]).hexdigest()
    books = Product.objects.get(external_id="P3")
    assert (books.image.name, books.image_sha256) == ("", "")
    assert len(stored_files()) == 2


@pytest.mark.django_db
def test_generic_import_without_images_folder_imports_the_text_only(catalogue):
    path, _ = catalogue
    out, err = import_products("--csv", path)
    assert out == "created 3 / updated 0 / skipped 0 / rejected 0\n"
    assert err == ""
    assert set(Product.objects.values_list("image", flat=True)) == {""}
    assert stored_files() == []


@pytest.mark.django_db
def test_a_second_run_of_the_same_file_changes_nothing(catalogue, images):
    # Given a file already imported
    path, _ = catalogue
    import_products("--csv", path, "--images", images)
    before = snapshot()
    updated_at = dict(Product.objects.values_list("external_id", "updated_at"))
    files = stored_files()
    # When it is imported again
    out, err = import_products("--csv", path, "--images", images)
    # Then every row is skipped and nothing was created, changed or stored
    assert out == "created 0 / updated 0 / skipped 3 / rejected 0\n"
    assert err == ""
    assert snapshot() == before
    assert dict(Product.objects.values_list("external_id", "updated_at")) == updated_at
    assert stored_files() == files


@pytest.mark.django_db
def test_a_changed_title_updates_that_product_only(tmp_path, catalogue, images):
    # Given an imported file
    path, _ = catalogue
    import_products("--csv", path, "--images", images)
    updated_at = dict(Product.objects.values_list("external_id", "updated_at"))
    # When the same file comes back with one title changed
    write_csv(
        path,
        [
            ["P1", "Piscine tubulaire 3m", "Ronde, avec pompe", "2583", "pool.jpg"],
            ["P2", "Chaise pliante en acacia FSC", "", "2582", "chair.jpg"],
            ["P3", "Lot de romans policiers", "Occasion", "10", ""],
        ],
    )
    out, err = import_products("--csv", path, "--images", images)
    # Then that product is updated in place, the others are untouched
    assert out == "created 0 / updated 1 / skipped 2 / rejected 0\n"
    assert err == ""
    assert Product.objects.count() == 3
    chair = Product.objects.get(external_id="P2")
    assert chair.title == "Chaise pliante en acacia FSC"
    assert chair.updated_at > updated_at["P2"]
    for external_id in ("P1", "P3"):
        assert (
            Product.objects.get(external_id=external_id).updated_at
            == updated_at[external_id]
        )


@pytest.mark.django_db
def test_a_new_photo_and_category_update_the_product(tmp_path, catalogue, images):
    # Given an imported file
    path, photos = catalogue
    import_products("--csv", path, "--images", images)
    pool_before = Product.objects.get(external_id="P1")
    # When P1 comes back with a new photo and P3 with no category
    new_photo = write_jpeg(images / "pool-2024.jpg", (0, 200, 0))
    write_csv(
        path,
        [
            [
                "P1",
                "Piscine tubulaire 3m",
                "Ronde, avec pompe",
                "2583",
                "pool-2024.jpg",
            ],
            ["P2", "Chaise pliante en acacia", "", "2582", "chair.jpg"],
            ["P3", "Lot de romans policiers", "Occasion", "", ""],
        ],
    )
    out, _ = import_products("--csv", path, "--images", images)
    # Then the new photo is stored and the unlabelled product is no longer confirmed
    assert out == "created 0 / updated 2 / skipped 1 / rejected 0\n"
    pool = Product.objects.get(external_id="P1")
    sha = hashlib.sha256(new_photo).hexdigest()
    assert pool.image_sha256 == sha
    assert pool.image.name == f"products/import/{sha[:2]}/{sha}.jpg"
    assert pool.image.name != pool_before.image.name
    assert pool.confirmed_at == pool_before.confirmed_at
    books = Product.objects.get(external_id="P3")
    assert (books.category, books.confirmed_at) == (None, None)


@pytest.mark.django_db
def test_malformed_rows_are_reported_with_their_line_and_skipped(tmp_path, images):
    # Given a file mixing good rows and every kind of bad row
    write_jpeg(images / "ok.jpg")
    (images / "fake.jpg").write_bytes(b"GIF? no: plain text pretending to be a photo")
    path = write_csv(
        tmp_path / "mixed.csv",
        [
            ["G1", "Parasol déporté 3m", "", "2582", "ok.jpg"],  # line 2
            ["G2", "   ", "titre vide", "2582", ""],  # line 3
            ["", "Sans identifiant", "", "2582", ""],  # line 4
            ["G4", "Trop de champs", "", "2582", "", "en trop"],  # line 5
            ["G5", "Pas assez de champs"],  # line 6
            ["G6", "Photo absente", "", "2582", "missing.jpg"],  # line 7
            ["G7", "Photo illisible", "", "2582", "fake.jpg"],  # line 8
            ["G1", "Parasol en double", "", "2582", ""],  # line 9
            ["G9", "Photo hors du dossier", "", "2582", "../ok.jpg"],  # line 10
            ["G" * 101, "Identifiant trop long", "", "2582", ""],  # line 11
            ["G10", "Bâche de piscine 4m", "", "2583", ""],  # line 12
        ],
    )
    # When it is imported
    out, err = import_products("--csv", path, "--images", images)
    # Then the good rows are stored and each bad row is reported with its line
    assert out == "created 2 / updated 0 / skipped 0 / rejected 9\n"
    assert sorted(err.splitlines(), key=lambda s: int(s.split()[1][:-1])) == [
        "line 3: empty title",
        "line 4: empty product id",
        "line 5: wrong number of fields",
        "line 6: wrong number of fields",
        f"line 7: image file missing.jpg not found in {images}",
        "line 8: The file is not a valid or complete image.",
        "line 9: duplicate product id 'G1' (first at line 2)",
        "line 10: image name '../ok.jpg' is not a plain file name",
        "line 11: product id longer than 100 characters",
    ]
    assert sorted(Product.objects.values_list("external_id", "title")) == [
        ("G1", "Parasol déporté 3m"),
        ("G10", "Bâche de piscine 4m"),
    ]
    assert len(stored_files()) == 1


@pytest.mark.django_db
def test_an_unknown_category_stops_the_import_and_rolls_its_batch_back(
    tmp_path, images
):
    # Given batches of two rows, the second batch holding an unknown category
    write_jpeg(images / "a.jpg", (10, 10, 10))
    write_jpeg(images / "c.jpg", (90, 90, 90))
    path = write_csv(
        tmp_path / "products.csv",
        [
            ["A1", "Piscine autoportante", "", "2583", "a.jpg"],  # batch 1
            ["A2", "Banc de jardin", "", "2582", ""],  # batch 1
            ["A3", "Skimmer de piscine", "", "2583", "c.jpg"],  # batch 2
            ["A4", "Objet mystère", "", "9999", ""],  # batch 2: unknown
            ["A5", "Filtre à sable", "", "2583", ""],  # batch 3
        ],
    )
    categories_before = Category.objects.count()
    # When it is imported without --create-categories
    with pytest.raises(CommandError) as excinfo:
        import_products("--csv", path, "--images", images, "--batch-size", "2")
    # Then the command fails on that line
    assert str(excinfo.value) == (
        "line 5: unknown category '9999' "
        "(import the taxonomy first, or pass --create-categories)"
    )
    # And the earlier batch is kept, the failing batch (and its photo) is not
    assert sorted(Product.objects.values_list("external_id", flat=True)) == [
        "A1",
        "A2",
    ]
    assert [Path(name).parent.parent.name for name in stored_files()] == ["import"]
    assert stored_files() == [Product.objects.get(external_id="A1").image.name]
    assert Category.objects.count() == categories_before
    assert not Category.objects.filter(code="9999").exists()


@pytest.mark.django_db
def test_an_unknown_category_in_a_single_batch_stores_nothing(tmp_path):
    path = write_csv(
        tmp_path / "products.csv",
        [
            ["B1", "Piscine autoportante", "", "2583", ""],
            ["B2", "Objet mystère", "", "9999", ""],
        ],
    )
    with pytest.raises(CommandError, match=r"^line 3: unknown category '9999'"):
        import_products("--csv", path)
    assert Product.objects.count() == 0
    assert Category.objects.count() == 27


@pytest.mark.django_db
def test_create_categories_creates_the_unknown_ones(tmp_path):
    # Given a file with two unknown category codes
    path = write_csv(
        tmp_path / "products.csv",
        [
            ["C1", "Hamac double", "", "9100", ""],
            ["C2", "Hamac simple", "", "9100", ""],
            ["C3", "Barbecue à charbon", "", "9200", ""],
            ["C4", "Piscine gonflable", "", "2583", ""],
        ],
    )
    # When it is imported with --create-categories
    out, err = import_products("--csv", path, "--create-categories")
    # Then the codes exist (named by their code) and the products use them
    assert out == (
        "created 4 / updated 0 / skipped 0 / rejected 0 (2 categories created)\n"
    )
    assert err == ""
    assert Category.objects.count() == 29
    assert Category.objects.get(code="9100").name == "9100"
    assert Category.objects.get(code="9200").active is True
    assert dict(Product.objects.values_list("external_id", "category__code")) == {
        "C1": "9100",
        "C2": "9100",
        "C3": "9200",
        "C4": "2583",
    }


@pytest.mark.django_db
def test_a_missing_column_stops_the_import(tmp_path):
    path = write_csv(
        tmp_path / "products.csv",
        [["D1", "Transat", "", "2582"]],
        header=["product_id", "title", "description", "category"],
    )
    with pytest.raises(CommandError) as excinfo:
        import_products("--csv", path)
    assert str(excinfo.value) == f"{path}: missing column(s): image"
    assert Product.objects.count() == 0


@pytest.mark.django_db
def test_an_absent_file_stops_the_import(tmp_path):
    path = tmp_path / "nowhere.csv"
    with pytest.raises(CommandError) as excinfo:
        import_products("--csv", path)
    assert str(excinfo.value) == f"cannot read {path}: No such file or directory"
    assert Product.objects.count() == 0


@pytest.mark.django_db
def test_a_file_that_is_not_utf8_stops_the_import(tmp_path):
    # Given a Latin-1 file (the importer reads UTF-8)
    path = tmp_path / "latin1.csv"
    path.write_bytes(
        "product_id,title,description,category,image\nE1,Chaise d'été,,2582,\n".encode(
            "latin-1"
        )
    )
    # Then the command fails with one line, not a traceback
    with pytest.raises(CommandError) as excinfo:
        import_products("--csv", path)
    assert str(excinfo.value).startswith(f"{path}: unreadable near line 1: 'utf-8'")
    assert "\n" not in str(excinfo.value)
    assert Product.objects.count() == 0


@pytest.mark.django_db
def test_an_empty_file_stops_the_import(tmp_path):
    path = tmp_path / "empty.csv"
    path.write_text("")
    with pytest.raises(CommandError) as excinfo:
        import_products("--csv", path)
    assert str(excinfo.value) == (
        f"{path} is empty: expected columns "
        "product_id, title, description, category, image"
    )


@pytest.mark.django_db
def test_an_images_path_that_is_not_a_folder_stops_the_import(catalogue):
    path, _ = catalogue
    with pytest.raises(CommandError) as excinfo:
        import_products("--csv", path, "--images", path)
    assert str(excinfo.value) == f"--images {path} is not a folder"
    assert Product.objects.count() == 0


@pytest.mark.django_db
def test_rakuten_y_needs_rakuten_x(catalogue):
    path, _ = catalogue
    with pytest.raises(CommandError) as excinfo:
        import_products("--csv", path, "--rakuten-y", FIXTURES / "Y_sample.csv")
    assert str(excinfo.value) == "--rakuten-y needs --rakuten-x"
    assert Product.objects.count() == 0


# --- Rakuten challenge layout --------------------------------------------------------


@pytest.fixture
def rakuten_images(images) -> dict[str, bytes]:
    """Photos named like the challenge's, for every sample row but 7006, plus a decoy
    that has 7006's image id but another product id."""
    photos = {}
    for index, (image_id, product_id) in enumerate(
        [(9001, 7001), (9002, 7002), (9003, 7003), (9004, 7004)]
    ):
        name = f"image_{image_id}_product_{product_id}.jpg"
        photos[name] = write_jpeg(images / name, (40 * index, 100, 200))
    write_jpeg(images / "image_9006_product_7999.jpg", (1, 2, 3))
    return photos


@pytest.mark.django_db
def test_rakuten_layout_imports_labelled_and_unlabelled_products(
    images, rakuten_images
):
    # Given the sample X/Y files (row 3 has no label) and the photos folder
    # When they are imported
    out, err = import_products(
        "--rakuten-x",
        FIXTURES / "X_sample.csv",
        "--rakuten-y",
        FIXTURES / "Y_sample.csv",
        "--images",
        images,
    )
    # Then every row with its photo is stored; the one without a photo is rejected
    assert out == "created 5 / updated 0 / skipped 0 / rejected 1\n"
    assert err == (
        f"line 7: image file image_9006_product_7006.jpg not found in {images}\n"
    )
    rows = {
        p.external_id: (p.title, p.category.code if p.category else None)
        for p in Product.objects.select_related("category")
    }
    # Labels are joined on the row index, whatever Y's order
    assert rows == {
        "rakuten:7001": ("Piscine tubulaire 3m", "2583"),
        "rakuten:7002": ("Chaise de jardin pliante en acacia", "2582"),
        "rakuten:7003": ('Roman policier "La nuit du phare" - format poche', "10"),
        "rakuten:7004": ("Robot tondeuse connectée", None),
        "rakuten:7005": ("Set de 6 boules de pétanque", "1302"),
    }
    pool = Product.objects.get(external_id="rakuten:7001")
    assert pool.description == (
        "Piscine hors-sol ronde, 3 m de diamètre, livrée avec pompe de filtration"
    )
    assert pool.external_image_id == "9001"
    assert pool.source == "import"
    assert pool.confirmed_at is not None
    # The photo is the one named image_<imageid>_product_<productid>.jpg
    sha = hashlib.sha256(rakuten_images["image_9001_product_7001.jpg"]).hexdigest()
    assert pool.image_sha256 == sha
    with default_storage.open(pool.image.name) as stored:
        assert stored.read() == rakuten_images["image_9001_product_7001.jpg"]
    # The unlabelled product waits for a category
    mower = Product.objects.get(external_id="rakuten:7004")
    assert (mower.category, mower.confirmed_at) == (None, None)
    assert (
        mower.image_sha256
        == hashlib.sha256(rakuten_images["image_9004_product_7004.jpg"]).hexdigest()
    )
    # A row without image id has no photo
    boules = Product.objects.get(external_id="rakuten:7005")
    assert (boules.external_image_id, boules.image.name) == ("", "")
    assert Product.objects.get(external_id="rakuten:7002").description == ""
    assert len(stored_files()) == 4


@pytest.mark.django_db
def test_rakuten_layout_is_idempotent(images, rakuten_images):
    args = (
        "--rakuten-x",
        FIXTURES / "X_sample.csv",
        "--rakuten-y",
        FIXTURES / "Y_sample.csv",
        "--images",
        images,
    )
    import_products(*args)
    before, files = snapshot(), stored_files()
    out, _ = import_products(*args)
    assert out == "created 0 / updated 0 / skipped 5 / rejected 1\n"
    assert snapshot() == before
    assert stored_files() == files


@pytest.mark.django_db
def test_rakuten_layout_without_labels_or_photos(tmp_path):
    # Given only the X file, no Y file and no photos folder
    out, err = import_products("--rakuten-x", FIXTURES / "X_sample.csv")
    # Then every row is imported as an unlabelled product without a photo
    assert out == "created 6 / updated 0 / skipped 0 / rejected 0\n"
    assert err == ""
    assert Product.objects.filter(category__isnull=True).count() == 6
    assert Product.objects.filter(confirmed_at__isnull=True).count() == 6
    assert set(Product.objects.values_list("image", flat=True)) == {""}
    assert Product.objects.get(external_id="rakuten:7006").external_image_id == "9006"


@pytest.mark.django_db
def test_rakuten_labels_without_the_label_column_stop_the_import(tmp_path):
    y_path = write_csv(tmp_path / "Y.csv", [["0", "2583"]], header=["", "label"])
    with pytest.raises(CommandError) as excinfo:
        import_products("--rakuten-x", FIXTURES / "X_sample.csv", "--rakuten-y", y_path)
    assert str(excinfo.value) == f"{y_path}: missing column(s): prdtypecode"
    assert Product.objects.count() == 0


def test_a_missing_column_exits_non_zero_with_one_line(tmp_path, test_database_url):
    # Given an X file without its imageid column
    x_path = write_csv(
        tmp_path / "X.csv",
        [["0", "Piscine tubulaire 3m", "", "7001"]],
        header=["", "designation", "description", "productid"],
    )
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "rakuten.settings.test",
        "DATABASE_URL": test_database_url,  # the (migrated) test database
    }
    # When manage.py runs the import in its own process
    result = subprocess.run(
        [sys.executable, "manage.py", "import_products", "--rakuten-x", str(x_path)],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    # Then it exits non-zero with a one-line error naming the column
    assert result.returncode == 1, result.stderr
    assert result.stdout == ""
    assert result.stderr.strip().splitlines()[-1] == (
        f"CommandError: {x_path}: missing column(s): imageid"
    )
    assert "Traceback" not in result.stderr
    assert Product.objects.count() == 0


# --- import_categories ---------------------------------------------------------------


def import_categories(path: Path) -> str:
    out = io.StringIO()
    call_command("import_categories", str(path), stdout=out)
    return out.getvalue()


@pytest.mark.django_db
def test_import_categories_adds_and_renames_codes(tmp_path):
    # Given a taxonomy with one new code and one existing code renamed
    path = write_csv(
        tmp_path / "taxonomy.csv",
        [["9001", "Robots de jardin"], ["2583", "Piscines et spas"], ["", "sans code"]],
        header=["code", "name"],
    )
    # When it is imported
    out = import_categories(path)
    # Then the new code exists, the existing one is renamed, the blank code ignored
    assert out == "3 categories imported\n"
    assert Category.objects.count() == 28
    assert Category.objects.get(code="9001").name == "Robots de jardin"
    assert Category.objects.get(code="2583").name == "Piscines et spas"


@pytest.mark.django_db
def test_import_categories_reads_the_prdtypecode_layout(tmp_path):
    path = write_csv(
        tmp_path / "prdtypecode.csv",
        [["2583", "Piscine et accessoires"], ["9002", "Abris de jardin"]],
        header=["prdtypecode", "name"],
    )
    assert import_categories(path) == "2 categories imported\n"
    assert Category.objects.count() == 28
    assert Category.objects.get(code="9002").name == "Abris de jardin"
    assert Category.objects.get(code="2583").name == "Piscine et accessoires"
    # A second run changes nothing
    assert import_categories(path) == "2 categories imported\n"
    assert Category.objects.count() == 28


@pytest.mark.django_db
def test_import_categories_refuses_a_file_without_name_column(tmp_path):
    path = write_csv(tmp_path / "bad.csv", [["9003", "x"]], header=["code", "label"])
    with pytest.raises(CommandError) as excinfo:
        import_categories(path)
    assert str(excinfo.value) == (
        f"{path}: expected a code column (code, category or prdtypecode) "
        "and a name column"
    )
    assert Category.objects.count() == 27


@pytest.mark.django_db
def test_import_categories_refuses_an_absent_file(tmp_path):
    path = tmp_path / "absent.csv"
    with pytest.raises(CommandError) as excinfo:
        import_categories(path)
    assert str(excinfo.value) == f"cannot read {path}: No such file or directory"
    assert Category.objects.count() == 27
