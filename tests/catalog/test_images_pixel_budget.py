"""The 2 x 20,000 and 1 x 39,000,000 PNGs of issue 13 (a few hundred bytes and 76 KB
that decode to gigabytes) are refused from their header on every upload path: the
API (a clear 400), the Sell page (a form error), the importer (a per-row error); and
checking them allocates no image."""

import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from PIL import Image

from catalog.images import InvalidImageError, image_check
from catalog.models import Product
from ml.models import Prediction
from tests.factories import CategoryFactory
from tests.images import blank_png_bytes, narrow_png_bytes, thread_png_bytes

TOO_NARROW = (
    "The photo is too narrow or too wide (2 × 20000): its longer side may be at "
    "most 10 times its shorter one."
)
TOO_MANY_PIXELS = "The photo has too many pixels."
BOMBS = [
    ("narrow.png", narrow_png_bytes, TOO_NARROW),
    ("thread.png", thread_png_bytes, TOO_MANY_PIXELS),
]


def _images_allocated() -> int:
    return Image.core.get_stats()["new_count"]


@pytest.mark.parametrize(("name", "make", "message"), BOMBS)
def test_image_check_refuses_from_the_header(name, make, message):
    data = make()
    allocated = _images_allocated()
    with pytest.raises(InvalidImageError) as caught:
        image_check(data, filename=name, max_bytes=5 * 1024 * 1024)
    assert caught.value.message == message
    assert _images_allocated() == allocated  # nothing was decoded


@pytest.mark.parametrize(
    ("size", "accepted"),
    [((100, 10), True), ((101, 10), False), ((5000, 5000), True)],
)
def test_the_limits_are_settings(settings, size, accepted):
    assert (settings.IMAGE_MAX_PIXELS, settings.IMAGE_MAX_ASPECT_RATIO) == (
        25_000_000,
        10.0,
    )
    data = blank_png_bytes(*size)
    if accepted:
        assert image_check(data, filename="p.png", max_bytes=10**8).width == size[0]
    else:
        with pytest.raises(InvalidImageError):
            image_check(data, filename="p.png", max_bytes=10**8)
    # a lower budget refuses what the default accepts
    settings.IMAGE_MAX_PIXELS = 999
    with pytest.raises(InvalidImageError) as caught:
        image_check(blank_png_bytes(100, 10), filename="p.png", max_bytes=10**8)
    assert caught.value.message == TOO_MANY_PIXELS


def test_the_settings_match_the_ml_cores_ceilings(settings):
    from ml.core.transforms import MAX_IMAGE_ASPECT_RATIO, MAX_IMAGE_PIXELS

    assert settings.IMAGE_MAX_PIXELS == MAX_IMAGE_PIXELS
    assert settings.IMAGE_MAX_ASPECT_RATIO == MAX_IMAGE_ASPECT_RATIO


@pytest.mark.parametrize(("name", "make", "message"), BOMBS)
def test_the_api_answers_400(api_as, seller, name, make, message):
    # When a seller sends the bomb as a new product's photo
    category = CategoryFactory()
    response = api_as(seller).post(
        "/api/v1/products/",
        {
            "title": "Lampe",
            "category": category.pk,
            "image": SimpleUploadedFile(name, make(), content_type="image/png"),
        },
        format="multipart",
    )
    # Then it is a 400 on the image field and nothing is stored
    assert response.status_code == 400
    assert response.json()["error"]["fields"] == {"image": [message]}
    assert Product.objects.count() == 0


@pytest.mark.parametrize(("name", "make", "message"), BOMBS)
def test_predict_answers_400(api_as, seller, active_model, name, make, message):
    response = api_as(seller).post(
        "/api/v1/predict/",
        {
            "title": "lampe",
            "image": SimpleUploadedFile(name, make(), content_type="image/png"),
        },
        format="multipart",
    )
    assert response.status_code == 400
    assert response.json()["error"]["fields"] == {"image": [message]}
    assert Prediction.objects.count() == 0


@pytest.mark.parametrize(("name", "make", "message"), BOMBS)
def test_the_sell_page_shows_a_form_error(
    client_logged_in_as, seller, name, make, message
):
    category = CategoryFactory()
    response = client_logged_in_as(seller).post(
        "/products/new/",
        {
            "title": "Lampe de chevet",
            "other_category": category.pk,
            "photo": SimpleUploadedFile(name, make(), content_type="image/png"),
        },
    )
    assert response.status_code == 200
    assert message in response.content.decode()
    assert Product.objects.count() == 0


@pytest.mark.django_db
def test_the_importer_refuses_each_row(tmp_path):
    # Given a CSV whose two photos are the bombs, and one good row
    images = tmp_path / "photos"
    images.mkdir()
    (images / "narrow.png").write_bytes(narrow_png_bytes())
    (images / "thread.png").write_bytes(thread_png_bytes())
    buffer = io.BytesIO()
    Image.new("RGB", (40, 30)).save(buffer, "JPEG")
    (images / "ok.jpg").write_bytes(buffer.getvalue())
    csv_path = tmp_path / "products.csv"
    csv_path.write_text(
        "product_id,title,description,category,image\n"
        "B1,Lampe étroite,,2582,narrow.png\n"
        "B2,Fil,,2582,thread.png\n"
        "B3,Chaise,,2582,ok.jpg\n"
    )
    out, err = io.StringIO(), io.StringIO()
    # When it is imported
    call_command(
        "import_products",
        "--csv",
        str(csv_path),
        "--images",
        str(images),
        "--create-categories",
        "--no-progress",
        stdout=out,
        stderr=err,
    )
    # Then each bomb is a per-row error and the good row is stored
    assert out.getvalue() == "created 1 / updated 0 / skipped 0 / rejected 2\n"
    assert err.getvalue().splitlines() == [
        f"line 2: {TOO_NARROW}",
        f"line 3: {TOO_MANY_PIXELS}",
    ]
    assert list(Product.objects.values_list("external_id", flat=True)) == ["B3"]


@pytest.mark.parametrize(("name", "make", "message"), BOMBS)
def test_the_sell_pages_suggestions_leave_the_photo_out(
    client_logged_in_as, seller, active_model, name, make, message
):
    # When the seller's photo for suggestions is a bomb
    response = client_logged_in_as(seller).post(
        "/products/suggestions/",
        {
            "title": "roman de poche auteur",
            "description": "",
            "photo": SimpleUploadedFile(name, make(), content_type="image/png"),
        },
    )
    # Then the partial shows why, and the suggestions are for the text alone
    html = response.content.decode()
    assert response.status_code == 200
    assert message in html
    assert Prediction.objects.get().used == "text"
