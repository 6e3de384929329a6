"""Bad photos sent to the API (predict/, creating and changing a product) are a
clear 400 field error, never a 500, and nothing is stored."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from catalog.models import Product
from ml.models import Prediction
from tests.factories import CategoryFactory, ProductFactory
from tests.images import (
    SVG_BYTES,
    b64,
    decompression_bomb_png_bytes,
    jpeg_bytes,
    png_bytes,
    truncated_jpeg_bytes,
)

NOT_AN_IMAGE = "The file is not a valid or complete image."
TOO_MANY_PIXELS = "The photo has too many pixels."

# (name, file name, bytes, expected message); MAX_BYTES applies to every case.
MAX_BYTES = 20_000
BAD_FILES = [
    ("not an image", "photo.jpg", lambda: b"just some text, no pixels", NOT_AN_IMAGE),
    ("truncated jpeg", "photo.jpg", truncated_jpeg_bytes, NOT_AN_IMAGE),
    ("decompression bomb", "bomb.png", decompression_bomb_png_bytes, TOO_MANY_PIXELS),
    (
        "svg",
        "logo.svg",
        lambda: SVG_BYTES,
        "Unsupported file extension '.svg': use .jpeg, .jpg, .png, .webp.",
    ),
    (
        "over the size limit",
        "big.jpg",
        lambda: jpeg_bytes(size=(400, 400)) + b"\0" * MAX_BYTES,
        "The photo is larger than 19.5 KB.",
    ),
    (
        "wrong extension",
        "photo.jpg",
        png_bytes,
        "The file extension .jpg does not match its content (PNG).",
    ),
    (
        "no extension",
        "photo",
        jpeg_bytes,
        "Unsupported file extension '(none)': use .jpeg, .jpg, .png, .webp.",
    ),
]
BAD_BASE64 = [
    ("not base64", "%%% not base64 %%%", "Not valid base64."),
    ("svg", b64(SVG_BYTES), "The photo must be a JPEG, PNG or WebP image."),
    ("truncated jpeg", b64(truncated_jpeg_bytes()), NOT_AN_IMAGE),
    ("decompression bomb", b64(decompression_bomb_png_bytes()), TOO_MANY_PIXELS),
    (
        "over the size limit",
        b64(jpeg_bytes(size=(400, 400)) + b"\0" * MAX_BYTES),
        "The photo is larger than 19.5 KB.",
    ),
]


@pytest.fixture(autouse=True)
def small_upload_limit(settings):
    settings.PRODUCT_IMAGE_MAX_BYTES = MAX_BYTES


@pytest.fixture
def category(db):
    return CategoryFactory()


@pytest.fixture
def own_product(seller, category):
    return ProductFactory(seller=seller, category=category, title="Unchanged")


def stored_files(media_root) -> list:
    return [p for p in media_root.rglob("*") if p.is_file()]


def send(client, target, own_product, category, payload, fmt):
    if target == "predict":
        return client.post("/api/v1/predict/", {"title": "x", **payload}, format=fmt)
    if target == "create":
        return client.post(
            "/api/v1/products/",
            {"title": "New", "category": category.pk, **payload},
            format=fmt,
        )
    return client.patch(f"/api/v1/products/{own_product.pk}/", payload, format=fmt)


def assert_nothing_stored(own_product, media_root):
    assert Product.objects.count() == 1
    own_product.refresh_from_db()
    assert (own_product.title, own_product.image.name) == ("Unchanged", "")
    assert Prediction.objects.count() == 0
    assert stored_files(media_root) == []


@pytest.mark.parametrize("target", ["predict", "create", "update"])
@pytest.mark.parametrize(
    ("file_name", "content", "message"),
    [case[1:] for case in BAD_FILES],
    ids=[case[0] for case in BAD_FILES],
)
def test_bad_multipart_photo_is_a_field_error(
    api_as,
    seller,
    own_product,
    category,
    media_root,
    target,
    file_name,
    content,
    message,
):
    # Given a bad file sent as the product photo
    upload = SimpleUploadedFile(file_name, content(), content_type="image/jpeg")
    # When it is sent
    response = send(
        api_as(seller), target, own_product, category, {"image": upload}, "multipart"
    )
    # Then it is a 400 on the image field and nothing was stored
    assert response.status_code == 400
    assert response.json() == {
        "error": {
            "code": "invalid",
            "message": "The request is not valid.",
            "fields": {"image": [message]},
        }
    }
    assert_nothing_stored(own_product, media_root)


@pytest.mark.parametrize("target", ["predict", "create", "update"])
@pytest.mark.parametrize(
    ("encoded", "message"),
    [case[1:] for case in BAD_BASE64],
    ids=[case[0] for case in BAD_BASE64],
)
def test_bad_base64_photo_is_a_field_error(
    api_as, seller, own_product, category, media_root, target, encoded, message
):
    response = send(
        api_as(seller),
        target,
        own_product,
        category,
        {"image_base64": encoded},
        "json",
    )
    assert response.status_code == 400
    assert response.json()["error"]["fields"] == {"image_base64": [message]}
    assert_nothing_stored(own_product, media_root)


def test_an_empty_file_is_a_field_error(api_as, seller, category, media_root):
    upload = SimpleUploadedFile("photo.jpg", b"", content_type="image/jpeg")
    response = api_as(seller).post(
        "/api/v1/products/",
        {"title": "New", "category": category.pk, "image": upload},
        format="multipart",
    )
    assert response.status_code == 400
    assert response.json()["error"]["fields"] == {
        "image": ["The submitted file is empty."]
    }
    assert stored_files(media_root) == []


def test_a_file_sent_as_text_is_a_field_error(api_as, seller, category):
    response = api_as(seller).post(
        "/api/v1/products/",
        {"title": "New", "category": category.pk, "image": "photo.jpg"},
        format="json",
    )
    assert response.status_code == 400
    assert list(response.json()["error"]["fields"]) == ["image"]
    assert Product.objects.count() == 0


def test_a_body_over_the_request_limit_is_a_413_in_the_error_shape(
    api_as, seller, category, settings
):
    # Given a JSON body larger than Django accepts in memory
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 10_000
    response = api_as(seller).post(
        "/api/v1/products/",
        {"title": "New", "category": category.pk, "image_base64": "A" * 20_000},
        format="json",
    )
    # Then the API answers in its own error shape, and nothing is stored
    assert response.status_code == 413
    assert response.json() == {
        "error": {
            "code": "too_large",
            "message": "The request body is too large.",
            "fields": {},
        }
    }
    assert Product.objects.count() == 0
