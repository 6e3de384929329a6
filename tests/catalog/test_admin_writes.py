"""The catalogue admin writes through the services: a category changed there is a new
confirmation, audited; a photo is checked; a retired category is audited."""

import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from accounts.models import User
from audit.models import AuditEvent
from catalog.models import Category, Product
from tests.factories import CategoryFactory, ProductFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def root(db):
    return UserFactory(username="root", role=User.Role.STAFF, is_superuser=True)


@pytest.fixture
def admin_client(client_logged_in_as, root):
    return client_logged_in_as(root)


def _jpeg() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (32, 32), (200, 30, 30)).save(buffer, format="JPEG")
    return buffer.getvalue()


def _change(admin_client, product: Product, **fields):
    data = {
        "title": product.title,
        "description": product.description,
        "category": product.category_id or "",
        **fields,
    }
    return admin_client.post(f"/admin/catalog/product/{product.pk}/change/", data)


def test_changing_a_category_in_the_admin_confirms_it_and_is_audited(
    admin_client, root
):
    # Given an imported product waiting in one category, never confirmed since
    books, games = CategoryFactory(code="A1"), CategoryFactory(code="B2")
    product = ProductFactory(category=books, confirmed_at=None, title="Roman")
    # When staff move it to another category in the admin's change form
    response = _change(admin_client, product, category=games.pk)
    # Then it is saved by the service: confirmed now, and the change audited
    assert response.status_code == 302
    product.refresh_from_db()
    assert product.category == games
    assert product.confirmed_at is not None
    event = AuditEvent.objects.get()
    assert (event.verb, event.actor, event.object_type, event.object_id) == (
        "product.category_changed",
        root,
        "Product",
        str(product.pk),
    )
    assert event.data == {"old": "A1", "new": "B2"}


def test_an_unchanged_category_is_not_a_new_confirmation(admin_client):
    product = ProductFactory(confirmed_at=None)
    response = _change(admin_client, product, title="Nouveau titre")
    assert response.status_code == 302
    product.refresh_from_db()
    assert (product.title, product.confirmed_at) == ("Nouveau titre", None)
    assert AuditEvent.objects.count() == 0


def test_a_bad_photo_in_the_admin_is_a_form_error_and_nothing_changes(admin_client):
    product = ProductFactory(title="Avant")
    fake = SimpleUploadedFile("photo.jpg", b"not an image", "image/jpeg")
    response = _change(admin_client, product, title="Après", photo=fake)
    assert response.status_code == 200
    assert "photo" in response.context["adminform"].form.errors
    product.refresh_from_db()
    assert (product.title, product.image.name, product.image_sha256) == (
        "Avant",
        "",
        "",
    )


def test_a_good_photo_in_the_admin_is_stored_by_the_service(admin_client):
    product = ProductFactory()
    photo = SimpleUploadedFile("photo.jpg", _jpeg(), "image/jpeg")
    response = _change(admin_client, product, photo=photo)
    assert response.status_code == 302
    product.refresh_from_db()
    assert product.image.name.endswith(".jpg") and len(product.image_sha256) == 64


def test_a_retired_category_is_refused_in_the_admin(admin_client):
    product = ProductFactory()
    retired = CategoryFactory(active=False)
    response = _change(admin_client, product, category=retired.pk)
    assert response.status_code == 200
    assert response.context["adminform"].form.errors["category"] == [
        "This category is retired: choose an active one."
    ]
    assert Product.objects.get().category != retired


def test_deleting_a_product_in_the_admin_calls_the_service(admin_client):
    product = ProductFactory()
    response = admin_client.post(
        f"/admin/catalog/product/{product.pk}/delete/", {"post": "yes"}
    )
    assert response.status_code == 302
    assert Product.objects.count() == 0


def test_unticking_active_retires_the_category_with_an_audit_event(admin_client, root):
    category = CategoryFactory(code="C3", name="Jardin")
    response = admin_client.post(
        f"/admin/catalog/category/{category.pk}/change/", {"name": "Jardin"}
    )
    assert response.status_code == 302
    category.refresh_from_db()
    assert category.active is False
    event = AuditEvent.objects.get()
    assert (event.verb, event.actor, event.object_type, event.object_id) == (
        "category.retired",
        root,
        "Category",
        str(category.pk),
    )
    assert event.data == {}


def test_renaming_and_reactivating_are_audited(admin_client, root):
    category = CategoryFactory(code="C4", name="Jardin", active=False)
    admin_client.post(
        f"/admin/catalog/category/{category.pk}/change/",
        {"name": "Jardin et terrasse", "active": "on", "code": "HACKED"},
    )
    category.refresh_from_db()
    assert (category.code, category.name, category.active) == (
        "C4",
        "Jardin et terrasse",
        True,
    )
    assert list(
        AuditEvent.objects.order_by("id").values_list("verb", "actor", "data")
    ) == [
        ("category.renamed", root.pk, {"old": "Jardin", "new": "Jardin et terrasse"}),
        ("category.reactivated", root.pk, {}),
    ]


def test_adding_a_category_in_the_admin(admin_client):
    response = admin_client.post(
        "/admin/catalog/category/add/", {"code": "N1", "name": "Neuf", "active": "on"}
    )
    assert response.status_code == 302
    assert Category.objects.filter(code="N1", name="Neuf", active=True).exists()
